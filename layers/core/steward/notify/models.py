"""The notification contract every function enqueues (none calls Slack or SES inline)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.policy import Severity

MAX_TEXT = 3000


class Kind(StrEnum):
    APPROVAL_REQUESTED = "approval-requested"
    APPROVAL_REMINDER = "approval-reminder"
    APPROVED = "approved"
    REJECTED = "rejected"
    DEPLOYMENT_STARTED = "deployment-started"
    DEPLOYMENT_SUCCEEDED = "deployment-succeeded"
    DEPLOYMENT_FAILED = "deployment-failed"
    DEPLOYMENT_ROLLED_BACK = "deployment-rolled-back"
    JOB_FAILED = "job-failed"
    MONITOR_VIOLATION = "monitor-violation"
    MONITOR_REPORT_ERROR = "monitor-report-error"  # a monitoring report missing or unreadable
    ALARM = "alarm"
    ALARM_RECOVERED = "alarm-recovered"
    DIGEST = "digest"  # several low-severity notifications of one route, sent on a schedule


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str = Field(max_length=100)
    value: str = Field(max_length=MAX_TEXT)


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str = Field(max_length=200)
    url: str = Field(max_length=2000)

    @field_validator("url")
    @classmethod
    def _safe_scheme(cls, value: str) -> str:
        # Links are rendered as buttons and anchors: only web links, never javascript: or data:.
        if not value.startswith(("https://", "http://")):
            raise ValueError("links are http(s) URLs")
        return value


class Action(BaseModel):
    """A Slack button: `value` travels back to the interactivity route (never a secret)."""

    model_config = ConfigDict(frozen=True)
    action_id: str = Field(pattern=r"^steward_[a-z_]+$")
    text: str = Field(max_length=75)
    value: str = Field(max_length=200)
    style: str | None = Field(None, pattern=r"^(primary|danger)$")


class Notification(BaseModel):
    """What happened, for whom, how urgent, and how to recognise a repeat of it."""

    model_config = ConfigDict(frozen=True)

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
