"""Promotion as a state machine (pure): `transition(deployment, observation) -> Transition(state, effects)`.

A deployment (models.Deployment, its status typed) moves queued → started → succeeded | rolled-back |
failed, or queued → refused (and refused → queued again once an approval exists). What moves it is an
observation: what DescribeEndpoint says of its endpoint (`EndpointSeen`, from the endpoint's event or the
reconciler: the outcome rule below decides, once for both), a step of the deployment's own events
(`DeploymentStep`), a reason to wait or to refuse (`Queue`, `Refuse`), the result of the stage's
integration test (`Tested`). An observation that does not apply to the state (stale, duplicate,
out of order) is ignored: the transition says why and changes nothing.

Effects are typed values (below), derived from the state they follow (`effects_of`): the one place that
applies them is promotion.effects.settle, each idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from steward.kernel.times import iso_z
from steward.notify.models import Kind
from steward.policy import Stage
from steward.promotion.integration import summary
from steward.promotion.models import ACTIVE, NODE_STATUS, Deployment, Progress

BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
Ending = Literal["succeeded", "rolled-back", "failed"]

# --- observations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointTruth:
    """What DescribeEndpoint says of the deployment's endpoint ("Deleted" when it is gone)."""

    status: str
    config: str | None = None
    failure_reason: str | None = None

    @classmethod
    def of(cls, described: dict[str, Any] | None) -> EndpointTruth:
        if not described:
            return cls("Deleted")
        return cls(str(described["status"]), described.get("config"), described.get("failureReason"))


@dataclass(frozen=True)
class EndpointSeen:
    truth: EndpointTruth
    found_by: Literal["event", "reconciler"]
    at: datetime


@dataclass(frozen=True)
class DeploymentStep:
    """A step of the endpoint's events while the deployment runs (e.g. "Updating (Baking)")."""

    status: str
    at: datetime


@dataclass(frozen=True)
class Queue:
    why: str
    at: datetime


@dataclass(frozen=True)
class Refuse:
    why: str
    at: datetime


@dataclass(frozen=True)
class Accepted:
    """SageMaker accepted the deployment's calls (CreateModel, CreateEndpointConfig, then CreateEndpoint
    or UpdateEndpoint): the endpoint moves to config `name`."""

    name: str
    previous_config: str | None
    previous_version: int | None
    deployment_config: dict[str, Any] | None
    created: bool  # CreateEndpoint (a new endpoint) rather than UpdateEndpoint
    at: datetime


@dataclass(frozen=True)
class Resumed:
    """A retry found the endpoint already moving to (or serving) the deployment's config `name`: SageMaker
    accepted the first attempt's calls, whose answer was lost."""

    name: str
    deployment_config: dict[str, Any] | None
    at: datetime


@dataclass(frozen=True)
class Tested:
    """The stage's integration test ran (promotion.integration.run's result)."""

    result: dict[str, Any]
    at: datetime


Observation = EndpointSeen | DeploymentStep | Queue | Refuse | Accepted | Resumed | Tested

# --- effects ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordDeployment:
    """The state as a `deployment` node of the lineage (and the endpoint's summaries once ended), at
    `at` (None: when it is applied)."""

    at: datetime | None = None


@dataclass(frozen=True)
class Notify:
    kind: Kind


@dataclass(frozen=True)
class RunIntegrationTest:
    """Invoke the stage's endpoint with its sample requests; the result is observed as `Tested`."""


@dataclass(frozen=True)
class AdvanceStage:
    """Deploy to the next stage, or open its own approval request."""


@dataclass(frozen=True)
class StopPromotion:
    reason: str


@dataclass(frozen=True)
class ReleaseEndpoint:
    """Give the endpoint's lock back (last but one: while it is held, the next event settles again)."""


@dataclass(frozen=True)
class StartNextQueued:
    """Start the deployment that waited for this endpoint."""


Effect = (
    RecordDeployment
    | Notify
    | RunIntegrationTest
    | AdvanceStage
    | StopPromotion
    | ReleaseEndpoint
    | StartNextQueued
)


@dataclass(frozen=True)
class Transition:
    state: Deployment | None  # None: ignored, nothing to save
    effects: tuple[Effect, ...] = ()
    outcome: str = "ignored"  # what the use case reports (ended: the new status; busy; progress; ...)
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- the outcome rule (written once) ------------------------------------------------------------------


def judge(deployment: Deployment, truth: EndpointTruth, found_by: str) -> tuple[Ending, str | None] | None:
    """How a started deployment ended, from DescribeEndpoint (whatever the events said): InService on
    its config succeeded, InService on another config rolled back, anything else failed. None while the
    endpoint is still busy."""
    if truth.status in BUSY:
        return None
    if truth.status == "InService" and truth.config == deployment.config_name:
        return "succeeded", None
    if truth.status == "InService":
        said = (
            f"InService on {truth.config} (found by the reconciler)"
            if found_by == "reconciler"
            else f"the endpoint is InService on {truth.config}, not {deployment.config_name}"
        )
        return "rolled-back", truth.failure_reason or said
    return "failed", truth.failure_reason or f"the endpoint is {truth.status}"


# --- transitions --------------------------------------------------------------------------------------


def transition(
    deployment: Deployment, observation: Observation, stage: Stage | None = None, follow_on: bool = True
) -> Transition:
    """The next state of `deployment` after `observation`, and the effects it implies. `stage`: the
    deployment's stage in the policy (its integration test); `follow_on`: whether an end sets off what
    follows it (the next stage, the endpoint's release), as it does wherever the policy is at hand."""
    if isinstance(observation, EndpointSeen):
        return _endpoint_seen(deployment, observation, stage, follow_on)
    if isinstance(observation, DeploymentStep):
        return _step(deployment, observation)
    if isinstance(observation, Queue):
        return _queue(deployment, observation)
    if isinstance(observation, Refuse):
        return _refuse(deployment, observation)
    if isinstance(observation, Accepted | Resumed):
        return _accepted(deployment, observation)
    return _tested(deployment, observation, stage)


def _endpoint_seen(
    deployment: Deployment, seen: EndpointSeen, stage: Stage | None, follow_on: bool
) -> Transition:
    if deployment.status != "started":
        return Transition(None, reason=f"the deployment is {deployment.status}")  # stale or out of order
    verdict = judge(deployment, seen.truth, seen.found_by)
    if verdict is None:
        return Transition(None, outcome="busy", reason=f"the endpoint is {seen.truth.status}")
    return ended(deployment, verdict[0], verdict[1], seen.at, stage, follow_on)


def ended(
    deployment: Deployment,
    status: Ending,
    reason: str | None,
    at: datetime,
    stage: Stage | None = None,
    follow_on: bool = True,
) -> Transition:
    """The end of a deployment (also when SageMaker refused the first call: failed)."""
    state = deployment.model_copy(
        update={
            "status": status,
            "failure_reason": reason,
            "ended_at": at,
            "progress": [*deployment.progress, Progress(at=at, status=NODE_STATUS[status], detail=reason)],
        }
    )
    return Transition(state, effects_of(state, stage, follow_on), outcome=status)


def _step(deployment: Deployment, step: DeploymentStep) -> Transition:
    if deployment.status != "started":
        return Transition(None, reason=f"the deployment is {deployment.status}")
    if any(p.status == step.status and p.at == step.at for p in deployment.progress):
        return Transition(None, outcome="duplicate")
    state = deployment.model_copy(
        update={"progress": [*deployment.progress, Progress(at=step.at, status=step.status)]}
    )
    return Transition(state, outcome="progress", extra={"status": step.status})


def _queue(deployment: Deployment, queue: Queue) -> Transition:
    if deployment.status not in ACTIVE:
        return Transition(None, reason=f"the deployment is {deployment.status}")
    if deployment.status == "queued" and deployment.progress and deployment.progress[-1].detail == queue.why:
        return Transition(None, outcome="queued", reason=queue.why)  # queued for that already
    state = deployment.model_copy(
        update={
            "status": "queued",
            "progress": [*deployment.progress, Progress(at=queue.at, status="Queued", detail=queue.why)],
        }
    )
    return Transition(state, (RecordDeployment(),), outcome="queued", reason=queue.why)


def _refuse(deployment: Deployment, refuse: Refuse) -> Transition:
    if deployment.status not in ("queued", "refused"):
        return Transition(None, reason=f"the deployment is {deployment.status}")
    state = deployment.model_copy(
        update={"status": "refused", "failure_reason": refuse.why, "ended_at": refuse.at}
    )
    return Transition(state, effects_of(state, None, follow_on=False), outcome="refused", reason=refuse.why)


def _accepted(deployment: Deployment, accepted: Accepted | Resumed) -> Transition:
    if deployment.status == "started" and isinstance(accepted, Resumed):
        return Transition(None, outcome="started", reason="started already")  # record it again, no more
    if deployment.status != "queued":
        return Transition(None, reason=f"the deployment is {deployment.status}")
    if isinstance(accepted, Accepted):
        update: dict[str, Any] = {
            "previous_config": accepted.previous_config,
            "previous_version": accepted.previous_version,
            "created": accepted.created,
            "started_at": accepted.at,
            "progress": [
                *deployment.progress,
                Progress(at=accepted.at, status="Creating" if accepted.created else "Updating"),
            ],
        }
    else:
        update = {
            "started_at": deployment.started_at or accepted.at,
            "progress": [*deployment.progress, Progress(at=accepted.at, status="Resumed")],
        }
    state = deployment.model_copy(
        update={
            "status": "started",
            "model_name": accepted.name,
            "config_name": accepted.name,
            "deployment_config": accepted.deployment_config,
            **update,
        }
    )
    return Transition(state, effects_of(state, None), outcome="started")


def _tested(deployment: Deployment, tested: Tested, stage: Stage | None) -> Transition:
    if deployment.status != "succeeded" or deployment.integration_test is not None:
        return Transition(None, outcome="duplicate", reason="tested already")  # its first result stands
    result = {**tested.result}
    # Recorded after the deployment's own end (the lineage keeps a node's states in time order).
    at = tested.at + timedelta(milliseconds=1 + int(1000 * float(result.get("seconds") or 0)))
    result["at"] = iso_z(at)
    state = deployment.model_copy(
        update={
            "integration_test": result,
            "progress": [*deployment.progress, Progress(at=at, status="Tested", detail=summary(result))],
        }
    )
    passed = bool(result.get("passed"))
    kind = Kind.INTEGRATION_TEST_PASSED if passed else Kind.INTEGRATION_TEST_FAILED
    effects = (RecordDeployment(at), Notify(kind), *follow_ons(state, stage))
    return Transition(state, effects, outcome="tested")


# --- what a saved state implies -----------------------------------------------------------------------

_KINDS = {
    "started": Kind.DEPLOYMENT_STARTED,
    "succeeded": Kind.DEPLOYMENT_SUCCEEDED,
    "failed": Kind.DEPLOYMENT_FAILED,
    "rolled-back": Kind.DEPLOYMENT_ROLLED_BACK,
    "refused": Kind.DEPLOYMENT_FAILED,
}


def effects_of(deployment: Deployment, stage: Stage | None, follow_on: bool = True) -> tuple[Effect, ...]:
    """The effects of a saved state, in the order they are applied: its record and its notifications,
    then, once it has ended (and `follow_on`), what follows it (follow_ons)."""
    effects: list[Effect] = [RecordDeployment()]
    if deployment.started_at and deployment.status != "started":  # its start was told (or is now)
        effects.append(Notify(Kind.DEPLOYMENT_STARTED))
    if deployment.status in _KINDS:
        effects.append(Notify(_KINDS[deployment.status]))
    if deployment.status in ACTIVE or not follow_on:
        return tuple(effects)
    return (*effects, *follow_ons(deployment, stage))


def follow_ons(deployment: Deployment, stage: Stage | None) -> tuple[Effect, ...]:
    """After an end: a successful promotion is tested (when its stage says so) and then advances, or
    stops on a failed test; then the endpoint is released and what queued for it starts. `stage`: the
    deployment's stage in the policy (None: no longer in it, so nothing to test)."""
    effects: list[Effect] = []
    if deployment.status == "succeeded" and deployment.kind == "promotion":
        tested = deployment.integration_test
        if tested is None and stage is not None and stage.integration_test is not None:
            effects.append(RunIntegrationTest())  # applied: observed as Tested, then follow_ons again
            return tuple(effects)
        if tested is not None and not tested.get("passed"):
            effects.append(StopPromotion(f"stage {deployment.stage}: {summary(tested)}"))
        else:
            effects.append(AdvanceStage())
    return (*effects, ReleaseEndpoint(), StartNextQueued())
