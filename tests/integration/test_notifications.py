"""Notifications end to end on the sandbox: job failure → queue → notifier → Slack, email, webhooks."""

from __future__ import annotations

import copy
import json

import pytest
from standardwebhooks.webhooks import Webhook

from sandbox import Sandbox
from tests.conftest import load

HOSTILE = "<img src=x onerror=alert(1)> <!channel> *bold* <https://evil.example|click here>"
POLICY = {
    "default": {
        "notifications": {
            "critical": {"slack": ["#ops"], "email": ["ops@example.com"], "webhooks": ["pager"]}
        }
    },
    "webhooks": {"pager": {"url": "${sandbox.receiver}/webhooks/pager"}},
}


@pytest.fixture
def sb():
    with Sandbox(serve_api=False) as sandbox:
        yield sandbox


def by_channel(outbox, channel):
    return [m for m in outbox if m["channel"] == channel]


def test_a_job_failure_sends_one_slack_message_and_one_email(sb):
    # Given the default policy (churn-train belongs to churn-models: #churn-ml and one address)
    results = sb.put_events([load("training_job/failed.json")])
    # Then one Slack message and one email, readable and correct
    assert [t["function"] for t in results[0]["targets"]] == ["report_job_failure", "record_lineage"]
    slack, email = by_channel(sb.outbox, "slack"), by_channel(sb.outbox, "email")
    assert [m["to"] for m in slack] == ["#churn-ml"]
    assert [m["to"] for m in email] == ["retention-ds@example.com"]
    assert "failed" in email[0]["subject"] and "[CRITICAL]" in email[0]["subject"]
    assert "std::bad_alloc" in email[0]["text"] or "AlgorithmError" in email[0]["text"]
    assert email[0]["html"] and email[0]["links"][0].startswith(
        "https://us-east-1.console.aws.amazon.com/sagemaker/"
    )


def test_duplicated_and_repeated_events_send_once(sb):
    failed = load("training_job/failed.json")
    sb.put_events([failed, failed, dict(failed, id="another-id-same-state")])
    assert len(by_channel(sb.outbox, "slack")) == 1
    assert len(by_channel(sb.outbox, "email")) == 1


def test_stopped_job_is_a_warning_and_completed_jobs_say_nothing(sb):
    sb.put_events([load("training_job/stopped_max_runtime.json"), load("training_job/completed.json")])
    subjects = [m["subject"] for m in by_channel(sb.outbox, "email")]
    assert len(subjects) == 1 and "stopped" in subjects[0] and "[CRITICAL]" not in subjects[0]


def test_pipeline_failure_reason_comes_from_describe_or_degrades(sb):
    result = sb.put_events([load("pipeline_execution/failed.json")])[0]
    assert all(t["ok"] for t in result["targets"])
    assert len(by_channel(sb.outbox, "slack")) == 1


def test_hostile_failure_reason_is_escaped_everywhere(sb):
    event = copy.deepcopy(load("processing_job/failed.json"))
    event["detail"]["FailureReason"] = HOSTILE
    sb.put_events([event])
    slack = by_channel(sb.outbox, "slack")[0]
    assert "<!channel>" not in json.dumps(slack["raw"]) and "<https://evil" not in json.dumps(slack["raw"])
    email = by_channel(sb.outbox, "email")[0]
    assert "<img" not in email["html"] and "&lt;img src=x" in email["html"]


def test_webhook_is_signed_verifiably_and_retried_on_429_then_5xx():
    with Sandbox(serve_api=False, policy=POLICY) as sb:
        # Given a receiver that answers 429, then 503
        sb.receiver.fail("/webhooks/pager", times=1, status=429, retry_after=0)
        sb.receiver.fail("/webhooks/pager", times=1, status=503)
        # When a job failure is notified
        sb.put_events([load("transform_job/failed.json")])
        # Then it arrives once, and the Standard Webhooks library verifies it with the stored key
        hooks = by_channel(sb.outbox, "webhook")
        assert len(hooks) == 1
        headers, body = hooks[0]["headers"], hooks[0]["body"].encode()
        secret = json.loads(
            sb.client("secretsmanager").get_secret_value(SecretId="steward/local/webhook-signing")[
                "SecretString"
            ]
        )["signing_key"]
        assert Webhook(secret).verify(body, headers)["type"] == "steward.job-failed"
        assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("msg_")


def test_permanent_webhook_failure_is_logged_not_retried_forever():
    with Sandbox(serve_api=False, policy=POLICY) as sb:
        sb.receiver.fail("/webhooks/pager", times=100, status=410)
        sb.put_events([load("transform_job/failed.json")])
        assert by_channel(sb.outbox, "webhook") == []
        assert len(by_channel(sb.outbox, "slack")) == 1  # the other targets still got it
        assert sb.dlq_messages("notify") == []
        from datetime import UTC, datetime, timedelta

        from steward.notify.adapters.store import NotificationStore

        failed = NotificationStore("steward-local-notifications").attempts(
            datetime.now(UTC) - timedelta(hours=1), failed_only=True
        )
        assert [(f["channel"], f["recipient"], f["permanent"]) for f in failed] == [
            ("webhook", "pager", True)
        ]


def test_receiver_down_then_recovered_gets_everything_after_redrive():
    with Sandbox(serve_api=False, policy=POLICY) as sb:
        # Given the webhook receiver failing every attempt, past the queue's five receives
        sb.receiver.fail("/webhooks/pager", times=1000, status=500, retry_after=0)
        sb.put_events([load("transform_job/failed.json"), load("processing_job/failed.json")])
        assert len(sb.dlq_messages("notify")) == 2
        slack_before = len(by_channel(sb.outbox, "slack"))
        # When it recovers and the DLQ is redriven
        sb.receiver._failures.clear()
        report = sb.redrive("notify")
        # Then every webhook arrives, and nothing already delivered is sent twice
        assert len(report["redriven"]) == 2
        assert len(by_channel(sb.outbox, "webhook")) == 2
        assert len(by_channel(sb.outbox, "slack")) == slack_before == 2
        assert sb.dlq_messages("notify") == []


def test_a_malformed_message_fails_alone_in_its_batch(sb):
    sqs = sb.client("sqs")
    url = sb.output("NotificationQueueUrl")
    sqs.send_message(QueueUrl=url, MessageBody='{"kind": "nonsense"}')
    sb.put_events([load("training_job/failed.json")])
    assert len(by_channel(sb.outbox, "email")) == 1  # the good one went through
    dead = sb.dlq_messages("notify")
    assert len(dead) == 1 and dead[0]["body"] == {"kind": "nonsense"}


def test_delivery_log_through_the_api_and_cli(capsys):
    from steward_cli import main

    with Sandbox(policy=POLICY) as sb:
        sb.receiver.fail("/webhooks/pager", times=100, status=404)
        sb.put_events([load("transform_job/failed.json")])
        assert main(["notifications", "--api-url", sb.api_url, "--json"]) == 0
        everything = json.loads(capsys.readouterr().out)["items"]
        assert {(i["channel"], i["status"]) for i in everything} == {
            ("slack", "sent"),
            ("email", "sent"),
            ("webhook", "failed"),
        }
        assert main(["notifications", "--failed", "--api-url", sb.api_url]) == 0
        text = capsys.readouterr().out
        assert "webhook" in text and "HTTP 404" in text and "slack" not in text


def test_warnings_of_a_digest_route_arrive_as_one_scheduled_digest():
    policy = {
        "default": {
            "notifications": {
                "critical": {"slack": ["#ops"]},
                "warning": {"slack": ["#ops"], "email": ["ops@example.com"], "digest": True},
            }
        }
    }
    with Sandbox(serve_api=False, policy=policy) as sb:
        stopped = load("training_job/stopped_max_runtime.json")
        sb.put_events([stopped, load("processing_job/stopped.json"), load("pipeline_execution/stopped.json")])
        assert sb.outbox == []  # held
        sb.run_schedules("digest")
        slack, email = by_channel(sb.outbox, "slack"), by_channel(sb.outbox, "email")
        assert len(slack) == 1 and len(email) == 1
        assert email[0]["subject"] == "[Steward] 3 warning notifications"
        assert "stopped" in email[0]["text"]
        sb.run_schedules("digest")
        assert len(sb.outbox) == 2  # released once sent


def test_updates_for_one_model_version_share_a_slack_thread(sb):
    from steward.notify.models import Kind, Notification
    from steward.policy import Severity

    # Given two notifications about the same version, to the same channel
    queue, sqs = sb.output("NotificationQueueUrl"), sb.client("sqs")
    for kind, key in ((Kind.APPROVED, "first"), (Kind.DEPLOYMENT_STARTED, "second")):
        note = Notification(
            kind=kind,
            severity=Severity.CRITICAL,
            subject=f"churn-models v3 {key}",
            dedupe_key=key,
            model_group="churn-models",
            model_version=3,
            thread_key="churn-models/3",
        )
        sqs.send_message(QueueUrl=queue, MessageBody=note.model_dump_json())
        sb.drain()
    # Then the second is posted in the thread the first started (bot token: chat.postMessage)
    first, second = by_channel(sb.outbox, "slack")
    assert first["thread"] is None and second["thread"] == first["ts"]


def test_a_send_to_one_target_is_claimed_by_one_invocation_at_a_time(sb):
    from steward.notify.adapters.store import NotificationStore

    clock = [1_000_000.0]
    store = NotificationStore(sb.output("NotificationsTableName"), clock=lambda: clock[0])
    assert store.claim("k", 3600) == (True, set())
    # One invocation takes the send; a copy of the message finds it in flight, until the lease runs out
    assert store.claim_target("k", "email:a@example.com", 60) == "claimed"
    assert store.claim_target("k", "email:a@example.com", 60) == "in-flight"
    assert store.claim_target("k", "slack:#ops", 60) == "claimed"  # each target apart
    clock[0] += 61
    assert store.claim_target("k", "email:a@example.com", 60) == "claimed"
    # Once marked it is delivered, for everyone; a given-back claim is free again at once
    store.mark("k", "email:a@example.com")
    assert store.claim_target("k", "email:a@example.com", 60) == "delivered"
    store.release_target("k", "slack:#ops")
    assert store.claim_target("k", "slack:#ops", 60) == "claimed"
    assert store.claim("k", 3600) == (False, {"email:a@example.com"})
