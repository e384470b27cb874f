"""The sandbox's IAM settings (modes and their environment variables) and errors."""

from __future__ import annotations

import logging
import os

ENV_MODE = "STEWARD_SANDBOX_IAM"
ENV_USAGE = "STEWARD_SANDBOX_IAM_USAGE"  # a file each sandbox appends its usage to (JSON lines)
ENV_DROP = "STEWARD_SANDBOX_IAM_DROP"  # "function:Sid,...": statements every sandbox removes (a policy test)
MODES = ("enforce", "soft", "off")
_PARAMS = "steward_iam_params"
log = logging.getLogger("sandbox.iam")


class IamError(RuntimeError):
    """The template holds IAM the sandbox cannot evaluate faithfully (it says so rather than guess)."""


class AccessDeniedError(RuntimeError):
    """Raised by Sandbox.stop() in enforce mode when a call was denied during the run."""


def mode_from(value: str | None) -> str:
    mode = (value or os.environ.get(ENV_MODE) or "enforce").strip().lower()
    if mode not in MODES:
        raise ValueError(f"IAM mode {mode!r}: one of {', '.join(MODES)} ({ENV_MODE})")
    return mode
