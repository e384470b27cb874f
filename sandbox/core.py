"""Where `Sandbox` lived before the sandbox was split into parts: kept so `sandbox.core` imports work."""

from sandbox.facade import DEFAULT_TEMPLATE, REPO_ROOT, Sandbox, SandboxError

__all__ = ["DEFAULT_TEMPLATE", "REPO_ROOT", "Sandbox", "SandboxError"]
