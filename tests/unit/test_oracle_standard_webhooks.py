"""Steward's webhooks, checked by the official Standard Webhooks library (`standardwebhooks`).

The library is what a receiver runs: `Webhook(secret).verify(body, headers)` with the secret exactly as
the stack stores it. The spec's secrets are base64, optionally `whsec_`-prefixed; the library decodes
them so. `webhook-id` is the spec's idempotency key: one id per message, on every retry.
"""

from __future__ import annotations

import base64
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse
from standardwebhooks.webhooks import Webhook

from steward.notify.adapters import channels
from steward.notify.deliver import DeliveryError, RetryLaterError, Target, deliver
from steward.notify.models import Kind, Notification
from steward.policy import Severity, parse_policy
from tests.conftest import REPO

POLICY = parse_policy(
    {
        "default": {"notifications": {"critical": {"webhooks": ["pager", "audit"]}}},
        "webhooks": {
            "pager": {"url": "https://hooks.example.com/pager"},
            "audit": {"url": "https://audit.example.com/steward"},
        },
    }
)
ONE_HOOK = parse_policy(
    {
        "default": {"notifications": {"critical": {"webhooks": ["pager"]}}},
        "webhooks": {"pager": {"url": "https://hooks.example.com/pager"}},
    }
)
SECRET_NAME = "steward/dev/webhook-signing"
RAW_KEY = base64.b64encode(b"\x8f" * 32).decode()  # a key as operators are told to make one


def note(**overrides: Any) -> Notification:
    base: dict[str, Any] = {
        "kind": Kind.JOB_FAILED,
        "severity": Severity.CRITICAL,
        "subject": "Training job x failed",
        "dedupe_key": "job-failed:x",
        "created_at": datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
    }
    return Notification(**{**base, **overrides})


@pytest.fixture
def posted(monkeypatch):
    """What the webhook channel would POST (url, headers, body), with the signing key of `stored`."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        channels,
        "post_json",
        lambda url, body, headers, raw: (
            sent.append({"url": url, "headers": headers, "body": raw}) or (200, b"")
        ),
    )
    return sent


def use_key(monkeypatch, stored: str) -> None:
    monkeypatch.setattr(
        channels, "_secret", lambda name: {"signing_key": stored} if name == SECRET_NAME else {}
    )


def send(target: str = "pager", n: Notification | None = None) -> dict[str, Any]:
    return channels.WebhookChannel(POLICY.webhooks, SECRET_NAME).send(Target("webhook", target), n or note())


@pytest.mark.parametrize(
    "stored",
    [
        "whsec_" + RAW_KEY,  # the spec's own format
        RAW_KEY,  # raw base64, as CloudFormation can store it (no prefix)
        RAW_KEY.rstrip("="),  # unpadded base64, which the library also accepts
        "whsec_" + base64.b64encode(b"k" * 24).decode(),  # the spec's minimum, 24 bytes
        "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48)),  # the template's
        RAW_KEY + "\n",  # pasted with a newline
    ],
    ids=["whsec", "raw-base64", "unpadded", "24-bytes", "template-generated", "trailing-newline"],
)
def test_a_webhook_verifies_with_the_standard_webhooks_library(monkeypatch, posted, stored):
    # Given a signing key stored in one of the forms the spec's libraries read
    use_key(monkeypatch, stored)
    # When Steward sends a webhook
    send()
    # Then the official library verifies it with the key exactly as stored
    (request,) = posted
    assert Webhook(stored).verify(request["body"], request["headers"])["type"] == "steward.job-failed"


@pytest.mark.parametrize(
    "stored",
    ["correct horse battery staple", "a-b_c-d_e-f_g-h_i-j_k-l_m-n_o-p_q-r_", "whsec_%%%", "abcde", "whsec_"],
    ids=["passphrase", "url-safe-base64", "whsec-not-base64", "bad-length", "empty-after-prefix"],
)
def test_a_legacy_non_base64_key_fails_permanently_naming_the_secret(monkeypatch, posted, stored):
    # Given a signing key that is not base64 (a key set before Steward followed the spec)
    use_key(monkeypatch, stored)
    # When Steward would send a webhook
    with pytest.raises(DeliveryError) as caught:
        send()
    # Then nothing is sent with a signature no receiver could verify; the error is permanent and says
    # which secret to fix and how
    assert posted == []
    assert caught.value.permanent
    assert (
        SECRET_NAME in str(caught.value) and "base64" in str(caught.value) and "whsec_" in str(caught.value)
    )


def test_the_signing_key_is_read_as_the_library_reads_it():
    # Given keys in each accepted form
    for stored in ("whsec_" + RAW_KEY, RAW_KEY, RAW_KEY.rstrip("=")):
        # When Steward reads one
        # Then it is the very key the library uses
        assert channels.signing_key(stored) == Webhook(stored)._whsecret


def _template_generator() -> dict[str, Any]:
    template = yaml_parse((REPO / "template.yaml").read_text())
    return template["Resources"]["WebhookSigningSecret"]["Properties"]["GenerateSecretString"]


def test_the_stack_generates_keys_that_are_valid_base64_of_24_to_64_bytes():
    # Given the template's GenerateSecretString for the webhook key (CloudFormation cannot add whsec_)
    gen = _template_generator()
    length = int(gen["PasswordLength"])
    # When Secrets Manager generates a key with those properties (GetRandomPassword, as CloudFormation
    # does; moto implements its character classes)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        options = {k: v for k, v in gen.items() if k not in ("SecretStringTemplate", "GenerateStringKey")}
        keys = [sm.get_random_password(**options)["RandomPassword"] for _ in range(50)]
    # Then every key is base64 (letters and digits only, a length that is a multiple of 4) decoding to
    # between 24 and 64 bytes, and verifies with the library
    assert gen.get("ExcludePunctuation") is True and not gen.get("IncludeSpace")
    assert length % 4 == 0 and 24 <= length * 3 // 4 <= 64
    for key in keys:
        assert len(key) == length and key.isascii() and key.isalnum()
        assert 24 <= len(base64.b64decode(key, validate=True)) <= 64
        body = b'{"type":"steward.job-failed"}'
        headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(datetime.now(UTC).timestamp()))}
        headers["webhook-signature"] = channels.sign_webhook(
            key, "msg_1", int(headers["webhook-timestamp"]), body
        )
        Webhook(key).verify(body, headers)


# --- webhook-id: one per message, kept through retries and redeliveries ----------------------------


class Log:
    """The delivery log's dedupe markers, with a window that can be made to expire."""

    def __init__(self) -> None:
        self.markers: dict[str, set[str]] = {}

    def claim(self, key: str, window: int) -> tuple[bool, set[str]]:
        is_new = key not in self.markers
        self.markers.setdefault(key, set())
        return is_new, set(self.markers[key])

    def expire(self, key: str) -> None:
        self.markers.pop(key, None)

    def claim_target(self, key: str, target: str, lease_seconds: int) -> str:
        return "delivered" if target in self.markers.get(key, set()) else "claimed"  # one invocation here

    def release_target(self, key: str, target: str) -> None:
        pass

    def mark(self, key: str, target: str) -> None:
        self.markers[key].add(target)

    def complete(self, key: str) -> None:
        self.mark(key, "*complete")

    def record(self, attempt: dict[str, Any]) -> None:
        pass

    def hold_for_digest(self, bucket: str, notification: Notification) -> None:
        raise AssertionError("no digest routes here")


class FlakyWebhooks:
    """The real webhook channel, its POSTs failing transiently `failures` times first."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.ids: list[tuple[str, str]] = []

    def send(self, target: Target, n: Notification) -> dict[str, Any]:
        result = channels.WebhookChannel(POLICY.webhooks, SECRET_NAME).send(target, n)
        self.ids.append((target.address, result["webhookId"]))
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("HTTP 503 after 3 attempts", permanent=False)
        return result


def test_a_redelivered_webhook_keeps_its_webhook_id(monkeypatch, posted):
    # Given a webhook that fails transiently twice (the queue redelivers the message each time)
    use_key(monkeypatch, RAW_KEY)
    log, hooks = Log(), FlakyWebhooks(failures=2)
    for _ in range(2):
        with pytest.raises(RetryLaterError):
            deliver(note(), ONE_HOOK, log, {"webhook": hooks})
    # When the third delivery succeeds
    deliver(note(), ONE_HOOK, log, {"webhook": hooks})
    # Then all three attempts carried the same webhook-id, and each verified
    assert len({i for _, i in hooks.ids}) == 1 and len(hooks.ids) == 3
    assert {p["headers"]["webhook-id"] for p in posted} == {hooks.ids[0][1]}
    for request in posted:
        Webhook(RAW_KEY).verify(request["body"], request["headers"])


def test_a_duplicate_of_the_notification_within_the_window_keeps_the_webhook_id(monkeypatch, posted):
    # Given a notification whose webhook failed once, then the same notification produced again (a
    # duplicate event, or a digest re-run) with a later creation time
    use_key(monkeypatch, RAW_KEY)
    log, hooks = Log(), FlakyWebhooks(failures=1)
    with pytest.raises(RetryLaterError):
        deliver(note(), POLICY, log, {"webhook": hooks})
    later = note(created_at=datetime(2026, 11, 27, 3, 5, tzinfo=UTC))
    # When the duplicate is delivered
    deliver(later, POLICY, log, {"webhook": hooks})
    # Then the receiver sees the same id for the same message to the same webhook
    pager = [i for target, i in hooks.ids if target == "pager"]
    assert len(pager) == 2 and len(set(pager)) == 1


def test_each_webhook_gets_its_own_id(monkeypatch, posted):
    # Given a route with two webhooks
    use_key(monkeypatch, RAW_KEY)
    hooks = FlakyWebhooks(failures=0)
    # When one notification is delivered
    deliver(note(), POLICY, Log(), {"webhook": hooks})
    # Then the two messages have different ids
    assert {t for t, _ in hooks.ids} == {"pager", "audit"} and len({i for _, i in hooks.ids}) == 2


def test_the_same_alert_after_the_dedupe_window_is_a_new_message(monkeypatch, posted):
    # Given an alarm alert delivered once
    use_key(monkeypatch, RAW_KEY)
    log, hooks = Log(), FlakyWebhooks(failures=0)
    deliver(note(dedupe_key="alarm:a:ALARM"), POLICY, log, {"webhook": hooks})
    # When the same alarm fires again a day later, after the dedupe window
    log.expire("alarm:a:ALARM")
    again = note(dedupe_key="alarm:a:ALARM", created_at=datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
    deliver(again, POLICY, log, {"webhook": hooks})
    # Then it carries a new id (a receiver deduplicating by webhook-id must not drop it)
    pager = [i for target, i in hooks.ids if target == "pager"]
    assert len(pager) == 2 and pager[0] != pager[1]


def test_a_redrive_after_the_window_keeps_the_original_webhook_id(monkeypatch, posted):
    # Given a message that failed and sat in the dead-letter queue past the dedupe window
    use_key(monkeypatch, RAW_KEY)
    log, hooks = Log(), FlakyWebhooks(failures=1)
    with pytest.raises(RetryLaterError):
        deliver(note(), POLICY, log, {"webhook": hooks})
    log.expire("job-failed:x")
    # When it is redriven (the same message body)
    deliver(note(), POLICY, log, {"webhook": hooks})
    # Then it is still the same message to the receiver
    pager = [i for target, i in hooks.ids if target == "pager"]
    assert len(pager) == 2 and len(set(pager)) == 1


def test_the_webhook_timestamp_is_fresh_on_each_delivery(monkeypatch, posted):
    # Given a webhook sent, then sent again ten minutes later (the same message, redelivered)
    use_key(monkeypatch, RAW_KEY)
    clock = [1_800_000_000.0]
    monkeypatch.setattr(channels.time, "time", lambda: clock[0])
    send()
    clock[0] += 600
    send()
    # Then each carries its own timestamp (the library refuses one over 5 minutes old) and the same id
    first, second = posted
    assert int(second["headers"]["webhook-timestamp"]) - int(first["headers"]["webhook-timestamp"]) == 600
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


def test_a_webhook_id_is_stable_without_the_delivery_log_too(monkeypatch, posted):
    # Given the channel used directly (no `deliver`, so no recorded occurrence)
    use_key(monkeypatch, RAW_KEY)
    # When the same notification is sent twice
    first, second = send()["webhookId"], send()["webhookId"]
    # Then the id is derived from the notification, not drawn at random
    assert first == second and first.startswith("msg_")
    assert send(n=note(created_at=datetime.now(UTC) - timedelta(days=1)))["webhookId"] != first
