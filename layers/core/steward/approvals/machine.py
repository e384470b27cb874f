"""Approvals as a state machine (pure): `transition(request, observation) -> Transition(state, problem)`.

A request (models.ApprovalRequest, its status typed) is pending until a quorum of distinct approvals
approves it, a rejection rejects it (or, per policy, only counts), the sweep expires it, or the gate
decides it. What moves it is an observation: an approver's decision (`Decide`), a refused attempt
(`Refuse`), the sweep's clock (`Tick`: expiry, then each reminder once), the training rules as the
lineage has them (`RulesSeen`, approvals.rules_watch). An observation that does not apply (the request
is decided, the approver decided already) changes nothing and says why (`problem`).

The new state carries its effects (models.Pending: typed effects, saved with the change) and the one
place that applies them is approvals.effects.settle, each idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from steward.approvals.gate import GateResult
from steward.approvals.models import (
    ApprovalRequest,
    AskApprovers,
    Audit,
    Decision,
    Pending,
    PromoteStage,
    Refusal,
    Remind,
    Status,
    TellExpiry,
    TellFindings,
    TellOutcome,
    WriteRegistry,
)
from steward.approvals.rules_watch import gate_with_rules

GATE_ACTOR = "steward-gate"

# --- observations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decide:
    approver: str
    decision: str  # approve | reject
    comment: str
    channel: Literal["link", "slack", "operator"]
    source: str | None
    at: datetime


@dataclass(frozen=True)
class Refuse:
    who: str
    reason: str
    channel: str
    source: str | None
    at: datetime


@dataclass(frozen=True)
class Tick:
    """The sweep's clock: expire what nobody decided in time, else remind once per marker."""

    at: datetime


@dataclass(frozen=True)
class RulesSeen:
    """The training jobs' rules as the lineage has them now (findings and rules not finished)."""

    findings: list[str]
    unfinished: list[str]
    at: datetime


Observation = Decide | Refuse | Tick | RulesSeen


@dataclass(frozen=True)
class Transition:
    state: ApprovalRequest | None  # None: nothing to save
    problem: str | None = None  # expired | not-allowed | used | decided (why the decision did not count)
    outcome: str | None = None  # what the sweep reports: expired | reminded | rules


def audit(**facts: Any) -> Audit:
    return Audit(facts={k: v for k, v in facts.items() if v is not None})


def transition(request: ApprovalRequest, observation: Observation) -> Transition:
    """The next state of `request` after `observation` (its effects in `state.unsettled`)."""
    if isinstance(observation, Decide):
        return _decide(request, observation)
    if isinstance(observation, Refuse):
        return _refuse(request, observation)
    if isinstance(observation, Tick):
        return _tick(request, observation.at)
    return _rules_seen(request, observation)


# --- deciding -----------------------------------------------------------------------------------------


def _decide(request: ApprovalRequest, d: Decide) -> Transition:
    if request.status != "pending":
        return Transition(None, "decided")
    if d.at >= request.expires_at:
        return Transition(
            _refuse(request, Refuse(d.approver, "expired", d.channel, d.source, d.at)).state, "expired"
        )
    if d.approver not in request.approvers:
        why = "not an eligible approver (registrant or excluded)"
        return Transition(
            _refuse(request, Refuse(d.approver, why, d.channel, d.source, d.at)).state, "not-allowed"
        )
    if any(x.approver == d.approver for x in request.decisions):
        return Transition(None, "used")
    entry = Decision.model_validate(
        {
            "approver": d.approver,
            "decision": d.decision,
            "channel": d.channel,
            "comment": d.comment[:1000],
            "at": d.at,
            "source": d.source,
        }
    )
    decisions = [*request.decisions, entry]
    status: Status = "pending"
    approvals = {x.approver for x in decisions if x.decision == "approve"}
    if d.decision == "reject" and request.reject_on_first_rejection:
        status = "rejected"
    elif len(approvals) >= request.quorum:
        status = "approved"
    verdict: Literal["Approved", "Rejected"] = "Approved" if status == "approved" else "Rejected"
    names = ", ".join(sorted(approvals)) if status == "approved" else d.approver
    ended = status != "pending"
    effects = Pending.of(
        d.at,
        audit(
            decision=d.decision,
            by=d.approver,
            channel=d.channel,
            comment=d.comment[:1000] or None,
            source=d.source,
        ),
        WriteRegistry(
            status=verdict,
            description=f"{verdict} via Steward by {names} (request {request.id})"
            + (f": {d.comment}" if d.comment else "")[:900],
        )
        if ended and not request.stage
        else None,
        TellOutcome() if ended else None,
        PromoteStage(approver=d.approver) if status == "approved" and request.stage else None,
    )
    return Transition(
        request.model_copy(update={"decisions": decisions, "status": status, "unsettled": effects})
    )


def _refuse(request: ApprovalRequest, r: Refuse) -> Transition:
    """A refused attempt is audited too (who, when, channel, reason, source address)."""
    refusal = Refusal(who=r.who, reason=r.reason, channel=r.channel, at=r.at, source=r.source)
    effects = Pending.of(r.at, audit(refused=r.who, reason=r.reason, channel=r.channel, source=r.source))
    return Transition(
        request.model_copy(update={"refusals": [*request.refusals, refusal], "unsettled": effects})
    )


# --- the sweep ----------------------------------------------------------------------------------------


def _tick(request: ApprovalRequest, now: datetime) -> Transition:
    if request.status != "pending" or request.waiting_for_rules:
        return Transition(None)  # decided, or not asked yet: nothing to remind of, nothing to expire
    if now >= request.expires_at:
        rejects = request.on_expiry == "reject" and not request.stage
        effects = Pending.of(
            now,
            audit(expired=True, onExpiry=request.on_expiry),
            WriteRegistry(
                status="Rejected",
                description=f"Expired without a decision via Steward (request {request.id})",
            )
            if rejects
            else None,
            TellExpiry(),
        )
        return Transition(
            request.model_copy(update={"status": "expired", "unsettled": effects}), outcome="expired"
        )
    for hours in sorted(request.reminder_hours_before_expiry, reverse=True):
        marker = f"{hours:g}h"
        if marker in request.reminders_sent or now < request.expires_at - timedelta(hours=hours):
            continue
        waiting = [a for a in request.approvers if all(d.approver != a for d in request.decisions)]
        state = request.model_copy(
            update={
                "reminders_sent": [*request.reminders_sent, marker],
                "unsettled": Pending.of(now, Remind(marker=marker, waiting=waiting)),
            }
        )
        return Transition(state, outcome="reminded")
    return Transition(None)


# --- the gate -----------------------------------------------------------------------------------------


def gate_decision(
    request: ApprovalRequest, gate: GateResult, production: str | None, at: datetime, **facts: Any
) -> ApprovalRequest:
    """What the gate's decision makes of a pending request (on opening, or when the training rules it
    waited for have ended): rejected or approved by the gate (written back to the registry), or sent to
    the approvers (`facts`: what the audit says of that)."""
    if gate.decision in ("reject", "approve"):
        status = "rejected" if gate.decision == "reject" else "approved"
        verdict: Literal["Approved", "Rejected"] = "Rejected" if status == "rejected" else "Approved"
        decision = Decision(
            approver=GATE_ACTOR,
            decision="reject" if status == "rejected" else "approve",
            channel="gate",
            comment=gate.summary()[:1000],
            at=at,
        )
        effects = Pending.of(
            at,
            audit(decision=gate.decision, by=GATE_ACTOR, gate=gate.summary()),
            WriteRegistry(
                status=verdict, description=f"Steward gate {verdict.lower()}: {gate.summary()}"[:1000]
            ),
            TellOutcome(),
        )
        return request.model_copy(
            update={
                "gate": gate,
                "status": status,
                "decisions": [*request.decisions, decision],
                "unsettled": effects,
            }
        )
    effects = Pending.of(
        at, audit(**facts, gate=gate.summary(), production=production), AskApprovers(production=production)
    )
    return request.model_copy(update={"gate": gate, "unsettled": effects})


def waiting(request: ApprovalRequest, at: datetime, unfinished: list[str]) -> ApprovalRequest:
    """Opened, but the gate waits for training rules still running: nobody is asked yet."""
    assert request.gate is not None
    effects = Pending.of(
        at, audit(opened=True, gate=request.gate.summary(), waitingFor="; ".join(unfinished))
    )
    return request.model_copy(update={"unsettled": effects})


def stage_opened(request: ApprovalRequest, at: datetime) -> ApprovalRequest:
    """A stage's own request: its approvers are asked (the version's gate numbers are shown again)."""
    effects = Pending.of(at, audit(opened=True, stage=request.stage), AskApprovers(stage=request.stage))
    return request.model_copy(update={"unsettled": effects})


def _rules_seen(request: ApprovalRequest, seen: RulesSeen) -> Transition:
    """Re-gate a request that waited for its training rules once they ended (or the wait is over); a
    finding that arrives while the request is with its approvers is told to them, and rejects it when
    the policy says `reject`. Decided requests are never touched."""
    watch = request.rules_watch
    if request.status != "pending" or watch is None:
        return Transition(None)
    findings, unfinished, now = seen.findings, seen.unfinished, seen.at
    new = [f for f in findings if f not in watch.findings]
    lines = [*request.lineage, *[f for f in new if f not in request.lineage]][:24]
    if not watch.asked:
        if unfinished and now < watch.until:
            return Transition(None)  # still waiting
        waited = watch.gate.training_rules_wait_minutes if unfinished else None
        gate = gate_with_rules(watch.base, findings, unfinished, watch.gate, request.evidence, waited)
        shifted = now + (request.expires_at - request.created_at)  # the approvers' time starts now
        kept = watch.model_copy(update={"asked": True, "unfinished": unfinished, "findings": findings})
        after = request.model_copy(
            update={
                "lineage": lines,
                "expires_at": max(request.expires_at, shifted),
                "rules_watch": kept if unfinished else None,
            }
        )
        state = gate_decision(after, gate, watch.production, now, rules="; ".join(unfinished) or "finished")
        return Transition(state, outcome="rules")
    if new:
        gate = gate_with_rules(watch.base, findings, unfinished, watch.gate, request.evidence, None)
        kept = watch.model_copy(update={"unfinished": unfinished, "findings": findings})
        after = request.model_copy(update={"lineage": lines, "rules_watch": kept if unfinished else None})
        if gate.decision == "reject":  # `reject` (and on_fail: reject): the gate decides now
            state = gate_decision(after, gate, watch.production, now)
        else:
            state = after.model_copy(
                update={
                    "gate": gate,
                    "unsettled": Pending.of(now, audit(finding="; ".join(new), gate=gate.summary())),
                }
            )
        assert state.unsettled is not None
        told = Pending.of(now, *state.unsettled.effects, TellFindings(findings=new))
        return Transition(state.model_copy(update={"unsettled": told}), outcome="rules")
    if not unfinished:
        return Transition(
            request.model_copy(update={"rules_watch": None, "unsettled": Pending.of(now)}), outcome="rules"
        )
    return Transition(None)
