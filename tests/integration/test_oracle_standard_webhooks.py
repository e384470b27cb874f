"""Webhooks end to end on the sandbox, checked by the official Standard Webhooks library.

Every request that reaches the receiver is captured (failed attempts included) and verified with
`standardwebhooks` using the signing key read from the sandbox's Secrets Manager, as the stack stores
it; the webhook-id must be the same on every attempt at one message.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from sandbox import Sandbox
from tests.conftest import load

POLICY = {
    "default": {"notifications": {"critical": {"slack": ["#ops"], "webhooks": ["pager"]}}},
    "webhooks": {"pager": {"url": "${sandbox.receiver}/webhooks/pager"}},
}
SECRET_ID = "steward/local/webhook-signing"


@pytest.fixture
def sb():
    with Sandbox(serve_api=False, policy=POLICY) as sandbox:
        yield sandbox


def every_webhook_request(sb: Sandbox) -> list[dict[str, Any]]:
    """Each request the receiver gets under /webhooks/, before it decides to fail it or not."""
    arrivals: list[dict[str, Any]] = []
    handle = sb.receiver._handle

    def capturing(path: str, headers: dict[str, str], body: bytes) -> Any:
        if path.startswith("/webhooks/"):
            arrivals.append({"headers": {k.lower(): v for k, v in headers.items()}, "body": body})
        return handle(path, headers, body)

    sb.receiver._handle = capturing  # type: ignore[method-assign]
    return arrivals


def stored_key(sb: Sandbox) -> str:
    value = sb.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"]
    return str(json.loads(value)["signing_key"])


def failed_attempts(sb: Sandbox) -> list[dict[str, Any]]:
    from steward.notify.adapters.store import NotificationStore

    return NotificationStore("steward-local-notifications").attempts(
        datetime.now(UTC) - timedelta(hours=1), failed_only=True
    )


def test_the_stack_stores_a_signing_key_in_the_spec_format(sb):
    # Given the key the stack generated (CloudFormation's GenerateSecretString; no whsec_ prefix)
    key = stored_key(sb)
    # When it is read as the spec's libraries read it
    # Then it is valid base64 of 24 to 64 bytes (the library would silently read other text otherwise)
    assert 24 <= len(base64.b64decode(key, validate=True)) <= 64


def test_a_webhook_retried_after_503s_keeps_its_id_and_every_attempt_verifies(sb):
    # Given a receiver that answers 503 twice
    arrivals = every_webhook_request(sb)
    sb.receiver.fail("/webhooks/pager", times=2, status=503)
    # When a job failure is notified
    sb.put_events([load("transform_job/failed.json")])
    # Then three attempts arrived with one webhook-id, each verified by the library with the stored key
    assert len(arrivals) == 3
    assert len({a["headers"]["webhook-id"] for a in arrivals}) == 1
    webhook = Webhook(stored_key(sb))
    for arrival in arrivals:
        assert webhook.verify(arrival["body"], arrival["headers"])["type"] == "steward.job-failed"
    assert len([m for m in sb.outbox if m["channel"] == "webhook"]) == 1


def test_a_webhook_redelivered_by_the_queue_keeps_its_id(sb):
    # Given a receiver failing longer than one delivery's attempts (the message goes back to the queue)
    arrivals = every_webhook_request(sb)
    sb.receiver.fail("/webhooks/pager", times=4, status=503)
    # When a job failure is notified, and the queue redelivers it
    sb.put_events([load("transform_job/failed.json")])
    # Then every attempt of both deliveries carried the same webhook-id, and the last one got through
    assert len(arrivals) == 5
    assert len({a["headers"]["webhook-id"] for a in arrivals}) == 1
    webhook = Webhook(stored_key(sb))
    for arrival in arrivals:
        webhook.verify(arrival["body"], arrival["headers"])
    assert len([m for m in sb.outbox if m["channel"] == "slack"]) == 1  # served once, not per redelivery


@pytest.mark.parametrize(
    "operator_key",
    ["whsec_" + base64.b64encode(b"\x01" * 32).decode(), base64.b64encode(b"\x02" * 32).decode()],
    ids=["whsec", "raw-base64"],
)
def test_an_operator_set_key_keeps_working(sb, operator_key):
    # Given an operator who replaced the generated key with their own (prefixed or not)
    sb.client("secretsmanager").put_secret_value(
        SecretId=SECRET_ID, SecretString=json.dumps({"signing_key": operator_key})
    )
    arrivals = every_webhook_request(sb)
    # When a job failure is notified
    sb.put_events([load("transform_job/failed.json")])
    # Then the receiver verifies it with that key, as given
    (arrival,) = arrivals
    Webhook(operator_key).verify(arrival["body"], arrival["headers"])


def test_a_legacy_non_base64_key_is_a_permanent_failure_naming_the_secret(sb):
    # Given a signing key that is not base64 (set by hand before Steward followed the spec)
    sb.client("secretsmanager").put_secret_value(
        SecretId=SECRET_ID, SecretString=json.dumps({"signing_key": "correct-horse-battery-staple!"})
    )
    arrivals = every_webhook_request(sb)
    # When a job failure is notified
    sb.put_events([load("transform_job/failed.json")])
    # Then no webhook is sent with a signature no receiver could verify, the failure is recorded as
    # permanent naming the secret, the other targets are served, and nothing is left to retry
    assert arrivals == []
    (failed,) = failed_attempts(sb)
    assert failed["channel"] == "webhook" and failed["permanent"] is True
    assert "webhook-signing" in failed["error"] and "base64" in failed["error"]
    assert len([m for m in sb.outbox if m["channel"] == "slack"]) == 1
    assert sb.dlq_messages("notify") == []
