"""The one place promotion's effects are applied (promotion.machine says which, in which order).

Each effect is idempotent, so a retry after a crash or a throttled call completes what a saved state
implies: the lineage record is keyed by the state's revision, notifications carry dedupe keys, the next
stage's deployment id derives from what asked for it, the lock release is conditional. The lock goes
last but one: while it is held, the endpoint's next event finds this deployment and settles it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from steward.kernel.errors import NotFoundError, StaleEventError
from steward.notify.models import Kind
from steward.policy import Policy, Stage
from steward.promotion import integration, machine, records
from steward.promotion.deps import Deps, sagemaker_of
from steward.promotion.models import ACTIVE, Deployment


def settle(deployment: Deployment, deps: Deps, now: datetime, policy: Policy | None) -> dict[str, Any]:
    """Apply everything the saved state `deployment` implies (with `policy`, what follows its end too)."""
    stage = stage_for(policy, deployment) if policy is not None else None
    effects = machine.effects_of(deployment, stage, follow_on=policy is not None)
    return apply(effects, deployment, deps, now, policy)


def apply(
    effects: tuple[machine.Effect, ...],
    deployment: Deployment,
    deps: Deps,
    now: datetime,
    policy: Policy | None,
) -> dict[str, Any]:
    """Apply `effects` of the saved state `deployment`, in order; the result says what followed."""
    result: dict[str, Any] = {"deployment": deployment.id}
    stage = stage_for(policy, deployment) if policy is not None else None
    for effect in effects:
        if isinstance(effect, machine.RecordDeployment):
            records.record(deployment, deps, effect.at or now)
        elif isinstance(effect, machine.Notify):
            sent = (
                records.test_notification(deployment)
                if effect.kind in (Kind.INTEGRATION_TEST_PASSED, Kind.INTEGRATION_TEST_FAILED)
                else records.notification(deployment, effect.kind)
            )
            deps.outbox.send(sent)
        elif isinstance(effect, machine.RunIntegrationTest):
            assert policy is not None and stage is not None
            # The rest of the effects follow from the tested state (its own follow-ons).
            return {**result, **_test(deployment, stage, deps, now, policy)}
        elif isinstance(effect, machine.StopPromotion):
            _tested_result(result, deployment, stage)
            result["next"] = {"outcome": "stopped", "reason": effect.reason}
        elif isinstance(effect, machine.AdvanceStage):
            assert policy is not None
            _tested_result(result, deployment, stage)
            result["next"] = _advance(deployment, policy, deps, now)
        elif isinstance(effect, machine.ReleaseEndpoint):
            deps.store.release(deployment.endpoint_arn, deployment.id)
        elif isinstance(effect, machine.StartNextQueued):
            assert policy is not None
            queued = next_queued(deployment.endpoint_arn, policy, deps, now)
            if queued:
                result["queued"] = queued
    return result


def conclude(
    step: machine.Transition, deployment: Deployment, deps: Deps, now: datetime, policy: Policy | None
) -> dict[str, Any]:
    """Save an end (a transition to succeeded, rolled-back or failed) and apply its effects. When another
    invocation ended it first, its effects are finished instead (they may have been cut short)."""
    assert step.state is not None
    try:
        ended = deps.store.save(step.state)
    except StaleEventError:
        fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
        if fresh is not None and fresh.status not in ACTIVE:
            settle(fresh, deps, now, policy)
        return {"outcome": "duplicate", "deployment": deployment.id}
    return {
        "outcome": step.outcome,
        "endpoint": ended.endpoint,
        **apply(step.effects, ended, deps, now, policy),
    }


def _tested_result(result: dict[str, Any], deployment: Deployment, stage: Stage | None) -> None:
    if stage is not None and stage.integration_test is not None:
        result["integrationTest"] = deployment.integration_test


def _test(deployment: Deployment, stage: Stage, deps: Deps, now: datetime, policy: Policy) -> dict[str, Any]:
    """Run the stage's integration test once (a retry finds the saved result), record it with the
    deployment and tell people, then what follows. The endpoint's lock is still held: nothing else
    deploys meanwhile."""
    test = stage.integration_test
    assert test is not None
    endpoint, sagemaker = deployment.endpoint, sagemaker_of(deps, deployment)
    try:
        requests = list(test.requests)
        if test.requests_s3_uri:
            requests += integration.load_lines(deps.endpoints.sample_requests(test.requests_s3_uri))
    except (NotFoundError, ValueError) as exc:
        result = integration.not_run(f"sample requests could not be read: {exc}")
    else:
        result = integration.run(
            test, requests, lambda body, ctype, accept: sagemaker.invoke(endpoint, body, ctype, accept)
        )
    step = machine.transition(deployment, machine.Tested(result, now), stage)
    if step.state is None:
        return apply(machine.follow_ons(deployment, stage), deployment, deps, now, policy)
    try:
        tested = deps.store.save(step.state)
    except StaleEventError:  # another invocation tested it meanwhile: its result stands
        fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
        done = fresh if fresh is not None and fresh.integration_test is not None else None
        if done is None:  # its result is not readable: go on rather than test twice
            rest = (machine.AdvanceStage(), machine.ReleaseEndpoint(), machine.StartNextQueued())
            return apply(rest, deployment, deps, now, policy)
        return apply(machine.follow_ons(done, stage), done, deps, now, policy)
    return apply(step.effects, tested, deps, now, policy)


def _advance(done: Deployment, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any] | None:
    """The next stage after a successful one: deploy, or open its own approval request."""
    from steward.promotion.start import promote

    stages = policy.stages(done.group)
    index = done.stage_index + 1
    if index >= len(stages):
        return None
    stage = stages[index]
    if stage.requires_approval:
        if deps.request_stage_approval is None:
            return {"outcome": "waiting", "reason": f"stage {stage.name} needs an approval"}
        return deps.request_stage_approval(done, stage, index)
    if not policy.promotion(done.group).auto_advance:
        return {"outcome": "waiting", "reason": "auto_advance is off"}
    return promote(
        done.package_arn,
        done.group,
        done.version,
        done.artifact_uri,
        index,
        f"steward, after {done.stage} succeeded",
        "",
        policy,
        deps,
        now,
        approval_request=done.approval_request,
    )


def next_queued(endpoint_arn: str, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any] | None:
    """Start the first deployment queued for the endpoint (refused if its stage left the policy)."""
    from steward.promotion.start import refuse, start

    for waiting in deps.store.for_endpoint(endpoint_arn):
        if waiting.status == "queued":
            stage = stage_for(policy, waiting)
            if stage is None:
                return refuse(waiting, f"stage {waiting.stage} is no longer in the policy", deps, now)
            return start(waiting, stage, policy, deps, now)
    return None


def stage_for(policy: Policy | None, deployment: Deployment) -> Stage | None:
    if policy is None:
        return None
    return next((s for s in policy.stages(deployment.group) if s.endpoint == deployment.endpoint), None)
