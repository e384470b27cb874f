"""Approval requests and decisions (the record that binds a decision to one exact package)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from steward.approvals.gate import GateResult
from steward.approvals.rules_watch import RulesWatch

Status = Literal["pending", "approved", "rejected", "expired"]


class Decision(BaseModel):
    model_config = ConfigDict(defer_build=True)

    approver: str
    decision: Literal["approve", "reject"]
    channel: Literal["link", "slack", "operator", "gate"]
    comment: str = Field("", max_length=1000)
    at: datetime
    source: str | None = None  # source address (links, Slack) or caller ARN (operators)


class Refusal(BaseModel):
    model_config = ConfigDict(defer_build=True)

    who: str
    reason: str
    channel: str
    at: datetime
    source: str | None = None


# --- effects: what a saved change implies, applied by approvals.effects (typed, never string keys) -----


class _Effect(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class Audit(_Effect):
    """The request as an `approval` node of the version's lineage, this change in its history."""

    type: Literal["audit"] = "audit"
    facts: dict[str, Any] = Field(default_factory=dict)


class WriteRegistry(_Effect):
    """UpdateModelPackage: the decision written back to the model registry."""

    type: Literal["registry"] = "registry"
    status: Literal["Approved", "Rejected"]
    description: str


class AskApprovers(_Effect):
    """Each eligible approver's own link (email), and Slack buttons (none for a stage's request)."""

    type: Literal["ask"] = "ask"
    production: str | None = None  # the version compared with, named in the message
    stage: str | None = None


class PromoteStage(_Effect):
    """A stage's own request approved: the promotion command for that stage."""

    type: Literal["promote-stage"] = "promote-stage"
    approver: str


class Remind(_Effect):
    type: Literal["remind"] = "remind"
    marker: str  # "24h": each reminder once
    waiting: list[str]


class TellFindings(_Effect):
    """Training-rule findings that arrived after the approvers were asked (approvals.rules_watch)."""

    type: Literal["tell-findings"] = "tell-findings"
    findings: list[str]


class TellOutcome(_Effect):
    type: Literal["outcome"] = "outcome"


class TellExpiry(_Effect):
    type: Literal["expired"] = "expired"


Effect = Annotated[
    Audit | WriteRegistry | AskApprovers | PromoteStage | Remind | TellFindings | TellOutcome | TellExpiry,
    Field(discriminator="type"),
]
# The order they are applied in: the registry first (what the request is about), the audit last (until it
# lands, a pending node keeps the request on the sweep's list, so the sweep finishes what was cut short).
_ORDER = ("registry", "promote-stage", "ask", "remind", "tell-findings", "outcome", "expired", "audit")


class Pending(BaseModel):
    """The effects of the request's last change, saved with it and cleared once all of them succeeded."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    at: datetime
    effects: tuple[Effect, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, value: Any) -> Any:
        """Requests saved before effects were typed keep them as keys of one dict: read them as effects."""
        if not isinstance(value, dict) or "effects" in value:
            return value
        found: list[dict[str, Any]] = []
        if value.get("registry"):
            found.append({"type": "registry", **value["registry"]})
        if value.get("promoteStage"):
            found.append({"type": "promote-stage", "approver": value["promoteStage"]})
        if value.get("ask") is not None:
            found.append({"type": "ask", **value["ask"]})
        if value.get("remind"):
            found.append({"type": "remind", **value["remind"]})
        if value.get("tell"):
            found.append({"type": "tell-findings", **value["tell"]})
        if value.get("outcome"):
            found.append({"type": "outcome"})
        if value.get("expired"):
            found.append({"type": "expired"})
        if value.get("audit") is not None:
            found.append({"type": "audit", "facts": value["audit"]})
        return {"at": value.get("at"), "effects": found}

    @model_validator(mode="after")
    def _in_order(self) -> Pending:
        ordered = tuple(sorted(self.effects, key=lambda e: _ORDER.index(e.type)))
        if ordered != self.effects:
            object.__setattr__(self, "effects", ordered)
        return self

    @classmethod
    def of(cls, at: datetime, *effects: Any) -> Pending:
        return cls(at=at, effects=tuple(e for e in effects if e is not None))

    def first(self, kind: type[Any]) -> Any:
        return next((e for e in self.effects if isinstance(e, kind)), None)


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    unsettled: Pending | None = None
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
