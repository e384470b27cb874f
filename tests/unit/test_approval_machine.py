"""Approvals' state machine (approvals.machine) over every state and observation, and the one place its
effects are applied (approvals.effects) with in-memory fakes: what each observation does to each state,
including the ones that change nothing (decided, duplicate, late)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from steward.approvals import effects, machine
from steward.approvals.deps import Deps
from steward.approvals.gate import Check, GateResult
from steward.approvals.machine import Decide, Refuse, RulesSeen, Tick, transition
from steward.approvals.models import (
    ApprovalRequest,
    AskApprovers,
    Audit,
    Decision,
    Pending,
    PromoteStage,
    Remind,
    TellExpiry,
    TellFindings,
    TellOutcome,
    WriteRegistry,
)
from steward.approvals.rules_watch import RulesWatch
from steward.kernel.errors import DuplicateEventError, StaleEventError
from steward.policy import Gate

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def request(status: str = "pending", **more: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": "r-1",
        "package_arn": PACKAGE,
        "group": "fraud",
        "version": 3,
        "approvers": [ALICE, BOB, CAROL],
        "quorum": 1,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=72),
        "reminder_hours_before_expiry": [24.0, 2.0],
        "status": status,
        "gate": GateResult(passed=True, decision="request-approval"),
    }
    return ApprovalRequest(**{**values, **more})


def decide(
    who: str, decision: str = "approve", at: datetime = T0 + timedelta(hours=1), comment: str = ""
) -> Decide:
    return Decide(who, decision, comment, "link", "203.0.113.7", at)


def kinds(state: ApprovalRequest | None) -> list[type]:
    assert state is not None and state.unsettled is not None
    return [type(e) for e in state.unsettled.effects]


# --- decisions ------------------------------------------------------------------------------------------

DECISIONS = [
    # (request, observation, status after, effects, problem)
    (request(), decide(ALICE), "approved", [WriteRegistry, TellOutcome, Audit], None),
    (request(), decide(ALICE, "reject"), "rejected", [WriteRegistry, TellOutcome, Audit], None),
    (request(quorum=2), decide(ALICE), "pending", [Audit], None),  # one of two: counted, nothing decided
    (
        request(quorum=2, decisions=[Decision(approver=BOB, decision="approve", channel="link", at=T0)]),
        decide(ALICE),
        "approved",
        [WriteRegistry, TellOutcome, Audit],
        None,
    ),
    (request(reject_on_first_rejection=False), decide(ALICE, "reject"), "pending", [Audit], None),
    (
        request(stage="prod"),
        decide(ALICE),
        "approved",
        [PromoteStage, TellOutcome, Audit],
        None,
    ),  # no registry
    (request(stage="prod"), decide(ALICE, "reject"), "rejected", [TellOutcome, Audit], None),
]


@pytest.mark.parametrize(("before", "observation", "status", "effect_types", "problem"), DECISIONS)
def test_a_decision_counts_once_and_decides_by_quorum_or_first_rejection(
    before, observation, status, effect_types, problem
):
    step = transition(before, observation)
    assert step.problem is problem and step.state is not None
    assert step.state.status == status
    assert kinds(step.state) == effect_types
    assert step.state.decisions[-1].approver == observation.approver


def test_the_registry_is_told_who_decided_and_why():
    step = transition(
        request(quorum=2, decisions=[Decision(approver=BOB, decision="approve", channel="link", at=T0)]),
        decide(ALICE, comment="ok"),
    )
    assert step.state is not None and step.state.unsettled is not None
    registry = step.state.unsettled.first(WriteRegistry)
    assert registry == WriteRegistry(
        status="Approved", description=f"Approved via Steward by {ALICE}, {BOB} (request r-1): ok"
    )
    assert step.state.unsettled.first(Audit).facts == {
        "decision": "approve",
        "by": ALICE,
        "channel": "link",
        "comment": "ok",
        "source": "203.0.113.7",
    }


@pytest.mark.parametrize("status", ["approved", "rejected", "expired"])
def test_a_decision_on_a_decided_request_changes_nothing(status):
    step = transition(request(status), decide(ALICE))
    assert (step.state, step.problem) == (None, "decided")


def test_the_same_approver_twice_counts_once():
    once = transition(request(quorum=2), decide(ALICE)).state
    assert once is not None
    step = transition(once, decide(ALICE, at=T0 + timedelta(hours=2)))
    assert (step.state, step.problem) == (None, "used")


@pytest.mark.parametrize(
    ("observation", "problem", "reason"),
    [
        (decide(ALICE, at=T0 + timedelta(hours=72)), "expired", "expired"),
        (decide("mallory@example.com"), "not-allowed", "not an eligible approver (registrant or excluded)"),
    ],
)
def test_a_late_or_ineligible_decision_is_refused_and_audited(observation, problem, reason):
    step = transition(request(), observation)
    assert step.problem == problem and step.state is not None
    assert step.state.status == "pending" and step.state.decisions == []
    assert step.state.refusals[-1].reason == reason and step.state.refusals[-1].source == "203.0.113.7"
    assert kinds(step.state) == [Audit]


def test_a_refused_attempt_is_kept_with_its_source():
    step = transition(
        request("approved"), Refuse("slack:U9", "not an approver of this request", "slack", None, T0)
    )
    assert step.state is not None and step.state.status == "approved"  # refusals are audited in any state
    assert step.state.unsettled is not None
    assert step.state.unsettled.first(Audit).facts == {
        "refused": "slack:U9",
        "reason": "not an approver of this request",
        "channel": "slack",
    }


# --- the sweep's clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "at", "outcome", "effect_types", "after"),
    [
        (request(), T0 + timedelta(hours=1), None, None, "pending"),  # nothing due
        (request(), T0 + timedelta(hours=49), "reminded", [Remind], "pending"),  # 24 h before
        (request(reminders_sent=["24h"]), T0 + timedelta(hours=49), None, None, "pending"),  # once
        (request(reminders_sent=["24h"]), T0 + timedelta(hours=71), "reminded", [Remind], "pending"),
        (request(), T0 + timedelta(hours=72), "expired", [TellExpiry, Audit], "expired"),
        (request(on_expiry="reject"), T0 + timedelta(hours=72), "expired", [WriteRegistry, TellExpiry, Audit], "expired"),
        (request(on_expiry="reject", stage="prod"), T0 + timedelta(hours=72), "expired", [TellExpiry, Audit], "expired"),
        (request("approved"), T0 + timedelta(hours=72), None, None, "approved"),
    ],
)  # fmt: skip
def test_the_sweep_reminds_once_per_marker_then_expires(before, at, outcome, effect_types, after):
    step = transition(before, Tick(at))
    assert step.outcome == outcome
    if effect_types is None:
        assert step.state is None
        return
    assert step.state is not None and step.state.status == after and kinds(step.state) == effect_types


def test_two_due_reminders_are_two_steps_each_naming_who_has_not_decided():
    before = request(
        decisions=[Decision(approver=BOB, decision="reject", channel="link", at=T0)],
        reject_on_first_rejection=False,
    )
    first = transition(before, Tick(T0 + timedelta(hours=71))).state
    assert first is not None and first.reminders_sent == ["24h"]
    assert first.unsettled is not None and first.unsettled.first(Remind) == Remind(
        marker="24h", waiting=[ALICE, CAROL]
    )
    second = transition(first, Tick(T0 + timedelta(hours=71))).state
    assert second is not None and second.reminders_sent == ["24h", "2h"]
    assert transition(second, Tick(T0 + timedelta(hours=71))).state is None


# --- training rules (approvals.rules_watch) -------------------------------------------------------------

FINDING = "training job t: rule Overfit found issues"
RUNNING = "training job t: Debugger rule Overfit is InProgress"


def watching(
    mode: str = "reject", asked: bool = False, findings: list[str] | None = None, **more: Any
) -> ApprovalRequest:
    gate = Gate(on_pass="approve", training_rules=mode, training_rules_wait_minutes=60)
    watch = RulesWatch(
        mode=mode, jobs=["arn:t"], until=T0 + timedelta(minutes=60), asked=asked, unfinished=[RUNNING],
        findings=findings or [], base=GateResult(passed=True, decision="approve"), gate=gate,
    )  # fmt: skip
    return request(rules_watch=watch, **more)


RULES = [
    # (request, seen, status after, effect types, asked after; None: nothing changes)
    (watching(), RulesSeen([], [RUNNING], T0 + timedelta(minutes=5)), None, None, None),  # still waiting
    (watching(), RulesSeen([FINDING], [], T0 + timedelta(minutes=5)), "rejected", [WriteRegistry, TellOutcome, Audit], None),
    (watching("hold"), RulesSeen([FINDING], [], T0 + timedelta(minutes=5)), "pending", [AskApprovers, Audit], None),
    (watching("hold"), RulesSeen([], [], T0 + timedelta(minutes=5)), "approved", [WriteRegistry, TellOutcome, Audit], None),
    # past the wait: the rules still running hold it for people (never approved, never rejected)
    (watching(), RulesSeen([], [RUNNING], T0 + timedelta(minutes=61)), "pending", [AskApprovers, Audit], True),
    # with people already: a new finding rejects (reject) or is told (hold); nothing new changes nothing
    (watching(asked=True), RulesSeen([FINDING], [], T0 + timedelta(hours=2)), "rejected", [WriteRegistry, TellFindings, TellOutcome, Audit], None),
    (watching("hold", asked=True), RulesSeen([FINDING], [], T0 + timedelta(hours=2)), "pending", [TellFindings, Audit], None),
    (watching("hold", asked=True, findings=[FINDING]), RulesSeen([FINDING], [RUNNING], T0 + timedelta(hours=2)), None, None, None),
    (watching(asked=True), RulesSeen([], [], T0 + timedelta(hours=2)), "pending", [], None),  # ended clean: watch over
    # decided: never touched
    (watching("reject", asked=True, status="approved"), RulesSeen([FINDING], [], T0 + timedelta(hours=2)), None, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("before", "seen", "status", "effect_types", "asked"), RULES)
def test_training_rules_as_the_lineage_has_them(before, seen, status, effect_types, asked):
    step = transition(before, seen)
    if status is None:
        assert step.state is None
        return
    state = step.state
    assert state is not None and state.status == status and kinds(state) == effect_types
    assert (state.rules_watch.asked if state.rules_watch else None) is asked


def test_a_re_gated_request_gives_its_approvers_their_whole_time_from_when_they_are_asked():
    before = watching("hold")
    state = transition(before, RulesSeen([FINDING], [], T0 + timedelta(minutes=30))).state
    assert state is not None and state.expires_at == T0 + timedelta(minutes=30, hours=72)
    assert FINDING in state.lineage and "rule Overfit found issues (held for people)" in state.gate.summary()


def test_a_waiting_request_is_neither_reminded_nor_expired():
    assert transition(watching(), Tick(T0 + timedelta(hours=100))).state is None


# --- the gate -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "status", "effect_types"),
    [
        ("approve", "approved", [WriteRegistry, TellOutcome, Audit]),
        ("reject", "rejected", [WriteRegistry, TellOutcome, Audit]),
        ("request-approval", "pending", [AskApprovers, Audit]),
    ],
)
def test_the_gate_decides_or_asks(decision, status, effect_types):
    gate = GateResult(
        passed=decision != "reject",
        decision=decision,
        checks=[Check(metric="auc", value=0.9, passed=True, rule=">= 0.88")],
    )
    state = machine.gate_decision(request(gate=None), gate, "arn:prod", T0, opened=True)
    assert state.status == status and kinds(state) == effect_types and state.gate == gate
    if status != "pending":
        assert state.decisions[-1].approver == machine.GATE_ACTOR


# --- effects: typed, ordered, legacy-readable, applied once ------------------------------------------------


def test_effects_are_applied_in_one_order_whatever_order_they_were_given():
    pending = Pending.of(T0, Audit(), TellOutcome(), WriteRegistry(status="Approved", description="d"))
    assert [type(e) for e in pending.effects] == [WriteRegistry, TellOutcome, Audit]


def test_effects_saved_before_they_were_typed_are_read_as_effects():
    legacy = {
        "at": T0.isoformat(),
        "audit": {"decision": "approve"},
        "registry": {"status": "Approved", "description": "d"},
        "outcome": True,
        "promoteStage": ALICE,
        "ask": {"stage": "prod"},
        "remind": {"marker": "24h", "waiting": [BOB]},
        "expired": True,
    }
    parsed = request(unsettled=legacy).unsettled
    assert parsed is not None and parsed.at == T0
    assert list(parsed.effects) == [
        WriteRegistry(status="Approved", description="d"),
        PromoteStage(approver=ALICE),
        AskApprovers(stage="prod"),
        Remind(marker="24h", waiting=[BOB]),
        TellOutcome(),
        TellExpiry(),
        Audit(facts={"decision": "approve"}),
    ]
    again = ApprovalRequest.model_validate_json(request(unsettled=legacy).model_dump_json())
    assert again.unsettled == parsed


class FakeStore:
    def __init__(self, r: ApprovalRequest) -> None:
        self.items = {r.id: r}

    def save(self, r: ApprovalRequest, spend_link: Any = None) -> ApprovalRequest:
        if self.items[r.id].revision != r.revision:
            raise StaleEventError(r.id)
        saved = r.model_copy(update={"revision": r.revision + 1})
        self.items[r.id] = saved
        return saved

    def get(self, request_id: str) -> ApprovalRequest | None:
        return self.items.get(request_id)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.changes: set[str] = set()

    def set_approval(self, arn: str, status: str, description: str) -> None:
        self.calls.append(("registry", status))

    def send(self, note: Any) -> str:
        self.calls.append(("send", getattr(note, "dedupe_key", None) or type(note).__name__))
        return "m"

    def apply(self, change: Any) -> str:
        if change.event_id in self.changes:
            raise DuplicateEventError(change.event_id)
        self.changes.add(change.event_id)
        self.calls.append(("audit", change.nodes[0].status))
        return "recorded"


def fakes(r: ApprovalRequest) -> tuple[Deps, FakeStore, Recorder]:
    store, rec = FakeStore(r), Recorder()
    deps = Deps(store=store, registry=rec, reports=None, lineage=rec, outbox=rec, keys={"k": b"k" * 32},
                active_key="k", api_base_url="https://api.example.com/prod", promotions=rec)  # type: ignore[arg-type]  # fmt: skip
    return deps, store, rec


def test_a_decision_s_effects_are_applied_in_order_once_and_cleared():
    before = request()
    deps, store, rec = fakes(before)
    state = transition(before, decide(ALICE)).state
    assert state is not None
    done = effects.commit(state, deps, T0)
    assert done.unsettled is None and store.items["r-1"].status == "approved"
    assert rec.calls == [("registry", "Approved"), ("send", "approval-approved:r-1"), ("audit", "Approved")]
    # settling what was cut short again (a retry) sends the same keys and writes the audit once
    saved_with_effects = state.model_copy(update={"revision": done.revision - 1})  # as the change saved it
    assert effects.settle(saved_with_effects, deps, T0).unsettled is None  # cleared already
    assert rec.calls[3:] == [("registry", "Approved"), ("send", "approval-approved:r-1")]


def test_an_approved_stage_request_sends_its_promotion_command_and_writes_no_registry():
    before = request(stage="prod")
    deps, _, rec = fakes(before)
    state = transition(before, decide(ALICE)).state
    assert state is not None
    effects.commit(state, deps, T0)
    assert [c[0] for c in rec.calls] == ["send", "send", "audit"]
    assert rec.calls[0] == ("send", "PromoteCommand")


def test_an_operator_may_decide_a_request_that_waits_for_its_training_rules():
    step = transition(
        watching(), Decide(ALICE, "approve", "checked by hand", "operator", "arn:aws:iam::1:user/op", T0)
    )
    assert step.state is not None and step.state.status == "approved"
    assert transition(step.state, RulesSeen(["late finding"], [], T0 + timedelta(hours=2))).state is None
