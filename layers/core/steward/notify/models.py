"""The notification contract every function enqueues (none calls Slack or SES inline)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.kernel.text import TRUNCATED
from steward.policy import Severity

MAX_TEXT = 3000
MAX_KEY = 500


def _cut(limit: int) -> Any:
    """Text longer than its field is cut with a visible marker, not refused: subjects and facts quote
    names and ARNs from events, and a notification must not fail because one is long."""

    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - len(TRUNCATED)] + TRUNCATED
        return value

    return cut


def _shorten_key(value: Any) -> Any:
    """A dedupe or thread key over MAX_KEY keeps its start and a digest of the whole: still one key per
    value, the same on every delivery."""
    if isinstance(value, str) and len(value) > MAX_KEY:
        return f"{value[:400]}#{hashlib.sha256(value.encode()).hexdigest()}"
    return value


class Kind(StrEnum):
    APPROVAL_REQUESTED = "approval-requested"
    APPROVAL_REMINDER = "approval-reminder"
    APPROVED = "approved"
    REJECTED = "rejected"
    DEPLOYMENT_STARTED = "deployment-started"
    DEPLOYMENT_SUCCEEDED = "deployment-succeeded"
    DEPLOYMENT_FAILED = "deployment-failed"
    DEPLOYMENT_ROLLED_BACK = "deployment-rolled-back"
    INTEGRATION_TEST_PASSED = "integration-test-passed"  # a stage's endpoint answered its sample requests
    INTEGRATION_TEST_FAILED = "integration-test-failed"  # ... or did not: the promotion stopped there
    JOB_FAILED = "job-failed"
    TRAINING_RULE_ISSUES = "training-rule-issues"  # SageMaker Debugger / Profiler rules that found issues
    MONITOR_VIOLATION = "monitor-violation"
    MONITOR_REPORT_ERROR = "monitor-report-error"  # a monitoring report missing or unreadable
    ALARM = "alarm"
    ALARM_RECOVERED = "alarm-recovered"
    DIGEST = "digest"  # several low-severity notifications of one route, sent on a schedule


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    label: str = Field(max_length=100)
    value: str = Field(max_length=MAX_TEXT)

    _cut_label = field_validator("label", mode="before")(_cut(100))
    _cut_value = field_validator("value", mode="before")(_cut(MAX_TEXT))


class Link(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    text: str = Field(max_length=200)
    url: str = Field(max_length=8000)  # a console link quoting a 256-character name, percent-encoded

    _cut_text = field_validator("text", mode="before")(_cut(200))

    @field_validator("url")
    @classmethod
    def _safe_scheme(cls, value: str) -> str:
        # Links are rendered as buttons and anchors: only web links, never javascript: or data:.
        if not value.startswith(("https://", "http://")):
            raise ValueError("links are http(s) URLs")
        return value


class Action(BaseModel):
    """A Slack button: `value` travels back to the interactivity route (never a secret)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    action_id: str = Field(pattern=r"^steward_[a-z_]+$")
    text: str = Field(max_length=75)
    value: str = Field(max_length=200)
    style: str | None = Field(None, pattern=r"^(primary|danger)$")


class Notification(BaseModel):
    """What happened, for whom, how urgent, and how to recognise a repeat of it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Kind
    severity: Severity
    subject: str = Field(min_length=1, max_length=250)
    summary: str = Field("", max_length=MAX_TEXT)
    model_group: str | None = None
    model_version: int | None = None
    facts: list[Fact] = Field(default_factory=list, max_length=20)
    links: list[Link] = Field(default_factory=list, max_length=10)
    dedupe_key: str = Field(min_length=1, max_length=500)
    thread_key: str | None = Field(None, max_length=500)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source_event_id: str | None = None
    recipients: list[str] | None = Field(
        None, description="explicit recipients (approval links); else the route"
    )
    actions: list[Action] = Field(default_factory=list, max_length=5)

    _cut_subject = field_validator("subject", mode="before")(_cut(250))
    _cut_summary = field_validator("summary", mode="before")(_cut(MAX_TEXT))
    _short_keys = field_validator("dedupe_key", "thread_key", mode="before")(_shorten_key)
