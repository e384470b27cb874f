"""Promotion's state machine (promotion.machine) over every state and observation, and the one place its
effects are applied (promotion.effects) with in-memory fakes: what each observation does to each state,
including the ones it ignores (stale, duplicate, out of order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from steward.kernel.errors import StaleEventError
from steward.notify.models import Kind
from steward.policy import Policy, Stage
from steward.promotion import effects, machine
from steward.promotion.deps import Deps
from steward.promotion.machine import (
    Accepted,
    AdvanceStage,
    DeploymentStep,
    EndpointSeen,
    EndpointTruth,
    Notify,
    Queue,
    RecordDeployment,
    Refuse,
    ReleaseEndpoint,
    Resumed,
    RunIntegrationTest,
    StartNextQueued,
    StopPromotion,
    transition,
)
from steward.promotion.models import Deployment, Progress

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
ENDPOINT = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-staging"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3"
NEW, OLD = "fraud-v3-aaaaaa", "fraud-v2-bbbbbb"


def deployment(status: str = "started", **more: Any) -> Deployment:
    values: dict[str, Any] = {
        "id": "d-1",
        "endpoint": "fraud-staging",
        "endpoint_arn": ENDPOINT,
        "group": "fraud",
        "stage": "staging",
        "stage_index": 0,
        "package_arn": PACKAGE,
        "version": 3,
        "requested_by": "test",
        "created_at": T0,
        "status": status,
    }
    if status != "queued":
        values.update(config_name=NEW, model_name=NEW, started_at=T0, previous_config=OLD)
    if status in ("succeeded", "failed", "rolled-back", "refused"):
        values["ended_at"] = T0
    return Deployment(**{**values, **more})


STATES = ["queued", "started", "succeeded", "failed", "rolled-back", "refused"]
ENDED = {
    "succeeded": (RecordDeployment(), Notify(Kind.DEPLOYMENT_STARTED), Notify(Kind.DEPLOYMENT_SUCCEEDED)),
    "rolled-back": (RecordDeployment(), Notify(Kind.DEPLOYMENT_STARTED), Notify(Kind.DEPLOYMENT_ROLLED_BACK)),
    "failed": (RecordDeployment(), Notify(Kind.DEPLOYMENT_STARTED), Notify(Kind.DEPLOYMENT_FAILED)),
}
FOLLOW = (ReleaseEndpoint(), StartNextQueued())


def seen(status: str, config: str | None = NEW, reason: str | None = None, by: str = "event") -> EndpointSeen:
    return EndpointSeen(EndpointTruth(status, config, reason), by, T1)  # type: ignore[arg-type]


# --- the outcome rule: one table for the event path and the reconciler ----------------------------------

OUTCOMES = [
    # (truth, found by, ended as, reason)
    (seen("InService"), "succeeded", None),
    (seen("InService", by="reconciler"), "succeeded", None),
    (seen("InService", OLD), "rolled-back", f"the endpoint is InService on {OLD}, not {NEW}"),
    (seen("InService", OLD, by="reconciler"), "rolled-back", f"InService on {OLD} (found by the reconciler)"),
    (seen("InService", OLD, "Alarm churn-5xx in ALARM"), "rolled-back", "Alarm churn-5xx in ALARM"),
    (seen("Failed", OLD), "failed", "the endpoint is Failed"),
    (seen("Failed", OLD, "capacity", by="reconciler"), "failed", "capacity"),
    (seen("UpdateRollbackFailed", OLD), "failed", "the endpoint is UpdateRollbackFailed"),
    (EndpointSeen(EndpointTruth.of(None), "reconciler", T1), "failed", "the endpoint is Deleted"),
]


@pytest.mark.parametrize(("observation", "status", "reason"), OUTCOMES)
def test_a_started_deployment_ends_as_describe_endpoint_says(observation, status, reason):
    step = transition(deployment(), observation)
    assert step.state is not None and step.outcome == status
    assert (step.state.status, step.state.failure_reason, step.state.ended_at) == (status, reason, T1)
    assert step.state.progress[-1] == Progress(at=T1, status=machine.NODE_STATUS[status], detail=reason)
    assert step.effects == ENDED[status] + ((AdvanceStage(),) if status == "succeeded" else ()) + FOLLOW


@pytest.mark.parametrize("busy", sorted(machine.BUSY))
def test_a_busy_endpoint_ends_nothing(busy):
    step = transition(deployment(), seen(busy, OLD))
    assert (step.state, step.effects, step.outcome) == (None, (), "busy")


@pytest.mark.parametrize("state", [s for s in STATES if s != "started"])
def test_what_the_endpoint_says_of_a_deployment_not_started_is_ignored(state):
    step = transition(deployment(state), seen("InService"))
    assert (step.state, step.effects, step.outcome) == (None, (), "ignored")
    assert step.reason == f"the deployment is {state}"


def test_an_end_without_follow_ons_records_and_tells_only():
    step = transition(deployment(), seen("InService"), follow_on=False)
    assert step.effects == ENDED["succeeded"]


def test_a_success_on_a_stage_with_an_integration_test_runs_it_before_anything_follows():
    stage = Stage.model_validate(
        {
            "name": "staging",
            "endpoint": "fraud-staging",
            "integration_test": {"requests": [{"body": {"x": 1}}]},
        }
    )
    step = transition(deployment(), seen("InService"), stage)
    assert step.effects == (*ENDED["succeeded"], RunIntegrationTest())


def test_a_rollback_is_never_advanced():
    step = transition(deployment(kind="rollback"), seen("InService"))
    assert step.effects == (*ENDED["succeeded"], *FOLLOW)


# --- the deployment's own steps -------------------------------------------------------------------------


def test_a_step_is_kept_once():
    step = transition(deployment(), DeploymentStep("Updating (Baking)", T1))
    assert step.state is not None and step.outcome == "progress" and step.effects == ()
    assert step.state.progress[-1] == Progress(at=T1, status="Updating (Baking)")
    again = transition(step.state, DeploymentStep("Updating (Baking)", T1))
    assert (again.state, again.outcome) == (None, "duplicate")


@pytest.mark.parametrize("state", [s for s in STATES if s != "started"])
def test_a_step_after_the_end_or_before_the_start_is_ignored(state):
    assert transition(deployment(state), DeploymentStep("Updating", T1)).state is None


# --- queue, refuse, start -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "queued"), [(s, s in ("queued", "started")) for s in STATES]
)  # fmt: skip
def test_only_an_active_deployment_queues(state, queued):
    step = transition(deployment(state), Queue("the endpoint is Updating", T1))
    assert (step.state is not None) is queued
    if queued:
        assert step.state.status == "queued" and step.effects == (RecordDeployment(),)
        assert step.state.progress[-1] == Progress(at=T1, status="Queued", detail="the endpoint is Updating")
        # queued again for the same reason: nothing new
        again = transition(step.state, Queue("the endpoint is Updating", T1 + timedelta(seconds=1)))
        assert (again.state, again.outcome) == (None, "queued")
        other = transition(step.state, Queue("another deployment holds the endpoint", T1))
        assert other.state is not None and len(other.state.progress) == len(step.state.progress) + 1


@pytest.mark.parametrize(("state", "refused"), [(s, s in ("queued", "refused")) for s in STATES])
def test_a_deployment_is_refused_before_it_starts_only(state, refused):
    step = transition(deployment(state), Refuse("no approval record", T1))
    assert (step.state is not None) is refused
    if refused:
        assert (step.state.status, step.state.failure_reason, step.state.ended_at) == (
            "refused",
            "no approval record",
            T1,
        )
        told = Notify(Kind.DEPLOYMENT_FAILED)
        started = (Notify(Kind.DEPLOYMENT_STARTED),) if step.state.started_at else ()
        assert step.effects == (RecordDeployment(), *started, told)  # nothing follows a refusal


def test_accepted_starts_a_queued_deployment_on_its_config():
    accepted = Accepted(NEW, OLD, 2, {"BlueGreenUpdatePolicy": {}}, False, T1)
    step = transition(deployment("queued"), accepted)
    assert step.state is not None and step.outcome == "started"
    s = step.state
    assert (s.status, s.config_name, s.model_name, s.previous_config, s.previous_version) == (
        "started",
        NEW,
        NEW,
        OLD,
        2,
    )
    assert (s.started_at, s.created, s.progress[-1].status) == (T1, False, "Updating")
    assert step.effects == (RecordDeployment(), Notify(Kind.DEPLOYMENT_STARTED))
    created = transition(deployment("queued"), Accepted(NEW, None, None, None, True, T1)).state
    assert created is not None and created.progress[-1].status == "Creating" and created.created


@pytest.mark.parametrize("state", [s for s in STATES if s != "queued"])
def test_accepted_twice_or_after_the_end_is_ignored(state):
    assert transition(deployment(state), Accepted(NEW, OLD, 2, None, False, T1)).state is None


def test_a_resumed_start_keeps_its_first_start_time_and_is_not_started_twice():
    step = transition(deployment("queued", started_at=T0), Resumed(NEW, None, T1))
    assert step.state is not None and (step.state.started_at, step.state.progress[-1].status) == (
        T0,
        "Resumed",
    )
    again = transition(step.state, Resumed(NEW, None, T1))
    assert (again.state, again.outcome) == (None, "started")


# --- the integration test -------------------------------------------------------------------------------


@pytest.mark.parametrize(("passed", "then"), [(True, AdvanceStage()), (False, None)])
def test_a_test_result_is_recorded_after_the_end_and_decides_what_follows(passed, then):
    result = {"passed": passed, "cases": 2, "failedCases": 0 if passed else 1, "seconds": 0.25}
    step = transition(deployment("succeeded"), machine.Tested(result, T1))
    assert step.state is not None and step.state.integration_test is not None
    at = T1 + timedelta(milliseconds=251)
    assert step.state.progress[-1].at == at and step.state.progress[-1].status == "Tested"
    kind = Kind.INTEGRATION_TEST_PASSED if passed else Kind.INTEGRATION_TEST_FAILED
    follows = (
        then
        if then is not None
        else StopPromotion(f"stage staging: {machine.summary(step.state.integration_test)}")
    )
    assert step.effects == (RecordDeployment(at), Notify(kind), follows, *FOLLOW)


@pytest.mark.parametrize("state", STATES)
def test_a_second_test_result_or_one_for_a_deployment_that_did_not_succeed_is_ignored(state):
    tested = (
        deployment(state, integration_test={"passed": True}) if state == "succeeded" else deployment(state)
    )
    step = transition(tested, machine.Tested({"passed": False}, T1))
    assert (step.state, step.outcome) == (None, "duplicate")


# --- applying effects, with fakes -----------------------------------------------------------------------


class FakeStore:
    def __init__(self, *deployments: Deployment) -> None:
        self.items = {d.id: d for d in deployments}
        self.released: list[str] = []
        self.stale = False

    def create(self, d: Deployment) -> bool:
        if d.id in self.items:
            return False
        self.items[d.id] = d
        return True

    def get(self, endpoint_arn: str, deployment_id: str) -> Deployment | None:
        return self.items.get(deployment_id)

    def save(self, d: Deployment) -> Deployment:
        if self.stale or self.items[d.id].revision != d.revision:
            raise StaleEventError(d.id)
        saved = d.model_copy(update={"revision": d.revision + 1})
        self.items[d.id] = saved
        return saved

    def for_endpoint(self, endpoint_arn: str) -> list[Deployment]:
        return [d for d in self.items.values() if d.endpoint_arn == endpoint_arn]

    def acquire(self, *args: Any) -> bool:
        return True

    def release(self, endpoint_arn: str, deployment_id: str) -> None:
        self.released.append(deployment_id)

    def holder(self, endpoint_arn: str) -> None:
        return None


class FakeLineage:
    def __init__(self) -> None:
        self.changes: list[str] = []
        self.notes: list[tuple[str, str]] = []

    def apply(self, change: Any) -> str:
        from steward.kernel.errors import DuplicateEventError

        if change.event_id in self.changes:
            raise DuplicateEventError(change.event_id)
        self.changes.append(change.event_id)
        return "recorded"

    def note(self, node_id: str, attr: str, value: dict) -> bool:
        self.notes.append((node_id, attr))
        return True


class FakeOutbox:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, n: Any) -> str:
        self.sent.append(n)
        return str(len(self.sent))


def fakes(*deployments: Deployment) -> tuple[Deps, FakeStore, FakeLineage, FakeOutbox]:
    store, lineage, outbox = FakeStore(*deployments), FakeLineage(), FakeOutbox()
    deps = Deps(
        store=store, endpoints=None, approvals=None, lineage=lineage, outbox=outbox, execution_role_arn="r"
    )  # type: ignore[arg-type]
    return deps, store, lineage, outbox


POLICY = Policy.model_validate(
    {"default": {"stages": [{"name": "staging", "endpoint": "fraud-staging", "strategy": "all-at-once"}]}}
)


def test_settling_an_end_twice_records_once_tells_with_the_same_keys_and_releases_the_endpoint():
    done = deployment("succeeded", ended_at=T1)
    deps, store, lineage, outbox = fakes(done)
    first = effects.settle(done, deps, T1, POLICY)
    second = effects.settle(done, deps, T1, POLICY)
    assert first == second == {"deployment": "d-1", "next": None}  # the last stage: nothing follows
    assert len(lineage.changes) == 1  # keyed by the state's revision: the retry writes nothing twice
    assert (ENDPOINT, "serving") in lineage.notes and (ENDPOINT, "lastDeployment") in lineage.notes
    keys = [n.dedupe_key for n in outbox.sent]
    assert keys[:2] == keys[2:] == ["deployment-started:d-1", "deployment-succeeded:d-1"]
    assert store.released == ["d-1", "d-1"]


def test_a_refusal_is_settled_without_follow_ons():
    refused = deployment("refused", started_at=None, failure_reason="no approval")
    deps, store, _, outbox = fakes(refused)
    effects.settle(refused, deps, T1, None)
    assert [n.dedupe_key for n in outbox.sent] == ["deployment-failed:d-1"]
    assert store.released == []  # a refused deployment never held the endpoint


def test_an_end_another_invocation_saved_first_is_finished_not_repeated():
    started = deployment()
    deps, store, _, outbox = fakes(started)
    store.items["d-1"] = started.model_copy(update={"status": "failed", "ended_at": T0, "revision": 1})
    outcome = effects.conclude(transition(started, seen("InService")), started, deps, T1, POLICY)
    assert outcome == {"outcome": "duplicate", "deployment": "d-1"}
    assert [n.dedupe_key for n in outbox.sent] == ["deployment-started:d-1", "deployment-failed:d-1"]


def test_the_next_queued_deployment_starts_when_the_endpoint_is_released():
    done = deployment("succeeded", ended_at=T1)
    waiting = deployment("queued", id="d-2", package_arn=PACKAGE.replace("/3", "/4"), version=4)
    deps, store, _, _ = fakes(done, waiting)
    stranger = Policy.model_validate({"default": {"stages": [{"name": "prod", "endpoint": "other"}]}})
    result = effects.settle(done, deps, T1, stranger)  # the waiting one's stage left the policy
    assert result["queued"]["outcome"] == "refused"
    assert store.items["d-2"].status == "refused"
