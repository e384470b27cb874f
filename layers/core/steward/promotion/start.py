"""Starting a deployment: exactly the approved version, onto a free endpoint (or queued behind what
holds it), or refused with the reason. SageMaker's calls are made here; what the saved states imply is
applied by promotion.effects, and the states themselves come from promotion.machine's transitions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from steward.kernel.errors import NotFoundError, StaleEventError
from steward.policy import Policy, Stage
from steward.promotion import effects, machine, plan
from steward.promotion.deps import Deps, endpoints_of, sagemaker_of, stage_endpoint_arn
from steward.promotion.models import ACTIVE, Deployment, RollbackCommand
from steward.promotion.records import group_of, version_of

BUSY = machine.BUSY


def _authorisation(
    package: str,
    artifact: str | None,
    policy: Policy,
    group: str,
    deps: Deps,
    stage: str,
    request_id: str | None = None,
) -> tuple[str | None, list[str], list[str], str | None]:
    """(approval request id, approvers, warnings, refusal) for deploying `package`."""
    from steward.approvals.models import ApprovalRequest

    request = deps.approvals.get(request_id or ApprovalRequest.id_for(package))
    problem = None
    if request is None:
        problem = "no Steward approval record for this package (approved outside Steward)"
    elif request.status != "approved":
        problem = f"its approval record is {request.status}, not approved"
    elif request.package_arn.lower() != package.lower():
        problem = "the approval record is for another package"
    elif getattr(request, "stage", None) and request.stage != stage:
        problem = f"the approval record is for stage {request.stage}, not {stage}"
    elif request.artifact_uri and artifact and request.artifact_uri != artifact:
        problem = f"the artifact changed since approval ({request.artifact_uri} → {artifact})"
    if problem is None:
        return request.id, request.approvals(), [], None
    if policy.promotion(group).unapproved == "deploy-with-warning":
        return None, [], [f"deployed without a valid approval: {problem}"], None
    return None, [], [], problem


def promote(
    package: str,
    group: str,
    version: int | None,
    artifact: str | None,
    stage_index: int,
    requested_by: str,
    reason: str,
    policy: Policy,
    deps: Deps,
    now: datetime,
    approval_request: str | None = None,
) -> dict[str, Any]:
    """Deploy `package` to stage `stage_index` of its group (the approval record must allow it)."""
    stages = policy.stages(group)
    stage = stages[stage_index]
    endpoint_arn = stage_endpoint_arn(package, stage, deps)
    request_id, approvers, warnings, refusal = _authorisation(
        package, artifact, policy, group, deps, stage.name, approval_request
    )
    deployment = Deployment(
        id=Deployment.id_for(package, endpoint_arn, "promotion"),
        endpoint=stage.endpoint,
        endpoint_arn=endpoint_arn,
        group=group,
        stage=stage.name,
        stage_index=stage_index,
        package_arn=package,
        version=version,
        approval_request=request_id,
        approved_by=approvers,
        artifact_uri=artifact,
        requested_by=requested_by,
        reason=reason,
        warnings=warnings + plan.warnings_for(stage),
        created_at=now,
    )
    if refusal:
        return refuse(deployment, refusal, deps, now)
    return begin(deployment, stage, policy, deps, now)


def begin(deployment: Deployment, stage: Stage, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any]:
    if not deps.store.create(deployment):
        existing = deps.store.get(deployment.endpoint_arn, deployment.id)
        if existing is not None and existing.status == "refused":
            # Refused before (no approval yet) and authorised now: the same deployment starts afresh.
            try:
                existing = deps.store.save(deployment.model_copy(update={"revision": existing.revision}))
            except StaleEventError:  # another invocation took it first
                return {"outcome": "duplicate", "deployment": deployment.id, "status": "refused"}
        if existing is None or existing.status != "queued":
            if existing is not None:  # a retry: what the first attempt saved may not have had its effects
                effects.settle(existing, deps, now, policy)
            return {
                "outcome": "duplicate",
                "deployment": deployment.id,
                "status": existing and existing.status,
            }
        deployment = existing  # a retry of a queued or interrupted start
    return start(deployment, stage, policy, deps, now)


def start(deployment: Deployment, stage: Stage, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any]:
    """Take the endpoint and call SageMaker, or queue behind what holds it."""
    if deps.name_prefix and not deployment.endpoint.startswith(deps.name_prefix):
        return refuse(deployment, f"endpoint {deployment.endpoint} is outside the managed prefix", deps, now)
    if not deps.execution_role_arn:
        return refuse(deployment, "no execution role: deploy the stack with ModelExecutionRoleArn", deps, now)
    try:
        sagemaker = sagemaker_of(deps, deployment)
    except NotFoundError as exc:  # another account, and no role there: nothing can be deployed
        return refuse(deployment, str(exc), deps, now)
    endpoint = sagemaker.describe_endpoint(deployment.endpoint)
    name = plan.resource_name(deployment.group, deployment.version, deployment.suffix)
    if endpoint and name in (endpoint["config"], endpoint.get("pending")):
        return _resume(deployment, endpoint, name, policy, deps, now)
    serving_package = (
        sagemaker.config_package(endpoint["config"]) if endpoint and endpoint["config"] else None
    )
    serving_version = version_of(serving_package)
    if deployment.kind == "promotion" and serving_package:
        same_group = group_of(serving_package) == deployment.group.lower()
        if (
            serving_package.lower() == deployment.package_arn.lower()
            and endpoint
            and endpoint["status"] == "InService"
        ):
            return refuse(deployment, f"version {deployment.version} is already serving", deps, now)
        if same_group and serving_version and deployment.version and deployment.version < serving_version:
            return refuse(
                deployment,
                f"version {deployment.version} is older than version {serving_version} serving on "
                f"{deployment.endpoint}; `steward rollback --to {deployment.version}` can downgrade",
                deps,
                now,
            )
    lease = policy.promotion(deployment.group).lock_lease_seconds
    if not deps.store.acquire(deployment.endpoint_arn, deployment.id, now, lease):
        return queue(deployment, "another deployment holds the endpoint", deps, now)
    if endpoint and endpoint["status"] in BUSY:
        deps.store.release(deployment.endpoint_arn, deployment.id)
        return queue(deployment, f"the endpoint is {endpoint['status']}", deps, now)
    tags = plan.tags(deployment.id, deployment.package_arn, deployment.approval_request, deployment.stage)
    previous_config = endpoint["config"] if endpoint else None
    try:
        role = plan.execution_role(deps.execution_role_arn, deployment.endpoint_arn.split(":")[4])
        sagemaker.create_model(name, deployment.package_arn, role, tags)
        capture = sagemaker.data_capture(previous_config) if previous_config else None
        sagemaker.create_endpoint_config(name, plan.production_variants(stage, name), tags, capture)
        config = plan.deployment_config(stage)
        if endpoint is None or (endpoint["status"] == "Failed" and not previous_config):
            sagemaker.create_endpoint(deployment.endpoint, name, tags)
            config = {}
        else:
            sagemaker.update_endpoint(deployment.endpoint, name, config)
    except NotFoundError as exc:  # SageMaker refused the request (validation): it will not get better
        # ...unless it refused because this very deployment was started meanwhile: the lock is the
        # deployment's own, so two deliveries of its approval (or an endpoint event and the sweep starting
        # it from the queue) can both get here, and SageMaker takes one CreateEndpoint/UpdateEndpoint. The
        # other records the start as a retry would (whichever saves first), never fails it or frees the lock.
        now_moving = sagemaker.describe_endpoint(deployment.endpoint)
        if now_moving and name in (now_moving["config"], now_moving.get("pending")):
            return _resume(deployment, now_moving, name, policy, deps, now)
        deps.store.release(deployment.endpoint_arn, deployment.id)
        named = deployment.model_copy(update={"model_name": name, "config_name": name})
        return effects.conclude(
            machine.ended(named, "failed", str(exc), now, stage), named, deps, now, policy
        )
    accepted = machine.Accepted(name, previous_config, serving_version, config or None, endpoint is None, now)
    step = machine.transition(deployment, accepted)
    assert step.state is not None  # a queued deployment (begin and next_queued start nothing else)
    try:
        started = deps.store.save(step.state)
    except StaleEventError:  # an endpoint event found the update under way and recorded it first
        return _moved_on(step.state, deps, now, policy)
    effects.apply(step.effects, started, deps, now, policy)
    return {"outcome": "started", "deployment": started.id, "endpoint": started.endpoint, "config": name}


def _resume(
    deployment: Deployment, endpoint: dict[str, Any], name: str, policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """A retry after SageMaker accepted this deployment's call (the answer, or what followed, was lost):
    the endpoint already moves to (or serves) this deployment's config. Record it; call nothing again."""
    lease = policy.promotion(deployment.group).lock_lease_seconds
    if not deps.store.acquire(deployment.endpoint_arn, deployment.id, now, lease):
        return queue(deployment, "another deployment holds the endpoint", deps, now)
    stage = effects.stage_for(policy, deployment)
    config = plan.deployment_config(stage) if stage and endpoint["config"] else None
    step = machine.transition(deployment, machine.Resumed(name, config, now))
    try:
        started = deps.store.save(step.state) if step.state is not None else deployment
    except StaleEventError:  # the other delivery (or the sweep) resumed it first
        return _moved_on(deployment, deps, now, policy)
    effects.settle(started, deps, now, policy)
    if endpoint["status"] == "InService" and endpoint["config"] == name:
        return effects.conclude(
            machine.ended(started, "succeeded", None, now, stage), started, deps, now, policy
        )
    return {"outcome": "started", "deployment": started.id, "endpoint": started.endpoint, "config": name}


def queue(deployment: Deployment, why: str, deps: Deps, now: datetime) -> dict[str, Any]:
    """Wait for the endpoint (recorded once per reason)."""
    step = machine.transition(deployment, machine.Queue(why, now))
    if step.state is not None:
        try:
            queued = deps.store.save(step.state)
        except StaleEventError:  # the other delivery queued (or started) it first
            return _moved_on(deployment, deps, now, None)
        effects.apply(step.effects, queued, deps, now, None)
    return {"outcome": "queued", "deployment": deployment.id, "reason": why}


def _moved_on(deployment: Deployment, deps: Deps, now: datetime, policy: Policy | None) -> dict[str, Any]:
    """Another invocation moved the deployment first (its write landed): what it saved stands; finish
    what that implies (idempotently) and answer duplicate."""
    fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
    if fresh is not None and fresh.status != "queued":
        effects.settle(fresh, deps, now, policy if fresh.status not in ACTIVE else None)
    return {"outcome": "duplicate", "deployment": deployment.id, "status": fresh and fresh.status}


def refuse(deployment: Deployment, why: str, deps: Deps, now: datetime) -> dict[str, Any]:
    """Refuse it, with the reason (recorded and told; a new deployment is created refused)."""
    step = machine.transition(deployment, machine.Refuse(why, now))
    if step.state is None:  # it moved on meanwhile: nothing to refuse
        return {"outcome": "duplicate", "deployment": deployment.id, "status": deployment.status}
    refused = step.state
    if deployment.revision == 0 and not deps.store.create(refused):
        existing = deps.store.get(deployment.endpoint_arn, deployment.id)
        if existing is not None and existing.status != "queued":
            effects.settle(existing, deps, now, None)
            return {"outcome": "duplicate", "deployment": deployment.id, "status": existing.status}
        refused = refused.model_copy(update={"revision": existing.revision if existing else 0})
        refused = deps.store.save(refused)
    elif deployment.revision > 0:
        refused = deps.store.save(refused)
    effects.apply(step.effects, refused, deps, now, None)
    return {"outcome": "refused", "deployment": deployment.id, "reason": why}


# --- rollback ---------------------------------------------------------------------------------------


def rollback(
    command: RollbackCommand, history: list[dict[str, Any]], policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """Redeploy the previous (or named) version on an endpoint, through the same path, as a rollback.

    `history` is the endpoint's deployment history (lineage.deployments), so versions deployed before
    Steward or outside it count too.
    """
    name = command.endpoint_arn.rsplit("/", 1)[-1]
    sagemaker = endpoints_of(deps, command.endpoint_arn)  # of the endpoint's account
    endpoint = sagemaker.describe_endpoint(name)
    if endpoint is None:
        raise NotFoundError(f"no endpoint {name}")
    current = sagemaker.config_package(endpoint["config"]) if endpoint["config"] else None
    if current is None:
        raise NotFoundError(f"{name} does not serve a model package Steward can roll back from")
    group = group_of(current)
    target = None
    if command.to_version is not None:
        target = current.rsplit("/", 1)[0] + f"/{command.to_version}"
    else:
        for entry in reversed(history):
            if entry.get("outcome") != "succeeded":
                continue
            for version in entry.get("previousVersions") or []:
                if version["modelPackageArn"].lower() != current.lower():
                    target = version["modelPackageArn"]
                    break
            if target:
                break
    if target is None:
        raise NotFoundError(f"no earlier version of {name} in its deployment history")
    package = deps.endpoints.describe_package(target)
    if package["status"] != "Approved":
        raise NotFoundError(
            f"version {package['version']} is {package['status']} in the registry, not Approved"
        )
    stages = policy.stages(package["group"] or group)
    index = next((i for i, s in enumerate(stages) if s.endpoint == name), None)
    if index is None:
        raise NotFoundError(f"{name} is not a promotion stage of {package['group']}")
    deployment = Deployment(
        id=Deployment.id_for(target, command.endpoint_arn, "rollback", command.request_id),
        kind="rollback",
        endpoint=name,
        endpoint_arn=command.endpoint_arn.lower(),
        group=package["group"] or group,
        stage=stages[index].name,
        stage_index=index,
        package_arn=package["arn"],
        version=package["version"],
        artifact_uri=package["artifact"],
        requested_by=command.requested_by,
        reason=command.reason,
        rollback_request=command.request_id,
        created_at=now,
    )
    return begin(deployment, stages[index], policy, deps, now)


def unplaceable_rollback(command: RollbackCommand, now: datetime) -> Deployment:
    name = command.endpoint_arn.rsplit("/", 1)[-1]
    return Deployment(
        id=Deployment.id_for("", command.endpoint_arn, "rollback", command.request_id),
        kind="rollback",
        endpoint=name,
        endpoint_arn=command.endpoint_arn.lower(),
        group="unknown",
        stage="unknown",
        stage_index=0,
        package_arn=f"{command.endpoint_arn.lower()}/unknown-version",
        version=command.to_version,
        requested_by=command.requested_by,
        reason=command.reason,
        rollback_request=command.request_id,
        created_at=now,
    )
