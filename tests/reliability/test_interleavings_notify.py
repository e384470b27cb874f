"""Notifications under interleavings of their AWS calls: the same notification in two SQS batches handled
at once (SQS delivers at least once; two pollers can hold copies) is sent once to each target; with
either invocation dying between two calls and its batch delivered again, each target still gets it, and
twice only where the crash fell between that target's send and the record of it (Slack and SES take no
idempotency key; a webhook's second delivery carries the same webhook-id, for its receiver to drop).
Seeded sample in `make test`; `make explore` (STEWARD_EXPLORE=all) for every order and crash point."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.interleave import Outcome, Race, check
from tests.integration.test_notifications import POLICY
from tests.reliability.explorer import emails

TARGETS = {"slack": "#ops", "email": "ops@example.com", "webhook": "pager"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(policy=POLICY, serve_api=False, parallel=True) as sandbox:
        yield sandbox


def _batch(sb: Sandbox, body: str) -> dict[str, Any]:
    queue = sb.output("NotificationQueueUrl").rsplit("/", 1)[-1]
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),  # another copy of the message: its own id and receipt
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                "awsRegion": "us-east-1",
            }
        ]
    }


def _notify(sb: Sandbox, batch: dict[str, Any]) -> dict[str, Any]:
    return sb.invoke("notify", batch)


def _comes_back(answer: dict[str, Any]) -> bool:
    """Whether SQS delivers the batch's message again: its item failed (a whole batch of one failing
    is the invocation failing)."""
    return not answer["ok"] or bool((answer.get("result") or {}).get("batchItemFailures"))


def _redeliver_later(sb: Sandbox, batch: dict[str, Any]) -> dict[str, Any]:
    """What SQS does with an item the batch reported failed: delivers it again once the queue's
    visibility timeout (180 s, longer than a send's claim) has passed."""
    import time
    from unittest import mock

    with mock.patch("steward.notify.adapters.store._now", return_value=time.time() + 181):
        return _notify(sb, batch)


def _sent(sb: Sandbox, subject: str) -> dict[str, Counter[str]]:
    """Per channel: how many times each recipient got the notification (webhooks: per webhook-id)."""
    received = [
        r for r in sb.receiver.records if subject in str(r.get("subject")) or subject in str(r.get("body"))
    ]
    return {
        "slack": Counter(str(r["to"]) for r in received if r["channel"] == "slack"),
        "email": Counter(emails(subject)),
        "webhook": Counter(str(r["to"]) for r in received if r["channel"] == "webhook"),
        "webhook-ids": Counter(
            str(r["headers"].get("webhook-id")) for r in received if r["channel"] == "webhook"
        ),
    }


def test_the_same_notification_in_two_batches_at_once_is_sent_once_per_target(sb):
    from steward.notify.models import Kind, Notification
    from steward.policy import Severity

    numbers = count()

    def race() -> Race:
        subject = f"explorer note {next(numbers)}"
        note = Notification(
            kind=Kind.JOB_FAILED, severity=Severity.CRITICAL, subject=subject, dedupe_key=subject
        )
        batches = [_batch(sb, note.model_dump_json()) for _ in range(2)]
        return Race([lambda: _notify(sb, batches[0]), lambda: _notify(sb, batches[1])], (subject, batches))

    def invariant(state: tuple[str, list[dict[str, Any]]], outcome: Outcome) -> None:
        subject, batches = state
        assert outcome.errors == [None, None], outcome.errors
        for batch, answer in zip(batches, outcome.results, strict=True):
            if _comes_back(answer):  # a copy that found a send in flight elsewhere (or a crashed one's)
                again = _redeliver_later(sb, batch)
                assert not _comes_back(again), again
        sent = _sent(sb, subject)
        for channel, recipient in TARGETS.items():
            times = sent[channel][recipient]
            if not any(outcome.crashed):
                assert times == 1, (channel, sent)
            else:  # at least once; twice only when a crash cut a send off from its record
                assert times in (1, 2), (channel, sent)
        assert len(sent["webhook-ids"]) == 1, sent  # every delivery of it: one webhook-id

    check("the same notification in two batches at once", race, invariant)
