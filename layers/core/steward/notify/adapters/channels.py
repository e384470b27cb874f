"""Delivery channels: Slack (bot token or incoming webhook), email (SES v2), signed webhooks.

HTTP goes through `post_json`, on urllib3 (already loaded by botocore before any delivery, so importing
it here costs nothing; it is imported on first use, not with the handler): 429 and 5xx are retried with
backoff, honouring Retry-After in seconds or as an HTTP date (bounded, so a Lambda never sleeps its
timeout away); other 4xx are permanent, redirects are not followed. Secrets come from Secrets Manager
via Powertools Parameters (cached for five minutes) and are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from email.message import EmailMessage
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from steward.kernel.aws.clients import client, error_code
from steward.notify import render
from steward.notify.deliver import DeliveryError, Target, message_id, occurrence_of
from steward.notify.models import Notification

MAX_ATTEMPTS = 3
MAX_WAIT_SECONDS = 5.0
BACKOFF_FACTOR = 0.2  # urllib3: no wait before the first retry, 0.4 s before the second, doubling
TIMEOUT_SECONDS = 10.0
RETRIED_STATUSES = frozenset({429, *range(500, 600)})
MAX_RESPONSE_BYTES = 1_000_000


def _secret(name: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


@cache
def _retry_class() -> Any:
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    class BoundedRetry(Retry):
        """urllib3's Retry, with Retry-After also read as decimal seconds, an unreadable one falling back
        to the backoff, every wait at most MAX_WAIT_SECONDS, and only RETRIED_STATUSES retried (urllib3
        would also retry a 413 that carries Retry-After)."""

        RETRY_AFTER_STATUS_CODES = frozenset()

        def parse_retry_after(self, retry_after: str) -> float:
            if re.fullmatch(r"\s*[0-9]+\.[0-9]+\s*", retry_after):
                return float(min(MAX_WAIT_SECONDS, float(retry_after)))
            return float(min(MAX_WAIT_SECONDS, super().parse_retry_after(retry_after)))

        def get_retry_after(self, response: Any) -> float | None:
            try:
                return super().get_retry_after(response)
            except InvalidHeader:
                return None

    return BoundedRetry


def _retry() -> Any:
    return _retry_class()(
        total=MAX_ATTEMPTS - 1,
        redirect=False,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=frozenset({"POST"}),  # POSTs are retried: a webhook-id lets receivers deduplicate
        backoff_factor=BACKOFF_FACTOR,
        backoff_max=MAX_WAIT_SECONDS,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


@cache
def _pool(proxy: str | None) -> Any:
    """One connection pool per process (kept alive across invocations), through the proxy the
    environment names, as urllib.request would have used."""
    import urllib3

    if proxy:
        return urllib3.ProxyManager(proxy, num_pools=4, maxsize=4)
    return urllib3.PoolManager(num_pools=4, maxsize=4)


def _proxy_for(url: str) -> str | None:
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    return None if not proxy or proxy_bypass(parts.hostname or "") else proxy


def post_json(
    url: str, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, bytes]:
    """POST with bounded retries on 429/5xx (Retry-After honoured up to MAX_WAIT_SECONDS)."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise DeliveryError("refusing a non-https URL", permanent=True)  # no file:, no plain http off-box
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import LocationValueError, MaxRetryError

    data = raw if raw is not None else json.dumps(body).encode()
    try:
        response = _pool(_proxy_for(url)).request(
            "POST",
            url,
            body=data,
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
            retries=_retry(),
            timeout=TIMEOUT_SECONDS,
            preload_content=False,
        )
    except LocationValueError:
        raise DeliveryError("not a usable URL", permanent=True) from None
    except MaxRetryError as exc:
        raise DeliveryError(f"network: {exc.reason} after {MAX_ATTEMPTS} attempts", permanent=False) from None
    except Urllib3Error as exc:
        raise DeliveryError(f"network: {type(exc).__name__}", permanent=False) from None
    try:
        content = response.read(MAX_RESPONSE_BYTES)
    finally:
        response.release_conn()
    status = int(response.status)
    if 200 <= status < 300:
        return status, content
    if status in RETRIED_STATUSES:
        raise DeliveryError(f"HTTP {status} after {MAX_ATTEMPTS} attempts", permanent=False)
    raise DeliveryError(f"HTTP {status}: {content[:200].decode(errors='replace')}", permanent=True)


class SlackChannel:
    """Bot token: chat.postMessage, threaded per model version. Else the incoming webhook(s) of the secret."""

    def __init__(self, secret_name: str, threads: Any) -> None:
        self.secret_name = secret_name
        self.threads = threads

    def send(self, target: Target, n: Notification) -> dict[str, Any]:
        secret = _secret(self.secret_name)
        message = render.slack_message(n, target.address)
        token = secret.get("bot_token")
        if token:
            base = str(secret.get("api_base_url") or "https://slack.com/api").rstrip("/")
            thread = self.threads.thread(n.thread_key, target.address) if n.thread_key else None
            if thread:
                message["thread_ts"] = thread
            _, body = post_json(f"{base}/chat.postMessage", message, {"Authorization": f"Bearer {token}"})
            answer = json.loads(body or b"{}")
            if not answer.get("ok"):
                error = str(answer.get("error", "unknown"))
                raise DeliveryError(
                    f"slack: {error}", permanent=error not in ("ratelimited", "internal_error")
                )
            if n.thread_key and not thread and answer.get("ts"):
                self.threads.set_thread(n.thread_key, target.address, str(answer["ts"]))
            return {"ts": answer.get("ts"), "thread": thread}
        url = (secret.get("channel_webhooks") or {}).get(target.address) or secret.get("webhook_url")
        if not url:
            raise DeliveryError("slack: no bot_token or webhook_url in the Slack secret", permanent=True)
        message.pop("channel")
        post_json(url, message)
        return {}


class EmailChannel:
    """SES v2 with a multipart/alternative message (plain text and HTML)."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def send(self, target: Target, n: Notification) -> dict[str, Any]:
        message = EmailMessage()
        message["Subject"] = render.email_subject(n)
        message["From"] = self.sender
        message["To"] = target.address
        message["X-Steward-Kind"] = n.kind.value
        message.set_content(render.email_text(n))
        message.add_alternative(render.email_html(n), subtype="html")
        try:
            response = client("sesv2").send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [target.address]},
                Content={"Raw": {"Data": message.as_bytes()}},
            )
        except Exception as exc:
            code = error_code(exc)
            if code in (
                "MessageRejected",
                "BadRequestException",
                "MailFromDomainNotVerifiedException",
                "AccountSuspendedException",
                "SendingPausedException",
                "NotFoundException",
            ):
                raise DeliveryError(f"ses: {code}", permanent=True) from exc
            raise DeliveryError(f"ses: {code or type(exc).__name__}", permanent=False) from exc
        return {"messageId": response.get("MessageId")}


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def signing_key(stored: str) -> bytes:
    """The HMAC key of a stored Standard Webhooks secret, read as the spec's libraries read it: base64
    (standard alphabet, padding optional), optionally prefixed `whsec_`. Surrounding whitespace is
    ignored. Anything else (a legacy passphrase, URL-safe base64) raises ValueError: signing with some
    other reading of it would send signatures no receiver's library accepts."""
    text = stored.strip().removeprefix("whsec_")
    if not text or not _BASE64.fullmatch(text) or len(text.rstrip("=")) % 4 == 1:
        raise ValueError("not base64")
    try:
        key = base64.b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if not key:
        raise ValueError("empty")
    return key


def sign_webhook(secret: str | bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")). A str secret is a
    stored key (base64, optionally whsec_-prefixed: see `signing_key`); bytes are the key itself."""
    key = signing_key(secret) if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class WebhookChannel:
    """JSON POST signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature).

    webhook-id is the message's idempotency key: the same on every retry and redelivery of one
    notification to one webhook (`Target.message_id`, set by `deliver`), so receivers can deduplicate.
    """

    def __init__(self, policy_webhooks: dict[str, Any], default_secret_name: str | None) -> None:
        self.webhooks = policy_webhooks
        self.default_secret_name = default_secret_name

    def send(self, target: Target, n: Notification) -> dict[str, Any]:
        hook = self.webhooks.get(target.address)
        if hook is None:
            raise DeliveryError(f"webhook {target.address!r} is not defined in the policy", permanent=True)
        secret_name = hook.secret_name or self.default_secret_name
        stored = str(_secret(secret_name).get("signing_key", "")) if secret_name else ""
        if not stored.strip():
            raise DeliveryError(
                f"webhook {target.address!r}: no signing_key in secret {secret_name!r}", permanent=True
            )
        try:
            key = signing_key(stored)
        except ValueError as exc:
            raise DeliveryError(
                f"webhook {target.address!r}: the signing_key in secret {secret_name!r} is {exc}; "
                "Standard Webhooks keys are base64, optionally whsec_-prefixed: store a new one "
                "(e.g. whsec_ and the base64 of 32 random bytes) and give it to the receiver",
                permanent=True,
            ) from None
        body = json.dumps(render.webhook_body(n), separators=(",", ":")).encode()
        webhook_id = target.message_id or message_id(occurrence_of(n), target)
        timestamp = int(time.time())
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(key, webhook_id, timestamp, body),
        }
        post_json(hook.url, None, headers, raw=body)
        return {"webhookId": webhook_id}


def channels_for(policy: Any, store: Any) -> dict[str, Any]:
    """The delivery channels, configured from settings (notify and send_digests share them)."""
    from steward.kernel.settings import Channels, get_settings

    settings = get_settings(Channels)
    return {
        "slack": SlackChannel(settings.slack_secret_name, store),
        "email": EmailChannel(settings.sender_email),
        "webhook": WebhookChannel(policy.webhooks, settings.webhook_secret_name),
    }
