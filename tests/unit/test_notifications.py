"""Notifications with fakes: routing, rendering hostile text, dedupe, retries, permanent failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from steward.adapters.channels import sign_webhook
from steward.notify import render
from steward.notify.deliver import DeliveryError, RetryLaterError, Target, deliver, plan
from steward.notify.models import Fact, Kind, Link, Notification
from steward.policy import PolicyError, Severity, parse_policy

POLICY = parse_policy(
    {
        "default": {
            "notifications": {
                "critical": {"slack": ["#ops"], "email": ["ops@example.com"]},
                "info": {"slack": ["#activity"]},
            }
        },
        "groups": {
            "churn-models": {
                "pipelines": ["churn-train"],
                "notifications": {
                    "critical": {"slack": ["#churn"], "email": ["ds@example.com"], "webhooks": ["pager"]}
                },
            }
        },
        "webhooks": {"pager": {"url": "https://hooks.example.com/steward"}},
    }
)
HOSTILE = "<script>alert(1)</script> <!channel> <https://evil.example|click> & \x07\u202e"


def note(**overrides):
    base = {
        "kind": Kind.JOB_FAILED,
        "severity": Severity.CRITICAL,
        "subject": "Training job x failed",
        "dedupe_key": "job-failed:x",
        "model_group": "churn-models",
    }
    return Notification(**{**base, **overrides})


class FakeLog:
    def __init__(self):
        self.markers, self.records, self.completed = {}, [], set()

    def claim(self, key, window):
        is_new = key not in self.markers
        self.markers.setdefault(key, set())
        return is_new, set(self.markers[key]) | ({"*complete"} if key in self.completed else set())

    def mark(self, key, target):
        self.markers[key].add(target)

    def complete(self, key):
        self.completed.add(key)

    def record(self, attempt):
        self.records.append(attempt)


class FakeChannel:
    def __init__(self, failures=None):
        self.sent, self.failures = [], dict(failures or {})

    def send(self, target, notification):
        if self.failures.get(target.address):
            raise (
                self.failures[target.address].pop(0)
                if isinstance(self.failures[target.address], list)
                else self.failures[target.address]
            )
        self.sent.append(target.address)
        return {}


def test_routes_by_group_and_severity_with_default_fallback():
    assert [t.key for t in plan(note(), POLICY)] == ["slack:#churn", "email:ds@example.com", "webhook:pager"]
    assert [t.key for t in plan(note(model_group="unknown"), POLICY)] == [
        "slack:#ops",
        "email:ops@example.com",
    ]
    assert plan(note(model_group=None, severity=Severity.WARNING), POLICY) == []  # no warning route: nothing
    assert [t.key for t in plan(note(recipients=["a@example.com", "U123"]), POLICY)] == [
        "email:a@example.com",
        "slack:U123",
    ]


def test_a_duplicate_sends_once():
    log, slack = FakeLog(), FakeChannel()
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    deliver(note(), POLICY, log, channels)
    second = deliver(note(), POLICY, log, channels)
    assert second.deduplicated
    assert slack.sent == ["#churn"]
    assert log.records[-1]["status"] == "deduplicated"


def test_transient_failure_retries_only_the_failed_target():
    log = FakeLog()
    email = FakeChannel({"ds@example.com": [DeliveryError("HTTP 503", permanent=False)]})
    slack = FakeChannel()
    channels = {"slack": slack, "email": email, "webhook": FakeChannel()}
    with pytest.raises(RetryLaterError):
        deliver(note(), POLICY, log, channels)
    deliver(note(), POLICY, log, channels)  # the queue redelivers
    assert slack.sent == ["#churn"]  # not twice
    assert email.sent == ["ds@example.com"]


def test_permanent_failure_is_recorded_and_not_retried():
    log = FakeLog()
    channels = {
        "slack": FakeChannel(),
        "webhook": FakeChannel(),
        "email": FakeChannel({"ds@example.com": DeliveryError("ses: MessageRejected", permanent=True)}),
    }
    report = deliver(note(), POLICY, log, channels)
    assert report.failed[0]["target"] == "email:ds@example.com"
    assert next(r for r in log.records if r["status"] == "failed")["permanent"] is True
    assert "note" not in log.completed and "job-failed:x" in log.completed


def test_slack_rendering_escapes_mrkdwn_and_drops_control_characters():
    message = render.slack_message(note(summary=HOSTILE, facts=[Fact(label="Reason", value=HOSTILE)]), "#c")
    text = json.dumps(message)
    assert "<!channel>" not in text and "<https://evil" not in text and "<script>" not in text
    assert "&lt;!channel&gt;" in text
    assert "\\u0007" not in text and "\\u202e" not in text
    assert message["unfurl_links"] is False


def test_email_html_is_escaped_and_has_a_text_part():
    n = note(
        subject=f"Job {HOSTILE}",
        summary=HOSTILE,
        links=[Link(text=HOSTILE, url="https://x.example/?a=1&b=<2>")],
    )
    html = render.email_html(n)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in html
    assert "\n" not in render.email_subject(note(subject="a\r\nBcc: evil@example.com"))
    assert "Training job x failed" in render.email_text(note())


def test_long_text_is_cut_with_a_marker():
    cut = render.clean("x" * 5000, 100)
    assert len(cut) == 100 and cut.endswith(render.TRUNCATED)


def test_links_must_be_web_links():
    with pytest.raises(ValueError, match="http"):
        Link(text="x", url="javascript:alert(1)")


def test_webhook_signature_is_verifiable_the_standard_webhooks_way():
    key = base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"steward.job-failed"}'
    signature = sign_webhook("whsec_" + key, "msg_1", 1700000000, body)
    expected = base64.b64encode(
        hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    ).decode()
    assert signature == f"v1,{expected}"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            {"default": {"notifications": {"critical": {"email": ["not-an-address"]}}}},
            "default.notifications.critical.email",
        ),
        ({"default": {}, "groups": {"g": {"notifications": {"loud": {}}}}}, "groups.g.notifications.loud"),
        ({"default": {}, "dedupe_window_seconds": 5}, "dedupe_window_seconds"),
        ({"default": {}, "webhooks": {"w": {"url": "http://example.com"}}}, "webhooks.w.url"),
        ({}, "default"),
    ],
)
def test_bad_policy_names_the_field(document, field):
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)
    assert any(e.startswith(field) for e in caught.value.errors), caught.value.errors


def test_undefined_webhook_is_rejected():
    with pytest.raises(PolicyError, match="no webhook 'nope'"):
        parse_policy({"default": {"notifications": {"info": {"webhooks": ["nope"]}}}})


def test_shipped_default_policy_is_valid():
    from steward.policy import DEFAULT_POLICY_FILE

    assert parse_policy(DEFAULT_POLICY_FILE.read_text()).group_of_pipeline("churn-train") == "churn-models"


def test_target_keys_are_stable():
    assert Target("email", "a@b.c").key == "email:a@b.c"


class FakeDigestLog(FakeLog):
    def __init__(self):
        super().__init__()
        self.buckets = {}

    def hold_for_digest(self, bucket, notification):
        self.buckets.setdefault(bucket, []).append((f"{len(self.buckets.get(bucket, []))}", notification))

    def held(self, bucket):
        return list(self.buckets.get(bucket, []))

    def release(self, bucket, keys):
        self.buckets[bucket] = [(k, n) for k, n in self.buckets.get(bucket, []) if k not in keys]


DIGEST_POLICY = parse_policy(
    {
        "default": {
            "notifications": {"critical": {"slack": ["#ops"]}, "warning": {"slack": ["#ops"], "digest": True}}
        },
    }
)


def test_digest_routes_hold_then_send_one_message():
    from steward.notify.digest import send_digests

    log, slack = FakeDigestLog(), FakeChannel()
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    for i in range(3):
        report = deliver(
            note(severity=Severity.WARNING, dedupe_key=f"w{i}", subject=f"stopped {i}"),
            DIGEST_POLICY,
            log,
            channels,
        )
        assert report.digested
    deliver(note(dedupe_key="c"), DIGEST_POLICY, log, channels)  # critical is never held
    assert slack.sent == ["#ops"]
    sent = send_digests(DIGEST_POLICY, log, channels)
    assert sent == [{"bucket": "*default#warning", "count": 3}]
    assert slack.sent == ["#ops", "#ops"]
    assert log.held("*default#warning") == []
    assert send_digests(DIGEST_POLICY, log, channels) == []  # nothing held: nothing sent


def test_critical_routes_cannot_be_digested():
    with pytest.raises(PolicyError, match="critical is never held back"):
        parse_policy({"default": {"notifications": {"critical": {"slack": ["#x"], "digest": True}}}})
