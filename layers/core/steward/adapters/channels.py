"""Delivery channels: Slack (bot token or incoming webhook), email (SES v2), signed webhooks.

HTTP goes through `post_json`: retries on 429 and 5xx with backoff, honouring Retry-After (bounded, so a
Lambda never sleeps its timeout away); other 4xx are permanent. Secrets come from Secrets Manager via
Powertools Parameters (cached for five minutes) and are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from email.message import EmailMessage
from typing import Any

from steward.adapters.clients import client, error_code
from steward.notify import render
from steward.notify.deliver import DeliveryError, Target
from steward.notify.models import Notification

MAX_ATTEMPTS = 3
MAX_WAIT_SECONDS = 5.0


def _secret(name: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


def post_json(
    url: str, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, bytes]:
    """POST with bounded retries on 429/5xx (Retry-After honoured up to MAX_WAIT_SECONDS)."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise DeliveryError("refusing a non-https URL", permanent=True)  # no file:, no plain http off-box
    data = raw if raw is not None else json.dumps(body).encode()
    last = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, last = exc.code, f"HTTP {exc.code}"
            if status != 429 and status < 500:
                raise DeliveryError(
                    f"{last}: {exc.read()[:200].decode(errors='replace')}", permanent=True
                ) from None
            wait = _retry_after(exc.headers.get("Retry-After"), attempt)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last, wait = f"network: {getattr(exc, 'reason', exc)}", _retry_after(None, attempt)
        if attempt < MAX_ATTEMPTS:
            time.sleep(wait)
    raise DeliveryError(f"{last} after {MAX_ATTEMPTS} attempts", permanent=False)


def _retry_after(header: str | None, attempt: int) -> float:
    backoff = float(min(MAX_WAIT_SECONDS, 0.2 * 2**attempt))
    if header is None:
        return backoff
    try:
        return float(min(MAX_WAIT_SECONDS, max(0.0, float(header))))
    except ValueError:  # an HTTP-date Retry-After: fall back to our own backoff
        return backoff


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


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")); whsec_ keys are base64."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class WebhookChannel:
    """JSON POST signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature)."""

    def __init__(self, policy_webhooks: dict[str, Any], default_secret_name: str | None) -> None:
        self.webhooks = policy_webhooks
        self.default_secret_name = default_secret_name

    def send(self, target: Target, n: Notification) -> dict[str, Any]:
        hook = self.webhooks.get(target.address)
        if hook is None:
            raise DeliveryError(f"webhook {target.address!r} is not defined in the policy", permanent=True)
        secret_name = hook.secret_name or self.default_secret_name
        key = str(_secret(secret_name).get("signing_key", "")) if secret_name else ""
        if not key:
            raise DeliveryError(f"webhook {target.address!r}: no signing key", permanent=True)
        body = json.dumps(render.webhook_body(n), separators=(",", ":")).encode()
        message_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(key, message_id, timestamp, body),
        }
        post_json(hook.url, None, headers, raw=body)
        return {"webhookId": message_id}


def channels_for(policy: Any, store: Any) -> dict[str, Any]:
    """The delivery channels, configured from settings (notify and send_digests share them)."""
    from steward.settings import get_settings

    settings = get_settings()
    return {
        "slack": SlackChannel(settings.slack_secret_name, store),
        "email": EmailChannel(settings.sender_email),
        "webhook": WebhookChannel(policy.webhooks, settings.webhook_secret_name),
    }
