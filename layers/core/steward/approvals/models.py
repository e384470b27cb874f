"""Approval requests and decisions (the record that binds a decision to one exact package)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from steward.approvals.gate import GateResult
from steward.approvals.rules_watch import RulesWatch

Status = Literal["pending", "approved", "rejected", "expired"]


class Decision(BaseModel):
    approver: str
    decision: Literal["approve", "reject"]
    channel: Literal["link", "slack", "operator", "gate"]
    comment: str = Field("", max_length=1000)
    at: datetime
    source: str | None = None  # source address (links, Slack) or caller ARN (operators)


class Refusal(BaseModel):
    who: str
    reason: str
    channel: str
    at: datetime
    source: str | None = None


class ApprovalRequest(BaseModel):
    id: str
    package_arn: str
    group: str
    version: int | None
    artifact_uri: str | None = None
    image_digests: list[str] = Field(default_factory=list)
    registered_by: str | None = None
    # Every identity of the registrant (Studio profile, IAM ARN, session name): none of them may approve.
    registrant_identities: list[str] = Field(default_factory=list)
    description: str | None = None
    # What an approver needs to know of where the version came from (README "Approvals"): training data,
    # pipeline run, code; read once from the lineage when the request opens.
    lineage: list[str] = Field(default_factory=list)
    approvers: list[str]
    slack_ids: dict[str, str] = Field(default_factory=dict)  # approver email → Slack user id
    target_stages: list[str] = Field(
        default_factory=list
    )  # "staging → churn-staging (ml.m5.large x1, canary)"
    quorum: int
    excluded: list[str] = Field(default_factory=list)
    reject_on_first_rejection: bool = True
    on_expiry: Literal["leave-pending", "reject"] = "leave-pending"
    reminder_hours_before_expiry: list[float] = Field(default_factory=list)
    reminders_sent: list[str] = Field(default_factory=list)
    created_at: datetime
    expires_at: datetime
    status: Status = "pending"
    gate: GateResult | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    production_metrics: dict[str, float] = Field(default_factory=dict)
    # Bias and explainability reports and drift-check baselines (approvals.evidence), as read at opening.
    evidence: dict[str, Any] = Field(default_factory=dict)
    decisions: list[Decision] = Field(default_factory=list)
    refusals: list[Refusal] = Field(default_factory=list)
    revision: int = 0
    stage: str | None = None  # set on a request for one promotion stage (the version is already Approved)
    parent: str | None = None  # the version's own approval request, for a stage request
    # What the last saved change implies and has not been confirmed done (registry write-back,
    # notifications, the audit in the lineage): saved with the change, applied after it, cleared when
    # all of it succeeded. A retry, the next call on the request or the sweep applies it again (every
    # effect is idempotent), so a crash or a throttled call after the save loses nothing.
    unsettled: dict[str, Any] | None = None
    # The training job's Debugger/Profiler rules that had not finished when the version was registered
    # (approvals.rules_watch): the gate waits for them, or, once the version is with people, tells them.
    rules_watch: RulesWatch | None = None

    @property
    def waiting_for_rules(self) -> bool:
        """Pending, but not asked yet: the gate waits for the training job's rules."""
        return self.status == "pending" and self.rules_watch is not None and not self.rules_watch.asked

    @staticmethod
    def id_for(package_arn: str, stage: str | None = None) -> str:
        """One request per package version (and per stage that needs its own approval): the id is
        derived, so duplicate events find the same one."""
        suffix = f"#stage={stage}" if stage else ""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"steward-approval:{package_arn.lower()}{suffix}"))

    def approvals(self) -> list[str]:
        return sorted({d.approver for d in self.decisions if d.decision == "approve"})
