"""Every Slack message Steward renders, checked by slack_sdk's Block Kit models and Slack's limits.

Slack answers `invalid_blocks` to a message over a limit, and Steward treats that as permanent: the
alert would be dropped. The limits apply to the text as sent, after `& < >` are escaped, so each kind of
notification is built here by the code that builds it in production, from worst-case input
(attacker-controlled text made of `&<>`, huge descriptions, hundreds of violations, long names).
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from steward.approvals import service as approvals
from steward.approvals.gate import Check, GateResult
from steward.approvals.models import ApprovalRequest, Decision
from steward.events import parse_event
from steward.monitoring.alarms import AlarmFacts
from steward.monitoring.notifications import Serving, alarm_alert, report_error_alert, violations_alert
from steward.monitoring.report import Violation
from steward.monitoring.retraining import RetrainingOutcome
from steward.notify import render
from steward.notify.digest import send_digests
from steward.notify.jobs import job_failure
from steward.notify.models import Action, Fact, Kind, Link, Notification
from steward.policy import Severity, parse_policy
from steward.promotion import service as promotion
from steward.promotion.models import Deployment
from tests.conftest import load

SPECIALS = "&<>" * 342  # 1 KB of the three characters Slack escapes: 4.3 KB once escaped
LONG_NAME = "n" * 63 + "-" + "&" * 190  # model groups are short; descriptions, tags and reasons are not
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = parse_policy({"default": {"notifications": {"warning": {"slack": ["#ops"], "digest": True}}}})

SECTION_TEXT_MAX, FIELD_MAX, FIELDS_MAX, HEADER_MAX, BUTTON_TEXT_MAX, BLOCKS_MAX = 3000, 2000, 10, 150, 75, 50
FALLBACK_TEXT_MAX = 4000  # chat.postMessage: "limit the text field to 4,000 characters"
_BROKEN_ESCAPE = re.compile(r"&(?!amp;|lt;|gt;)")


def units(text: str) -> int:
    """UTF-16 code units, never fewer than characters: the stricter reading of Slack's limits."""
    return len(text.encode("utf-16-le")) // 2


def texts(raw: Any) -> list[dict[str, Any]]:
    """Every text object in a block, however deeply nested."""
    found = []
    if isinstance(raw, dict):
        if raw.get("type") in ("plain_text", "mrkdwn") and "text" in raw:
            found.append(raw)
        for value in raw.values():
            found += texts(value)
    elif isinstance(raw, list):
        for value in raw:
            found += texts(value)
    return found


def assert_slack_accepts(message: dict[str, Any]) -> None:
    """slack_sdk's models parse and validate every block; the limits slack_sdk does not check hold too."""
    blocks = message["blocks"]
    assert 0 < len(blocks) <= BLOCKS_MAX
    assert message["text"].strip() and units(message["text"]) <= FALLBACK_TEXT_MAX
    for raw in blocks:
        block = Block.parse(copy.deepcopy(raw))
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError over a limit
        if raw["type"] == "header":
            assert units(raw["text"]["text"]) <= HEADER_MAX
        if raw["type"] == "section":
            assert "text" not in raw or units(raw["text"]["text"]) <= SECTION_TEXT_MAX
            assert len(raw.get("fields", [])) <= FIELDS_MAX
            assert all(units(f["text"]) <= FIELD_MAX for f in raw.get("fields", []))
        for element in raw.get("elements", []):
            if element.get("type") == "button":
                assert units(element["text"]["text"]) <= BUTTON_TEXT_MAX
        for text in texts(raw):
            assert text["text"].strip(), raw  # Slack refuses an empty text
            if text["type"] == "mrkdwn":
                assert "<" not in text["text"] and ">" not in text["text"]
                assert not _BROKEN_ESCAPE.search(text["text"]), text["text"][-40:]  # no "&am" cut short


def rendered(notification: Notification) -> dict[str, Any]:
    return render.slack_message(notification, "#ops")


# --- the notifications, each built by the code that builds it ------------------------------------


def job_failed() -> Notification:
    raw = copy.deepcopy(load("training_job/failed.json"))
    raw["detail"]["FailureReason"] = SPECIALS
    raw["detail"]["TrainingJobName"] = "t" * 63
    note = job_failure(parse_event(raw), POLICY, sagemaker=None)  # type: ignore[arg-type]
    assert note is not None
    return note


def training_rules() -> Notification:
    from steward.notify.jobs import rule_findings

    raw = copy.deepcopy(load("training_job/completed.json"))
    raw["detail"]["DebugRuleEvaluationStatuses"] = [
        {
            "RuleConfigurationName": f"Rule{i}-" + "r" * 200,
            "RuleEvaluationStatus": "IssuesFound" if i % 2 else "Error",
            "StatusDetails": SPECIALS,
        }
        for i in range(30)
    ]
    note = rule_findings(parse_event(raw), POLICY)
    assert note is not None
    return note


def pipeline_failed() -> Notification:
    class Describer:
        def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]:
            return {"FailureReason": SPECIALS * 3}

    note = job_failure(parse_event(load("pipeline_execution/failed.json")), POLICY, Describer())
    assert note is not None
    return note


def request(**overrides: Any) -> ApprovalRequest:
    base: dict[str, Any] = {
        "id": "ebe0f4e0-0000-4000-8000-000000000000",
        "package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5",
        "group": "churn-models",
        "version": 5,
        "registered_by": SPECIALS[:300],
        "description": SPECIALS * 50,  # a huge model description
        "approvers": ["alice@example.com"],
        "quorum": 1,
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=3),
        "gate": GateResult(
            passed=True,
            decision="request-approval",
            checks=[Check(metric=f"m&<>{i}" * 20, value=0.9, passed=True, rule=">= 0.88") for i in range(40)],
        ),
    }
    return ApprovalRequest(**{**base, **overrides})


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> str:
        self.sent.append(notification)
        return "id"


def deps(outbox: Outbox | None = None) -> approvals.Deps:
    return approvals.Deps(
        store=None,  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        reports=None,  # type: ignore[arg-type]
        lineage=None,  # type: ignore[arg-type]
        outbox=outbox or Outbox(),
        keys={"k1": b"k" * 32},
        active_key="k1",
        api_base_url="https://api.example.com/prod",
    )


def approval_requested() -> Notification:
    return approvals._request_notification(request(), "alice@example.com", deps(), "arn:x/churn-models/3")


def approval_requested_in_slack() -> Notification:
    buttons = [
        Action(action_id="steward_approve", text="Approve", value="r" * 200, style="primary"),
        Action(action_id="steward_reject", text="Reject", value="r" * 200, style="danger"),
    ]
    return approval_requested().model_copy(update={"recipients": ["U01ALICE"], "actions": buttons})


def approval_reminder() -> Notification:
    outbox = Outbox()
    approvals._remind(request(), deps(outbox), "24h", ["alice@example.com"])
    (note,) = outbox.sent
    assert note.kind is Kind.APPROVAL_REMINDER
    return note


def decision(status: str) -> Notification:
    decisions = [
        Decision(
            approver=f"{i}{'&' * 40}@example.com",
            decision="approve" if status == "approved" else "reject",
            channel="link",
            comment=SPECIALS[:1000],
            at=NOW,
        )
        for i in range(10)
    ]
    return approvals._outcome_notification(request(status=status, decisions=decisions))


def expired() -> Notification:
    return approvals._expiry_notification(request(on_expiry="reject"))


def deployment(kind: Kind) -> Notification:
    d = Deployment(
        id="d1",
        endpoint="e" * 63,
        endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/" + "e" * 63,
        group="churn-models",
        stage="prod",
        stage_index=1,
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5",
        version=5,
        approved_by=[f"{i}&@example.com" for i in range(50)],
        requested_by=SPECIALS,
        reason=SPECIALS * 4,
        warnings=[SPECIALS] * 3,
        previous_version=3,
        previous_config=SPECIALS[:200],
        failure_reason=SPECIALS * 4,
        status="failed" if kind is Kind.DEPLOYMENT_FAILED else "succeeded",
        created_at=NOW,
    )
    return promotion._notification(d, kind)


def integration_test(passed: bool) -> Notification:
    """A stage's integration test with the most cases shown, each with hostile names and problems."""
    cases = [{"name": SPECIALS[:100], "passed": False, "problems": [SPECIALS * 3] * 5} for _ in range(20)]
    result = {
        "passed": passed,
        "cases": 100,
        "failedCases": 0 if passed else 100,
        "calls": 10_000,
        "latencyP50Ms": 1e9,
        "latencyP95Ms": float("inf") if not passed else 1.0,
        "problems": [SPECIALS * 4] * 5,
        "results": cases,
    }
    from steward.promotion.models import Deployment as _D

    tested = _D.model_validate({**promotion_deployment_fields(), "integration_test": result})
    return promotion._test_notification(tested)


def promotion_deployment_fields() -> dict:
    return {
        "id": "d1",
        "endpoint": "e" * 63,
        "endpoint_arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/" + "e" * 63,
        "group": "churn-models" + SPECIALS[:100],
        "stage": "staging",
        "stage_index": 0,
        "package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5",
        "version": 5,
        "requested_by": SPECIALS,
        "status": "succeeded",
        "created_at": NOW,
    }


SERVING = Serving(
    endpoint="churn-prod" + "&" * 53,
    region="us-east-1",
    account="123456789012",
    config=SPECIALS[:300],
    packages=tuple(
        f"arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/{i}" for i in range(30)
    ),
    group="churn-models",
    version=5,
)


def violations() -> Notification:
    many = [
        Violation(feature=f"f&{i}" * 10, check="data_type_check", description=SPECIALS) for i in range(500)
    ]
    return violations_alert(
        "arn:exec/1",
        "n" * 63,
        SPECIALS[:200],
        many,
        50,
        "s3://bucket/" + "k&" * 400,
        SERVING,
        RetrainingOutcome(status="failed", reason=SPECIALS),
        "event-1",
    )


def report_error() -> Notification:
    return report_error_alert("arn:exec/1", "n" * 63, SPECIALS, "s3://bucket/report", SERVING, "event-1")


def alarm(recovered: bool) -> Notification:
    facts = AlarmFacts(
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + "a" * 200,
        name="a&<>" * 60,
        state="OK" if recovered else "ALARM",
        previous="ALARM",
        reason=SPECIALS * 3,
        nature="errors",
        metrics=tuple(f"ns&/metric<{i}>" for i in range(40)),
        endpoint="churn-prod",
        mapped_by="tag:" + SPECIALS[:100],
    )
    note = alarm_alert(facts, SERVING, True, RetrainingOutcome(status="skipped", reason=SPECIALS), "event-1")
    assert note is not None
    return note


class DigestStore:
    def __init__(self, held: list[Notification]) -> None:
        self._held = [(f"{i:04d}", n) for i, n in enumerate(held)]
        self.markers: dict[str, set[str]] = {}

    def held(self, bucket: str) -> list[tuple[str, Notification]]:
        return list(self._held)

    def release(self, bucket: str, keys: list[str]) -> None:
        self._held = []

    def claim(self, key: str, window: int) -> tuple[bool, set[str]]:
        return key not in self.markers, self.markers.setdefault(key, set())

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
        raise AssertionError("a digest is never held")


class Capture:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, target: Any, notification: Notification) -> dict[str, Any]:
        self.sent.append(notification)
        return {}


def digest() -> Notification:
    held = [
        Notification(
            kind=Kind.JOB_FAILED,
            severity=Severity.WARNING,
            subject=SPECIALS[:250],
            dedupe_key=f"k{i}",
            created_at=NOW,
        )
        for i in range(120)
    ]
    capture = Capture()
    send_digests(POLICY, DigestStore(held), {"slack": capture})  # type: ignore[dict-item]
    (note,) = capture.sent
    assert note.kind is Kind.DIGEST
    return note


BUILDERS = {
    "job-failed": job_failed,
    "training-rule-issues": training_rules,
    "pipeline-failed": pipeline_failed,
    "approval-requested": approval_requested,
    "approval-requested-with-buttons": approval_requested_in_slack,
    "approval-reminder": approval_reminder,
    "approved": lambda: decision("approved"),
    "rejected": lambda: decision("rejected"),
    "approval-expired": expired,
    "deployment-started": lambda: deployment(Kind.DEPLOYMENT_STARTED),
    "deployment-succeeded": lambda: deployment(Kind.DEPLOYMENT_SUCCEEDED),
    "deployment-failed": lambda: deployment(Kind.DEPLOYMENT_FAILED),
    "deployment-rolled-back": lambda: deployment(Kind.DEPLOYMENT_ROLLED_BACK),
    "integration-test-passed": lambda: integration_test(True),
    "integration-test-failed": lambda: integration_test(False),
    "monitor-violation": violations,
    "monitor-report-error": report_error,
    "alarm": lambda: alarm(recovered=False),
    "alarm-recovered": lambda: alarm(recovered=True),
    "digest": digest,
}


def test_every_kind_of_notification_has_a_worst_case_here():
    # Given the kinds a notification can be
    # When the builders above are listed
    kinds = {BUILDERS[name]().kind for name in BUILDERS}
    # Then every kind is covered (a new kind must be added here, with its worst case)
    assert kinds == set(Kind)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_kind_renders_blocks_slack_accepts_from_worst_case_input(name):
    # Given a notification of this kind built from hostile and oversized input
    note = BUILDERS[name]()
    # When it is rendered for Slack
    message = rendered(note)
    # Then slack_sdk's Block Kit models accept every block, and every limit holds after escaping
    assert_slack_accepts(message)


def test_a_failure_reason_of_1kb_of_escaped_characters_stays_within_the_section_limit():
    # Given a training job whose FailureReason is 1 KB of "&<>" (4.3 KB once escaped)
    note = job_failed()
    # When it is rendered
    message = rendered(note)
    summary = next(b for b in message["blocks"] if b["type"] == "section" and "text" in b)["text"]["text"]
    # Then the summary is cut to Slack's 3000 after escaping, visibly, at a whole escape
    assert len(summary) <= SECTION_TEXT_MAX and summary.endswith(render.TRUNCATED)
    assert summary.startswith("&amp;&lt;&gt;&amp;")
    Block.parse(next(b for b in message["blocks"] if b["type"] == "section")).validate_json()


def test_the_reason_field_stays_within_the_field_limit_after_escaping():
    # Given the same failure, whose reason is also a fact
    message = rendered(job_failed())
    fields = [f["text"] for b in message["blocks"] for f in b.get("fields", [])]
    reason = next(f for f in fields if f.startswith("*Reason*"))
    # Then the field is at most 2000 once escaped, and ends with the marker
    assert len(reason) <= FIELD_MAX and reason.endswith(render.TRUNCATED)


@pytest.mark.parametrize("cut_at", range(1, 12))
def test_a_cut_never_splits_an_escape_sequence(cut_at):
    # Given text whose escapes straddle every possible cut position
    text = "x" * cut_at + "&" * 50
    # When it is escaped and cut to a limit that falls inside an escape
    limit = cut_at + len(render.TRUNCATED) + 3
    out = render.slack_text(text, limit)
    # Then the escaped text fits the limit, and only whole escapes remain before the marker
    assert len(out) <= limit and out.endswith(render.TRUNCATED)
    body = out[: -len(render.TRUNCATED)]
    assert not _BROKEN_ESCAPE.search(body) and body.replace("&amp;", "") == "x" * cut_at


def test_more_than_ten_facts_are_split_over_sections_not_dropped():
    # Given a digest listing twenty held notifications as facts
    note = digest()
    assert len(note.facts) == 20
    # When it is rendered
    message = rendered(note)
    sections = [b for b in message["blocks"] if "fields" in b]
    # Then all twenty are shown, ten fields a section at most
    assert [len(s["fields"]) for s in sections] == [10, 10]
    assert_slack_accepts(message)


def test_text_that_sanitizes_to_nothing_still_renders_valid_blocks():
    # Given a notification whose every text is control or bidi characters only
    blank = "\x07\u202e\x1b[31m\u200f"
    note = Notification(
        kind=Kind.ALARM,
        severity=Severity.CRITICAL,
        subject=blank,
        summary=blank,
        facts=[Fact(label=blank, value=blank)],
        links=[Link(text=blank, url="https://console.aws.amazon.com/")],
        dedupe_key="blank",
    )
    # When it is rendered
    message = rendered(note)
    # Then no text object is empty (Slack refuses one), and the blocks are valid
    assert_slack_accepts(message)
    assert not any(b["type"] == "section" and "text" in b for b in message["blocks"])  # no empty summary


def test_a_link_too_long_for_a_slack_button_is_named_not_sent():
    # Given a link longer than Slack's 3000-character button URL (the model allows 8000)
    note = Notification(
        kind=Kind.JOB_FAILED,
        severity=Severity.CRITICAL,
        subject="Training job x failed",
        links=[Link(text="Open", url="https://console.aws.amazon.com/" + "a" * 4000)],
        dedupe_key="long-link",
    )
    # When it is rendered
    message = rendered(note)
    # Then the button is left out (Slack would refuse the whole message) and the context says so
    assert not any(b["type"] == "actions" for b in message["blocks"])
    assert "1 link too long for Slack" in message["blocks"][-1]["elements"][0]["text"]
    assert_slack_accepts(message)


def test_astral_characters_count_twice_towards_the_limits():
    # Given a summary of 2000 emoji (4000 UTF-16 code units)
    note = Notification(
        kind=Kind.ALARM, severity=Severity.CRITICAL, subject="x", summary="\U0001f6a8" * 2000, dedupe_key="e"
    )
    # When it is rendered
    summary = rendered(note)["blocks"][1]["text"]["text"]
    # Then it fits 3000 code units, the stricter reading of Slack's limit
    assert units(summary) <= SECTION_TEXT_MAX and summary.endswith(render.TRUNCATED)


_ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("&<>*_~`|!@#\n\t\r \x00\x07\x1b\x85\x9b\u200e\u202e\u2066\u2028\U0001f6a8é"),
        st.characters(codec="utf-8"),
    ),
    max_size=4000,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_ANY_TEXT, summary=_ANY_TEXT, facts=st.lists(st.tuples(_ANY_TEXT, _ANY_TEXT), max_size=20))
def test_any_text_renders_blocks_slack_accepts(subject, summary, facts):
    # Given any text at all in every field, even past the model's own limits (model_construct)
    note = Notification.model_construct(
        kind=Kind.JOB_FAILED,
        severity=Severity.CRITICAL,
        subject=subject or "x",
        summary=summary,
        facts=[Fact.model_construct(label=label, value=value) for label, value in facts],
        links=[Link.model_construct(text=subject, url="https://console.aws.amazon.com/")],
        actions=[],
        model_group=subject[:300] or None,
        model_version=None,
        dedupe_key="any",
    )
    # When it is rendered
    # Then Slack would accept it
    assert_slack_accepts(rendered(note))
