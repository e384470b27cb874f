"""Approval links as capabilities: HMAC-signed tokens, the confirmation form's anti-forgery value (pure).

A token is `base64url(payload JSON) "." base64url(HMAC-SHA256(key[kid], payload bytes))`, no padding.
The payload binds one approval request (`rid`), one approver (`sub`), an expiry (`exp`, epoch seconds)
and a random nonce (`n`, the single-use handle the caller writes conditionally). `kid` names the key,
so keys rotate: the active key signs new links, older keys stay in `keys` until their links expire.

Tokens are bearer secrets: never log one (log `token_fingerprint(token)`), and nothing here puts a
token, or any part of one, into an exception message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal

TOKEN_VERSION: Final = 1
MAX_TOKEN_LENGTH: Final = 2048
MIN_KEY_BYTES: Final = 16  # below this HMAC-SHA256's strength is the key's, not the hash's
NONCE_BYTES: Final = 16
CSRF_BUCKET_SECONDS: Final = 3600  # a confirmation page's form stays valid for 1-2 buckets

TokenErrorReason = Literal["malformed", "forged", "expired", "unknown-key"]

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.:@+=/-]{1,128}")  # kid and nonce: printable, URL- and log-safe
_PAYLOAD_KEYS: Final = frozenset({"v", "kid", "rid", "sub", "exp", "n"})


class TokenError(Exception):
    """A link token was refused; `reason` is one of malformed, forged, expired, unknown-key."""

    def __init__(self, reason: TokenErrorReason, claims: LinkClaims | None = None) -> None:
        self.reason: TokenErrorReason = reason
        # A genuine link that expired still says whose it was, so its use can be audited.
        self.claims = claims
        # The message is the reason alone: the token is a bearer secret and exceptions get logged.
        super().__init__(f"approval link refused: {reason}")


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link grants: `approver` may decide `request_id` until `expires_at`."""

    request_id: str
    approver: str
    expires_at: int
    nonce: str
    key_id: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict unpadded base64url: any other spelling (padding, stray bits) is refused as malformed."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero trailing bits decode to the same bytes; refusing them keeps one spelling per token.
    if _b64encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _sign(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def issue_token(
    keys: dict[str, bytes],
    active_key_id: str,
    request_id: str,
    approver: str,
    expires_at: int,
    nonce: str | None = None,
) -> str:
    """Sign a link for `approver` on `request_id`, valid until `expires_at` (epoch seconds).

    `nonce` defaults to 16 random bytes (base64url); pass one only to re-create a known link in tests.
    Raises ValueError for a missing or short key, empty ids, or a token that would exceed the maximum.
    """
    key = keys.get(active_key_id)
    if key is None:
        raise ValueError("the active key id is not among the keys")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"signing keys must be at least {MIN_KEY_BYTES} bytes")
    if not _SAFE_TEXT.fullmatch(active_key_id):
        raise ValueError("key ids are 1-128 characters of [A-Za-z0-9_.:@+=/-]")
    if not request_id or not approver:
        raise ValueError("request_id and approver must be non-empty")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int):
        raise TypeError("expires_at must be integer epoch seconds")
    nonce = _b64encode(secrets.token_bytes(NONCE_BYTES)) if nonce is None else nonce
    if not _SAFE_TEXT.fullmatch(nonce):
        raise ValueError("nonces are 1-128 characters of [A-Za-z0-9_.:@+=/-]")
    payload = {
        "v": TOKEN_VERSION,
        "kid": active_key_id,
        "rid": request_id,
        "sub": approver,
        "exp": expires_at,
        "n": nonce,
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode("ascii")
    token = f"{_b64encode(body)}.{_b64encode(_sign(key, body))}"
    if len(token) > MAX_TOKEN_LENGTH:
        # Never hand out a link that verify_token would refuse.
        raise ValueError(f"token longer than {MAX_TOKEN_LENGTH} characters")
    return token


def verify_token(keys: dict[str, bytes], token: str, now: int) -> LinkClaims:
    """Return the claims of a genuine, unexpired token; raise TokenError(reason) otherwise.

    Any key in `keys` is accepted by its id (rotation). Single use is not checked here: the caller
    records `nonce` with a conditional write when the decision is made.
    """
    # Bound the work an attacker can ask of us before any parsing.
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed")
    parts = token.split(".")
    if len(parts) != 2:
        raise TokenError("malformed")
    try:
        body = _b64decode(parts[0])
        signature = _b64decode(parts[1])
        payload: Any = json.loads(body)
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        # `from None`: decoder errors can quote their input, and chained tracebacks get logged.
        raise TokenError("malformed") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("kid"), str):
        raise TokenError("malformed")

    key = keys.get(payload["kid"])
    if key is None:
        raise TokenError("unknown-key")
    # Authenticate before trusting any other field; compare_digest keeps the comparison constant-time.
    if not hmac.compare_digest(_sign(key, body), signature):
        raise TokenError("forged")

    claims = _claims(payload)
    if now >= claims.expires_at:
        raise TokenError("expired", claims)
    return claims


def _claims(payload: dict[str, Any]) -> LinkClaims:
    """The claims of an authenticated payload; one we signed but cannot read is still malformed."""
    exp = payload.get("exp")
    fields = (payload.get("rid"), payload.get("sub"), payload.get("n"))
    if (
        set(payload) != _PAYLOAD_KEYS
        or payload.get("v") != TOKEN_VERSION
        or isinstance(exp, bool)
        or not isinstance(exp, int)
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise TokenError("malformed")
    return LinkClaims(
        request_id=payload["rid"],
        approver=payload["sub"],
        expires_at=exp,
        nonce=payload["n"],
        key_id=payload["kid"],
    )


def csrf_bucket(now: int) -> int:
    """The time bucket `csrf_token` and `verify_csrf` take: `now // CSRF_BUCKET_SECONDS`."""
    return now // CSRF_BUCKET_SECONDS


def csrf_token(key: bytes, link_token_nonce: str, now_bucket: int) -> str:
    """The hidden form value of a confirmation page: HMAC(key, "csrf:" + nonce + ":" + bucket).

    Use the key that signed the link (`keys[claims.key_id]`) and `csrf_bucket(now)`. Bound to the
    link's nonce, the value only comes from rendering that link's page, so a POST built elsewhere
    (a forged form, a scanner replaying the URL) is refused.
    """
    message = f"csrf:{link_token_nonce}:{now_bucket}".encode()
    return _b64encode(_sign(key, message))


def verify_csrf(key: bytes, link_token_nonce: str, value: str, now_bucket: int) -> bool:
    """True when `value` is the page's anti-forgery value for this nonce, this bucket or the previous.

    Accepting the previous bucket lets a page opened just before a bucket boundary still submit.
    """
    if not isinstance(value, str) or not value or len(value) > 128:
        return False
    candidate = value.encode("utf-8", "replace")
    # Check both buckets without short-circuiting, so timing says nothing about which one matched.
    matches = [
        hmac.compare_digest(csrf_token(key, link_token_nonce, bucket).encode("ascii"), candidate)
        for bucket in (now_bucket, now_bucket - 1)
    ]
    return any(matches)


def token_fingerprint(token: str) -> str:
    """A short, log-safe handle for a token: the first 16 hex digits of its SHA-256."""
    return "tok-" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]
