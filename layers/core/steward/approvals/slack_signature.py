"""Slack request signatures (signing secret, v0 scheme), checked before any Slack button is honoured.

Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with HMAC-SHA256 under the app's signing
secret and sends `v0=<hex digest>` in X-Slack-Signature. The timestamp is inside the signed string,
so refusing timestamps outside a 5-minute window makes a captured request useless once it is stale.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

DEFAULT_TOLERANCE_SECONDS: Final = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would also take " 1", "+1", "\u0661"
_MAX_SIGNATURE_LENGTH: Final = 128


def verify_slack_signature(
    signing_secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `signature` is Slack's v0 signature of `body` at `timestamp`, within ±`tolerance` s.

    `body` must be the raw request body exactly as received (not re-encoded form or JSON).
    """
    if not signing_secret or not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    if (
        not isinstance(signature, str)
        or not signature.startswith("v0=")
        or len(signature) > _MAX_SIGNATURE_LENGTH
    ):
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + bytes(body)
    expected = "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest raises TypeError on non-ASCII str, which a hostile header can be.
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))
