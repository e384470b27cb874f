"""The sandbox's own error (every part raises it; `from sandbox import SandboxError`)."""


class SandboxError(RuntimeError):
    pass
