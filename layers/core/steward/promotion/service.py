"""Use cases of promotion: deploy exactly the approved version through its stages, follow every
deployment to its end, and roll back on command.

- Start: a package newly Approved and backed by an approval record for that exact package (or per
  policy, with a warning) is deployed to the group's first stage: CreateModel from the package,
  CreateEndpointConfig, then CreateEndpoint or UpdateEndpoint with the stage's blue/green DeploymentConfig.
- One deployment per endpoint at a time (a lock with a lease); a deployment asked for while the endpoint
  is busy is queued and started when the endpoint is InService again.
- Track: endpoint events drive the record to its end, always checked with DescribeEndpoint: InService on
  the new config succeeded, InService on the old config rolled back (whatever the events said), Failed
  failed. A success advances to the next stage (automatically, or through its own approval request).
- Deployment ids derive from what asked for them, so duplicate events and commands start nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from steward.errors import DuplicateEventError, NotFoundError, StaleEventError
from steward.events import models as ev
from steward.lineage.arns import sagemaker_arn
from steward.lineage.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation
from steward.lineage.keys import iso_z
from steward.notify.models import Fact, Kind, Notification
from steward.policy import Policy, Severity, Stage
from steward.promotion import integration, plan
from steward.promotion.integration import summary
from steward.promotion.models import ACTIVE, NODE_STATUS, Deployment, Progress, RollbackCommand

BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


class Store(Protocol):
    def create(self, deployment: Deployment) -> bool: ...
    def get(self, endpoint_arn: str, deployment_id: str) -> Deployment | None: ...
    def save(self, deployment: Deployment) -> Deployment: ...
    def for_endpoint(self, endpoint_arn: str) -> list[Deployment]: ...
    def acquire(self, endpoint_arn: str, deployment_id: str, now: datetime, lease_seconds: int) -> bool: ...
    def release(self, endpoint_arn: str, deployment_id: str) -> None: ...
    def holder(self, endpoint_arn: str) -> tuple[str, int] | None: ...


class Endpoints(Protocol):
    def describe_package(self, arn: str) -> dict[str, Any]: ...
    def describe_endpoint(self, name: str) -> dict[str, Any] | None: ...
    def config_package(self, config_name: str) -> str | None: ...
    def data_capture(self, config_name: str) -> dict[str, Any] | None: ...
    def create_model(
        self, name: str, package_arn: str, role_arn: str, tags: list[dict[str, str]]
    ) -> None: ...
    def create_endpoint_config(
        self, name: str, variants: list[dict[str, Any]], tags: list[dict[str, str]], data_capture: Any
    ) -> None: ...
    def create_endpoint(self, name: str, config_name: str, tags: list[dict[str, str]]) -> None: ...
    def update_endpoint(self, name: str, config_name: str, deployment_config: dict[str, Any]) -> None: ...
    def invoke(self, endpoint: str, body: bytes, content_type: str, accept: str | None) -> Any: ...
    def sample_requests(self, uri: str) -> str: ...


class Approvals(Protocol):
    def get(self, request_id: str) -> Any: ...


class Lineage(Protocol):
    def apply(self, change: LineageChange) -> str: ...
    def note(self, node_id: str, attr: str, value: dict[str, Any]) -> bool: ...


class Outbox(Protocol):
    def send(self, notification: Notification) -> str: ...


@dataclass
class Deps:
    store: Store
    endpoints: Endpoints
    approvals: Approvals
    lineage: Lineage
    outbox: Outbox
    execution_role_arn: str
    name_prefix: str = ""
    # Opens a stage's own approval request (the approval gate's use case), for stages that need one.
    request_stage_approval: Callable[[Deployment, Stage, int], dict[str, Any]] | None = None
    log: list[str] = field(default_factory=list)


# --- starting ---------------------------------------------------------------------------------------


def on_package_event(
    event: ev.ModelPackageStateChange, policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """A package newly Approved goes to its group's first stage."""
    d = event.detail
    if d.model_approval_status != "Approved":
        return {"outcome": "ignored", "reason": f"status {d.model_approval_status}"}
    fields = d.updated_model_package_fields
    stages = policy.stages(d.group_name)
    if not stages:
        return {"outcome": "ignored", "reason": f"no promotion stages for {d.group_name}"}
    package = d.model_package_arn
    if (
        fields is not None
        and "ModelApprovalStatus" not in fields
        and not _refused_unapproved(package, stages[0], deps)
    ):
        return {"outcome": "ignored", "reason": "metadata-only update of an approved package"}
    containers = d.inference_specification.containers if d.inference_specification else []
    artifact = next((c.model_data_url for c in containers if c.model_data_url), None)
    by = "steward, on the version's approval"
    return promote(package, d.group_name, d.version, artifact, 0, by, "", policy, deps, now)


def _refused_unapproved(package: str, first: Stage, deps: Deps) -> bool:
    """Whether the version's first stage was refused for want of an approval. Approved in the registry
    first (console, SDK) and then through Steward, the package is already Approved: Steward's write-back is
    a metadata-only update, which must still start the promotion the first event could not."""
    region, account = package.split(":")[3], package.split(":")[4]
    endpoint_arn = sagemaker_arn(region, account, "endpoint", first.endpoint)
    existing = deps.store.get(endpoint_arn, Deployment.id_for(package, endpoint_arn, "promotion"))
    return existing is not None and existing.status == "refused"


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
    region, account = package.split(":")[3], package.split(":")[4]
    endpoint_arn = sagemaker_arn(region, account, "endpoint", stage.endpoint)
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
        return _refuse(deployment, refusal, deps, now)
    return _begin(deployment, stage, policy, deps, now)


def _begin(deployment: Deployment, stage: Stage, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any]:
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
                _settle(existing, deps, now, policy)
            return {
                "outcome": "duplicate",
                "deployment": deployment.id,
                "status": existing and existing.status,
            }
        deployment = existing  # a retry of a queued or interrupted start
    return _start(deployment, stage, policy, deps, now)


def _start(deployment: Deployment, stage: Stage, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any]:
    """Take the endpoint and call SageMaker, or queue behind what holds it."""
    if deps.name_prefix and not deployment.endpoint.startswith(deps.name_prefix):
        return _refuse(deployment, f"endpoint {deployment.endpoint} is outside the managed prefix", deps, now)
    if not deps.execution_role_arn:
        return _refuse(
            deployment, "no execution role: deploy the stack with ModelExecutionRoleArn", deps, now
        )
    endpoint = deps.endpoints.describe_endpoint(deployment.endpoint)
    name = plan.resource_name(deployment.group, deployment.version, deployment.suffix)
    if endpoint and name in (endpoint["config"], endpoint.get("pending")):
        return _resume(deployment, endpoint, name, policy, deps, now)
    serving_package = (
        deps.endpoints.config_package(endpoint["config"]) if endpoint and endpoint["config"] else None
    )
    serving_version = _version_of(serving_package)
    if deployment.kind == "promotion" and serving_package:
        same_group = _group_of(serving_package) == deployment.group.lower()
        if (
            serving_package.lower() == deployment.package_arn.lower()
            and endpoint
            and endpoint["status"] == "InService"
        ):
            return _refuse(deployment, f"version {deployment.version} is already serving", deps, now)
        if same_group and serving_version and deployment.version and deployment.version < serving_version:
            return _refuse(
                deployment,
                f"version {deployment.version} is older than version {serving_version} serving on "
                f"{deployment.endpoint}; `steward rollback --to {deployment.version}` can downgrade",
                deps,
                now,
            )
    lease = policy.promotion(deployment.group).lock_lease_seconds
    if not deps.store.acquire(deployment.endpoint_arn, deployment.id, now, lease):
        return _queue(deployment, "another deployment holds the endpoint", deps, now)
    if endpoint and endpoint["status"] in BUSY:
        deps.store.release(deployment.endpoint_arn, deployment.id)
        return _queue(deployment, f"the endpoint is {endpoint['status']}", deps, now)
    tags = plan.tags(deployment.id, deployment.package_arn, deployment.approval_request, deployment.stage)
    previous_config = endpoint["config"] if endpoint else None
    try:
        deps.endpoints.create_model(name, deployment.package_arn, deps.execution_role_arn, tags)
        capture = deps.endpoints.data_capture(previous_config) if previous_config else None
        deps.endpoints.create_endpoint_config(name, plan.production_variants(stage, name), tags, capture)
        config = plan.deployment_config(stage)
        if endpoint is None or (endpoint["status"] == "Failed" and not previous_config):
            deps.endpoints.create_endpoint(deployment.endpoint, name, tags)
            config = {}
        else:
            deps.endpoints.update_endpoint(deployment.endpoint, name, config)
    except NotFoundError as exc:  # SageMaker refused the request (validation): it will not get better
        # ...unless it refused because this very deployment was started meanwhile: the lock is the
        # deployment's own, so two deliveries of its approval (or an endpoint event and the sweep starting
        # it from the queue) can both get here, and SageMaker takes one CreateEndpoint/UpdateEndpoint. The
        # other records the start as a retry would (whichever saves first), never fails it or frees the lock.
        now_moving = deps.endpoints.describe_endpoint(deployment.endpoint)
        if now_moving and name in (now_moving["config"], now_moving.get("pending")):
            return _resume(deployment, now_moving, name, policy, deps, now)
        deps.store.release(deployment.endpoint_arn, deployment.id)
        return _finish(
            deployment.model_copy(update={"model_name": name, "config_name": name}),
            "failed",
            str(exc),
            deps,
            now,
            policy,
        )
    started = deployment.model_copy(
        update={
            "status": "started",
            "model_name": name,
            "config_name": name,
            "previous_config": previous_config,
            "previous_version": serving_version,
            "deployment_config": config or None,
            "created": endpoint is None,
            "started_at": now,
            "progress": [
                *deployment.progress,
                Progress(at=now, status="Creating" if endpoint is None else "Updating"),
            ],
        }
    )
    try:
        started = deps.store.save(started)
    except StaleEventError:  # an endpoint event found the update under way and recorded it first
        return _moved_on(started, deps, now, policy)
    _settle(started, deps, now, policy)
    return {"outcome": "started", "deployment": started.id, "endpoint": started.endpoint, "config": name}


def _moved_on(deployment: Deployment, deps: Deps, now: datetime, policy: Policy | None) -> dict[str, Any]:
    """Another invocation moved the deployment first (its write landed): what it saved stands; finish
    what that implies (idempotently) and answer duplicate."""
    fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
    if fresh is not None and fresh.status != "queued":
        _settle(fresh, deps, now, policy if fresh.status not in ACTIVE else None)
    return {"outcome": "duplicate", "deployment": deployment.id, "status": fresh and fresh.status}


def _resume(
    deployment: Deployment, endpoint: dict[str, Any], name: str, policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """A retry after SageMaker accepted this deployment's call (the answer, or what followed, was lost):
    the endpoint already moves to (or serves) this deployment's config. Record it; call nothing again."""
    lease = policy.promotion(deployment.group).lock_lease_seconds
    if not deps.store.acquire(deployment.endpoint_arn, deployment.id, now, lease):
        return _queue(deployment, "another deployment holds the endpoint", deps, now)
    started = deployment
    if deployment.status != "started":
        stage = _stage_for(policy, deployment)
        try:
            started = deps.store.save(
                deployment.model_copy(
                    update={
                        "status": "started",
                        "model_name": name,
                        "config_name": name,
                        "deployment_config": plan.deployment_config(stage)
                        if stage and endpoint["config"]
                        else None,
                        "started_at": deployment.started_at or now,
                        "progress": [*deployment.progress, Progress(at=now, status="Resumed")],
                    }
                )
            )
        except StaleEventError:  # the other delivery (or the sweep) resumed it first
            return _moved_on(deployment, deps, now, policy)
    _settle(started, deps, now, policy)
    if endpoint["status"] == "InService" and endpoint["config"] == name:
        return _finish(started, "succeeded", None, deps, now, policy)
    return {"outcome": "started", "deployment": started.id, "endpoint": started.endpoint, "config": name}


def _queue(deployment: Deployment, why: str, deps: Deps, now: datetime) -> dict[str, Any]:
    if deployment.status != "queued" or not deployment.progress or deployment.progress[-1].detail != why:
        try:
            deployment = deps.store.save(
                deployment.model_copy(
                    update={
                        "status": "queued",
                        "progress": [*deployment.progress, Progress(at=now, status="Queued", detail=why)],
                    }
                )
            )
        except StaleEventError:  # the other delivery queued (or started) it first
            return _moved_on(deployment, deps, now, None)
        _record(deployment, deps, now)
    return {"outcome": "queued", "deployment": deployment.id, "reason": why}


def _refuse(deployment: Deployment, why: str, deps: Deps, now: datetime) -> dict[str, Any]:
    refused = deployment.model_copy(update={"status": "refused", "failure_reason": why, "ended_at": now})
    if deployment.revision == 0 and not deps.store.create(refused):
        existing = deps.store.get(deployment.endpoint_arn, deployment.id)
        if existing is not None and existing.status != "queued":
            _settle(existing, deps, now, None)
            return {"outcome": "duplicate", "deployment": deployment.id, "status": existing.status}
        refused = refused.model_copy(update={"revision": existing.revision if existing else 0})
        refused = deps.store.save(refused)
    elif deployment.revision > 0:
        refused = deps.store.save(refused)
    _settle(refused, deps, now, None)
    return {"outcome": "refused", "deployment": deployment.id, "reason": why}


# --- tracking ---------------------------------------------------------------------------------------


def on_endpoint_event(event: Any, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any]:
    """Endpoint (Deployment) State Change: move the endpoint's deployment towards its end."""
    d = event.detail
    endpoint_arn = (
        d.endpoint_arn or sagemaker_arn(event.region, event.account, "endpoint", d.endpoint_name)
    ).lower()
    holder = deps.store.holder(endpoint_arn)
    deployment = deps.store.get(endpoint_arn, holder[0]) if holder else None
    if deployment is not None and deployment.status not in ACTIVE:  # ended, its effects interrupted
        return {"outcome": "settled", **_settle(deployment, deps, now, policy)}
    if deployment is None or deployment.status != "started":
        if str(d.endpoint_status) == "InService":
            return _next_queued(endpoint_arn, policy, deps, now) or {
                "outcome": "ignored",
                "reason": "no deployment",
            }
        return {"outcome": "ignored", "reason": "no Steward deployment in progress on this endpoint"}
    if isinstance(event, ev.EndpointDeploymentStateChange):
        return _progress(deployment, event, deps)
    truth = deps.endpoints.describe_endpoint(deployment.endpoint)  # events can be late: ask SageMaker
    status = truth["status"] if truth else "Deleted"
    if status in BUSY:
        return _progress(deployment, event, deps)
    if status == "InService" and truth and truth["config"] == deployment.config_name:
        result = _finish(deployment, "succeeded", None, deps, now, policy)
    elif status == "InService":
        reason = (truth or {}).get("failureReason") or (
            f"the endpoint is InService on {(truth or {}).get('config')}, not {deployment.config_name}"
        )
        result = _finish(deployment, "rolled-back", reason, deps, now, policy)
    else:
        reason = (truth or {}).get("failureReason") or f"the endpoint is {status}"
        result = _finish(deployment, "failed", reason, deps, now, policy)
    return result


def _progress(deployment: Deployment, event: Any, deps: Deps) -> dict[str, Any]:
    d = event.detail
    pending = d.pending_deployment_summary
    steps = [
        s.get("Status")
        for v in (pending.production_variants if pending else [])
        for s in (v.get("VariantStatus") or [])
        if s.get("Status")
    ]
    status = str(d.endpoint_status) + (f" ({', '.join(steps)})" if steps else "")
    at = event.time
    if any(p.status == status and p.at == at for p in deployment.progress):
        return {"outcome": "duplicate", "deployment": deployment.id}
    updated = deployment.model_copy(
        update={"progress": [*deployment.progress, Progress(at=at, status=status)]}
    )
    try:
        deps.store.save(updated)
    except StaleEventError:
        return {"outcome": "stale", "deployment": deployment.id}
    return {"outcome": "progress", "deployment": deployment.id, "status": status}


def _finish(
    deployment: Deployment, status: str, reason: str | None, deps: Deps, now: datetime, policy: Policy
) -> dict[str, Any]:
    ended = deployment.model_copy(
        update={
            "status": status,
            "failure_reason": reason,
            "ended_at": now,
            "progress": [*deployment.progress, Progress(at=now, status=NODE_STATUS[status], detail=reason)],
        }
    )
    try:
        ended = deps.store.save(ended)
    except StaleEventError:
        fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
        if fresh is not None and fresh.status not in ACTIVE:
            _settle(fresh, deps, now, policy)  # another invocation ended it; its effects may be unfinished
        return {"outcome": "duplicate", "deployment": deployment.id}
    return {"outcome": status, "endpoint": ended.endpoint, **_settle(ended, deps, now, policy)}


_KINDS = {
    "started": Kind.DEPLOYMENT_STARTED,
    "succeeded": Kind.DEPLOYMENT_SUCCEEDED,
    "failed": Kind.DEPLOYMENT_FAILED,
    "rolled-back": Kind.DEPLOYMENT_ROLLED_BACK,
    "refused": Kind.DEPLOYMENT_FAILED,
}


def _settle(deployment: Deployment, deps: Deps, now: datetime, policy: Policy | None) -> dict[str, Any]:
    """What a saved state implies, each step idempotent, so a retry after a crash or a throttled call
    completes it: the lineage record, the notification (deduplicated by the notifier), and once ended,
    the next stage, the endpoint's lock and what waited for it. The lock goes last: while it is held,
    the endpoint's next event finds this deployment and settles it again."""
    result: dict[str, Any] = {"deployment": deployment.id}
    _record(deployment, deps, now)
    if deployment.started_at and deployment.status != "started":  # its start was told (or is now)
        deps.outbox.send(_notification(deployment, Kind.DEPLOYMENT_STARTED))
    if deployment.status in _KINDS:
        deps.outbox.send(_notification(deployment, _KINDS[deployment.status]))
    if deployment.status in ACTIVE or policy is None:
        return result
    if deployment.status == "succeeded" and deployment.kind == "promotion":
        stage = _stage_for(policy, deployment)
        if stage is not None and stage.integration_test is not None:
            deployment = _integration_test(deployment, stage, deps, now)
            result["integrationTest"] = deployment.integration_test
        tested = deployment.integration_test
        if tested is not None and not tested.get("passed"):
            result["next"] = {"outcome": "stopped", "reason": f"stage {deployment.stage}: {summary(tested)}"}
        else:
            result["next"] = _advance(deployment, policy, deps, now)
    deps.store.release(deployment.endpoint_arn, deployment.id)
    queued = _next_queued(deployment.endpoint_arn, policy, deps, now)
    if queued:
        result["queued"] = queued
    return result


def _integration_test(deployment: Deployment, stage: Stage, deps: Deps, now: datetime) -> Deployment:
    """Run the stage's integration test once (a retry finds the saved result), record it with the
    deployment and tell people. The endpoint's lock is still held: nothing else deploys meanwhile."""
    if deployment.integration_test is not None:
        return deployment
    test = stage.integration_test
    assert test is not None
    endpoint = deployment.endpoint
    try:
        requests = list(test.requests)
        if test.requests_s3_uri:
            requests += integration.load_lines(deps.endpoints.sample_requests(test.requests_s3_uri))
    except (NotFoundError, ValueError) as exc:
        result = integration.not_run(f"sample requests could not be read: {exc}")
    else:
        result = integration.run(
            test, requests, lambda body, ctype, accept: deps.endpoints.invoke(endpoint, body, ctype, accept)
        )
    # Recorded after the deployment's own end (the lineage keeps a node's states in time order).
    now = now + timedelta(milliseconds=1 + int(1000 * float(result.get("seconds") or 0)))
    result["at"] = iso_z(now)
    tested = deployment.model_copy(
        update={
            "integration_test": result,
            "progress": [*deployment.progress, Progress(at=now, status="Tested", detail=summary(result))],
        }
    )
    try:
        tested = deps.store.save(tested)
    except StaleEventError:  # another invocation tested it meanwhile: its result stands
        fresh = deps.store.get(deployment.endpoint_arn, deployment.id)
        return fresh if fresh is not None and fresh.integration_test is not None else deployment
    _record(tested, deps, now)
    deps.outbox.send(_test_notification(tested))
    return tested


def _test_notification(deployment: Deployment) -> Notification:
    result = deployment.integration_test or {}
    passed = bool(result.get("passed"))
    failing = [r for r in result.get("results") or [] if not r.get("passed")]
    facts = [Fact(label="Result", value=summary(result))]
    facts += [
        Fact(label=str(case["name"])[:100], value="; ".join(case.get("problems") or ["failed"]))
        for case in failing[:10]
    ]
    facts += [Fact(label="Problem", value=p) for p in (result.get("problems") or [])[:5]]
    stopped = "" if passed else " The promotion stops here: the next stage is not touched."
    return Notification(
        kind=Kind.INTEGRATION_TEST_PASSED if passed else Kind.INTEGRATION_TEST_FAILED,
        severity=Severity.INFO if passed else Severity.CRITICAL,
        model_group=deployment.group,
        model_version=deployment.version,
        subject=f"Integration test of {deployment.group} v{deployment.version} on {deployment.endpoint} "
        + ("passed" if passed else "failed"),
        summary=f"Stage {deployment.stage}: {summary(result)}.{stopped}",
        facts=facts,
        dedupe_key=f"integration-test:{deployment.id}",
        thread_key=deployment.package_arn.lower(),
    )


def _advance(done: Deployment, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any] | None:
    """The next stage after a successful one: deploy, or open its own approval request."""
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


def _next_queued(endpoint_arn: str, policy: Policy, deps: Deps, now: datetime) -> dict[str, Any] | None:
    for waiting in deps.store.for_endpoint(endpoint_arn):
        if waiting.status == "queued":
            stage = _stage_for(policy, waiting)
            if stage is None:
                return _refuse(waiting, f"stage {waiting.stage} is no longer in the policy", deps, now)
            return _start(waiting, stage, policy, deps, now)
    return None


def _stage_for(policy: Policy, deployment: Deployment) -> Stage | None:
    return next((s for s in policy.stages(deployment.group) if s.endpoint == deployment.endpoint), None)


class Worklist(Protocol):
    def active_nodes(self, kind: NodeKind, limit: int = 100) -> list[dict[str, Any]]: ...


def reconcile(
    worklist: Worklist, policy: Policy, deps: Deps, now: datetime, settle_seconds: int = 0
) -> dict[str, Any]:
    """On a schedule: deployments whose ending event was lost are ended from DescribeEndpoint, and queued
    ones whose endpoint is free are started (EventBridge delivers best effort)."""
    report: dict[str, list[str]] = {"ended": [], "started": [], "waiting": []}
    for node in worklist.active_nodes(NodeKind.DEPLOYMENT, limit=200):
        endpoint_arn, _, deployment_id = node["id"].rpartition("/deployment/")
        deployment = deps.store.get(endpoint_arn, deployment_id)
        if deployment is None or deployment.status not in ACTIVE:
            continue
        if deployment.status == "queued":
            holder = deps.store.holder(endpoint_arn)
            if holder is None or holder[0] == deployment.id or holder[1] < now.timestamp():
                outcome = _next_queued(endpoint_arn, policy, deps, now) or {}
                report["started" if outcome.get("outcome") == "started" else "waiting"].append(deployment.id)
            continue
        since = deployment.started_at or deployment.created_at
        if (now - since).total_seconds() < settle_seconds:
            continue
        truth = deps.endpoints.describe_endpoint(deployment.endpoint)
        status = truth["status"] if truth else "Deleted"
        if status in BUSY:
            report["waiting"].append(deployment.id)
            continue
        if status == "InService" and truth and truth["config"] == deployment.config_name:
            _finish(deployment, "succeeded", None, deps, now, policy)
        elif status == "InService":
            why = (truth or {}).get(
                "failureReason"
            ) or f"InService on {(truth or {}).get('config')} (found by the reconciler)"
            _finish(deployment, "rolled-back", why, deps, now, policy)
        else:
            _finish(
                deployment,
                "failed",
                (truth or {}).get("failureReason") or f"the endpoint is {status}",
                deps,
                now,
                policy,
            )
        report["ended"].append(deployment.id)
    return {"outcome": "reconciled", **report}


# --- rollback ---------------------------------------------------------------------------------------


def rollback(
    command: RollbackCommand, history: list[dict[str, Any]], policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """Redeploy the previous (or named) version on an endpoint, through the same path, as a rollback.

    `history` is the endpoint's deployment history (lineage.deployments), so versions deployed before
    Steward or outside it count too.
    """
    name = command.endpoint_arn.rsplit("/", 1)[-1]
    endpoint = deps.endpoints.describe_endpoint(name)
    if endpoint is None:
        raise NotFoundError(f"no endpoint {name}")
    current = deps.endpoints.config_package(endpoint["config"]) if endpoint["config"] else None
    if current is None:
        raise NotFoundError(f"{name} does not serve a model package Steward can roll back from")
    group = _group_of(current)
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
    return _begin(deployment, stages[index], policy, deps, now)


def _unplaceable_rollback(command: RollbackCommand, now: datetime) -> Deployment:
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


# --- records and messages ---------------------------------------------------------------------------


def _version_of(package: str | None) -> int | None:
    tail = package.rsplit("/", 1)[-1] if package else ""
    return int(tail) if tail.isdigit() else None


def _group_of(package: str) -> str:
    return package.split(":model-package/", 1)[-1].rsplit("/", 1)[0].lower()


def _record(deployment: Deployment, deps: Deps, now: datetime) -> None:
    """The deployment as a `deployment` node between the version and the endpoint."""
    if deployment.group == "unknown":
        return  # a rollback with nothing to roll back to: its record and notification say so
    package = deployment.package_arn.lower()
    with contextlib.suppress(DuplicateEventError):  # settled before: this state is recorded already
        _apply_record(deployment, package, deps, now)
    if deployment.status in _ENDED and deployment.ended_at is not None:
        # What `steward status` reads in one query for every endpoint: what serves and what happened last.
        summary = _endpoint_summary(deployment)
        deps.lineage.note(deployment.endpoint_arn, "lastDeployment", summary)
        if deployment.status == "succeeded":
            deps.lineage.note(deployment.endpoint_arn, "serving", summary)


_ENDED = ("succeeded", "failed", "rolled-back")


def _endpoint_summary(deployment: Deployment) -> dict[str, Any]:
    assert deployment.ended_at is not None
    return {
        "at": iso_z(deployment.ended_at),
        "deploymentId": deployment.id,
        "kind": deployment.kind,
        "outcome": deployment.status,
        "stage": deployment.stage,
        "modelPackageArn": deployment.package_arn,
        "group": deployment.group,
        "version": deployment.version,
        "endpointConfigName": deployment.config_name,
        "approvedBy": deployment.approved_by,
        "approvalRequest": deployment.approval_request,
        "requestedBy": deployment.requested_by,
        "failureReason": deployment.failure_reason,
        "integrationTest": (
            {k: deployment.integration_test.get(k) for k in ("passed", "cases", "failedCases", "at")}
            if deployment.integration_test
            else None
        ),
    }


def _record_id(deployment: Deployment) -> str:
    """The lineage change's id: one per saved state, and one per refusal reason (a refused deployment that
    an event delivered again re-checks and refuses again, for the same reason: recorded once)."""
    if deployment.status == "refused":
        reason = hashlib.sha256(str(deployment.failure_reason).encode()).hexdigest()[:16]
        return f"deployment:{deployment.id}:refused:{reason}"
    return f"deployment:{deployment.id}:{deployment.revision}:{deployment.status}"


def _apply_record(deployment: Deployment, package: str, deps: Deps, now: datetime) -> None:
    deps.lineage.apply(
        LineageChange(
            event_id=_record_id(deployment),
            event_time=now,
            detail_type="Steward Deployment",
            nodes=[
                NodeUpdate(
                    id=deployment.node_id,
                    kind=NodeKind.DEPLOYMENT,
                    name=f"{deployment.kind} of {deployment.group}/{deployment.version} to "
                    f"{deployment.endpoint}",
                    status=NODE_STATUS[deployment.status],
                    status_time=now,
                    attributes={
                        ("deploymentKind" if k == "kind" else k): v
                        for k, v in deployment.summary().items()
                        if v not in (None, [], "") and k != "status"
                    },
                    history={
                        k: v
                        for k, v in {
                            "reason": deployment.failure_reason,
                            "by": deployment.requested_by,
                        }.items()
                        if v
                    },
                ),
                NodeUpdate(
                    id=deployment.endpoint_arn,
                    kind=NodeKind.ENDPOINT,
                    name=deployment.endpoint,
                    keep=("name",),
                ),
            ],
            edges=[
                EdgeUpdate(source=package, target=deployment.node_id, relation=Relation.DEPLOYED_AS),
                EdgeUpdate(
                    source=deployment.node_id, target=deployment.endpoint_arn, relation=Relation.DEPLOYED_TO
                ),
            ],
        )
    )


_HEADLINES = {
    Kind.DEPLOYMENT_STARTED: ("started", Severity.INFO),
    Kind.DEPLOYMENT_SUCCEEDED: ("succeeded", Severity.INFO),
    Kind.DEPLOYMENT_FAILED: ("failed", Severity.CRITICAL),
    Kind.DEPLOYMENT_ROLLED_BACK: ("rolled back", Severity.CRITICAL),
}


def _notification(deployment: Deployment, kind: Kind) -> Notification:
    word, severity = _HEADLINES[kind]
    if deployment.status == "refused":
        word, severity = "refused", Severity.WARNING
    what = "Rollback" if deployment.kind == "rollback" else "Deployment"
    facts = [
        Fact(label="Endpoint", value=f"{deployment.endpoint} (stage {deployment.stage})"),
        Fact(label="Version", value=f"{deployment.group} v{deployment.version}"),
    ]
    if deployment.previous_version or deployment.previous_config:
        facts.append(
            Fact(label="Replacing", value=f"v{deployment.previous_version} ({deployment.previous_config})")
        )
    if deployment.approved_by:
        facts.append(Fact(label="Approved by", value=", ".join(deployment.approved_by)))
    facts.append(Fact(label="Requested by", value=deployment.requested_by[:300]))
    if deployment.deployment_config:
        facts.append(Fact(label="Strategy", value=str(deployment.summary()["strategy"])))
    for warning in deployment.warnings[:3]:
        facts.append(Fact(label="Warning", value=warning[:1000]))
    return Notification(
        kind=kind,
        severity=severity,
        model_group=deployment.group,
        model_version=deployment.version,
        subject=f"{what} of {deployment.group} v{deployment.version} to {deployment.endpoint} {word}"[:250],
        summary=(
            deployment.reason
            if kind is Kind.DEPLOYMENT_STARTED
            else deployment.failure_reason or deployment.reason or ""
        )[:3000],
        facts=facts,
        dedupe_key=f"{kind.value}:{deployment.id}",  # each kind once per deployment, however often settled
        thread_key=deployment.package_arn.lower(),
    )


def on_command(
    body: dict[str, Any],
    policy: Policy,
    deps: Deps,
    history: Callable[[str], list[dict[str, Any]]],
    now: datetime,
) -> dict[str, Any]:
    """A command from the promotion queue: an operator's rollback, or a stage approved on its own."""
    from steward.promotion.models import PromoteCommand

    if body.get("action") == "rollback":
        command = RollbackCommand.model_validate(body)
        try:
            return rollback(command, history(command.endpoint_arn), policy, deps, now)
        except NotFoundError as exc:  # nothing to roll back to: refused, recorded, not retried
            return _refuse(_unplaceable_rollback(command, now), str(exc), deps, now)
    if body.get("action") == "promote":
        promote_command = PromoteCommand.model_validate(body)
        package = deps.endpoints.describe_package(promote_command.package_arn)
        stages = policy.stages(package["group"])
        index = next((i for i, s in enumerate(stages) if s.name == promote_command.stage), None)
        if index is None:
            raise NotFoundError(f"no stage {promote_command.stage!r} for {package['group']}")
        return promote(
            package["arn"],
            package["group"],
            package["version"],
            package["artifact"],
            index,
            promote_command.requested_by,
            "",
            policy,
            deps,
            now,
            approval_request=promote_command.approval_request,
        )
    raise ValueError(f"unknown promotion command {str(body.get('action'))[:50]!r}")
