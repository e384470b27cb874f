"""Approvals under interleavings of their AWS calls (sandbox/interleave.py): two operations at once, as
two Lambda invocations run, each interleaving chosen by a seed, and each operation also dying between
two of its calls and running again. A seeded sample runs in `make test`; `make explore`
(STEWARD_EXPLORE=all) tries every interleaving of the calls the first run made and every crash point.
A violation names its case and how to replay it (STEWARD_EXPLORE_SEED=...)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from unittest import mock

import pytest

from sandbox import Sandbox
from sandbox.interleave import Outcome, Race, check
from tests.integration.test_approvals import policy, register
from tests.reliability.explorer import one_at_a_time, package_event, sent_events

ALICE, BOB = "alice@example.com", "bob@example.com"
APPROVERS = [{"email": ALICE, "slack_user_id": "U0ALICE"}, {"email": BOB}, {"email": "carol@example.com"}]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # The operations call the API's use cases here, in the API function's environment
    with (
        Sandbox(policy=policy(quorum=2, approvers=APPROVERS), parallel=True) as sandbox,
        mock.patch.dict(os.environ, sandbox._function("api").environment),
    ):
        yield sandbox


class Version:
    """A version of its own group per run (runs never meet), waiting for two approvals."""

    numbers = count()

    def __init__(self, sb: Sandbox) -> None:
        from steward.approvals.models import ApprovalRequest
        from steward.approvals.wiring import approval_deps

        self.sb, self.group = sb, f"race{next(self.numbers)}"
        with one_at_a_time(sb), sent_events(sb, package_event("PendingManualApproval")) as sent:
            self.arn = register(sb, group=self.group)
        self.registered = sent[0]  # the event as EventBridge delivered it (to deliver it again)
        self.deps = approval_deps()
        self.request_id = ApprovalRequest.id_for(self.arn)
        self.now = datetime.now(UTC)

    def link(self, who: str) -> tuple[str, str]:
        """`who`'s link token (as the email carries one) and its confirmation page's anti-forgery value."""
        from steward.approvals import service

        url = service.link_for(self.request(), who, self.deps)
        token = url.rsplit("/", 1)[-1]
        return token, str(service.view_link(token, self.deps, self.now).csrf)

    def request(self) -> Any:
        found = self.deps.store.get(self.request_id)
        assert found is not None
        return found

    def decisions(self) -> list[str]:
        return sorted(d.approver for d in self.request().decisions)

    def audited(self, who: str) -> int:
        """How many decisions of `who` the approval node's history holds (each decision audited once)."""
        node = f"{self.arn.lower()}/approval"
        return sum(
            1 for h in self.sb.lineage_store().history(node) if h.get("by") == who and h.get("decision")
        )

    def asked(self) -> list[str]:
        """Who was emailed a request to approve this version (read from the embedded SES)."""
        from moto.ses.models import ses_backends

        subject = f"Approval requested: {self.group} version"
        sent = ses_backends["123456789012"]["us-east-1"].sent_messages
        return [
            line.removeprefix("To: ").strip()
            for m in sent
            if subject in (getattr(m, "raw_data", "") or "")
            for line in m.raw_data.splitlines()
            if line.startswith("To: ")
        ]

    def settle(self) -> None:
        with one_at_a_time(self.sb):
            self.sb.drain()

    def registry_status(self) -> str:
        described = self.sb.client("sagemaker").describe_model_package(ModelPackageName=self.arn)
        return str(described["ModelApprovalStatus"])


def _now() -> datetime:
    """When an invocation runs (each its own, as each handler reads the clock; a retry's is later)."""
    return datetime.now(UTC)


def _answers(outcome: Outcome) -> list[str]:
    return [str(getattr(r, "problem", r)) for r in outcome.results]


def test_two_approvers_at_once_on_a_quorum_of_two_both_count(sb):
    from steward.approvals import service

    def race() -> Race:
        v = Version(sb)
        (alice, a_csrf), (bob, b_csrf) = v.link(ALICE), v.link(BOB)
        return Race(
            [
                lambda: service.decide_by_link(alice, "approve", "", a_csrf, None, v.deps, _now()),
                lambda: service.decide_by_link(bob, "approve", "", b_csrf, None, v.deps, _now()),
            ],
            v,
        )

    def invariant(v: Version, outcome: Outcome) -> None:
        assert outcome.errors == [None, None], outcome.errors
        for answer, crashed in zip(_answers(outcome), outcome.crashed, strict=True):
            # a retry of a decision that was recorded before the crash is told it is done already
            assert answer == "None" or (crashed and answer in ("used", "decided")), _answers(outcome)
        assert v.request().status == "approved"
        assert v.decisions() == [ALICE, BOB]
        v.settle()
        assert v.registry_status() == "Approved"
        assert (v.audited(ALICE), v.audited(BOB)) == (1, 1)

    check("two approvers on a quorum of 2", race, invariant)


def test_an_operator_and_the_approver_deciding_at_once_count_once(sb):
    from steward.approvals import service

    def race() -> Race:
        v = Version(sb)
        alice, csrf = v.link(ALICE)
        return Race(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, v.deps, _now()),
                lambda: service.decide_as_operator(
                    v.request_id, ALICE, "approve", "by phone", "arn:aws:iam::1:user/op", v.deps, _now()
                ),
            ],
            v,
        )

    def invariant(v: Version, outcome: Outcome) -> None:
        assert outcome.errors == [None, None], outcome.errors
        if not any(outcome.crashed):  # one recorded, the other told it is done already
            assert sorted(_answers(outcome)) == ["None", "used"], _answers(outcome)
        else:
            assert set(_answers(outcome)) <= {"None", "used"}, _answers(outcome)
        assert v.request().status == "pending"  # quorum 2: Alice counts once
        assert v.decisions() == [ALICE]
        assert v.audited(ALICE) == 1

    check("an operator and the approver", race, invariant)


class _Only:
    """The sweep's worklist, narrowed to this run's request (the others belong to other runs)."""

    def __init__(self, store: Any, request_id: str) -> None:
        self.store, self.request_id = store, request_id

    def active_nodes(self, kind: Any, limit: int = 100) -> list[dict[str, Any]]:
        return [n for n in self.store.active_nodes(kind, limit=1000) if n.get("requestId") == self.request_id]


def test_an_approver_racing_the_expiry_sweep_ends_consistent(sb):
    from steward.approvals import service

    def race() -> Race:
        v = Version(sb)
        alice, csrf = v.link(ALICE)
        worklist = _Only(sb.lineage_store(), v.request_id)
        return Race(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, v.deps, _now()),
                lambda: service.sweep(worklist, v.deps, _now() + timedelta(days=30)),  # long past the expiry
            ],
            v,
        )

    def invariant(v: Version, outcome: Outcome) -> None:
        assert outcome.errors == [None, None], outcome.errors
        request = v.request()
        decided = [d.approver for d in request.decisions]
        # Either Alice's approval landed (and counts once) before the sweep expired the request, or the
        # request expired and her decision was refused: never a decision recorded on an expired request
        # that then lost it, never two
        assert decided in ([], [ALICE]), decided
        assert request.status in ("pending", "expired"), request.status
        if request.status == "expired":
            assert outcome.results[0].problem in ("decided", "expired", "used", None), _answers(outcome)
        assert v.audited(ALICE) == len(decided)

    check("an approver and the expiry sweep", race, invariant)


def test_a_decision_racing_a_duplicate_registration_event_counts_and_asks_nobody_twice(sb):
    from steward.approvals import service

    def race() -> Race:
        v = Version(sb)
        alice, csrf = v.link(ALICE)
        return Race(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, v.deps, _now()),
                lambda: sb.invoke("request_approval", v.registered),  # EventBridge delivering it again
            ],
            v,
        )

    def invariant(v: Version, outcome: Outcome) -> None:
        assert outcome.errors == [None, None], outcome.errors
        decision, redelivery = outcome.results
        assert decision.problem in ((None, "used") if outcome.crashed[0] else (None,)), decision.problem
        assert redelivery["ok"], redelivery
        assert redelivery["result"]["outcome"] in ("duplicate", "resumed"), redelivery["result"]
        request = v.request()
        assert request.status == "pending" and v.decisions() == [ALICE]  # not reset, not counted twice
        v.settle()
        asked = v.asked()
        assert sorted(asked) == sorted(request.approvers), asked  # each approver asked once
        assert v.audited(ALICE) == 1

    check("a decision and a duplicate registration event", race, invariant)


def test_the_slack_button_and_the_emailed_link_of_one_approver_count_once(sb):
    from steward.approvals import service

    def race() -> Race:
        v = Version(sb)
        alice, csrf = v.link(ALICE)
        return Race(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, v.deps, _now()),
                lambda: service.decide_by_slack(v.request_id, "U0ALICE", "steward_approve", v.deps, _now()),
            ],
            v,
        )

    def invariant(v: Version, outcome: Outcome) -> None:
        assert outcome.errors == [None, None], outcome.errors
        link, (slack, _) = outcome.results
        answers = [str(link.problem), slack]
        assert link.problem in (None, "used") and slack in ("recorded", "used"), answers
        if not any(outcome.crashed):
            assert sorted(answers) in (["None", "used"], ["recorded", "used"]), answers  # exactly one counts
        assert v.request().status == "pending" and v.decisions() == [ALICE]  # quorum 2: once
        assert v.audited(ALICE) == 1

    check("the Slack button and the emailed link of one approver", race, invariant)
