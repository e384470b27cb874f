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

Module layout (README "Promotion"): machine.py is the state machine (pure transitions and typed
effects, the outcome rule written once), effects.py applies the effects (the one place), start.py starts
deployments (SageMaker's calls, the endpoint's lock), records.py writes the lineage record and the
messages, deps.py names what the use cases are given; this module holds the use cases the functions call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from steward.events import models as ev
from steward.kernel.arns import sagemaker_arn
from steward.kernel.errors import NotFoundError
from steward.kernel.graph import NodeKind
from steward.lineage.ports import Lineage, Worklist
from steward.notify.ports import Outbox
from steward.policy import Policy, Stage
from steward.promotion import effects, machine
from steward.promotion.deps import (
    Approvals,
    Deps,
    Endpoints,
    Store,
    sagemaker_of,
    stage_endpoint_arn,
)
from steward.promotion.models import ACTIVE, Deployment, RollbackCommand
from steward.promotion.records import notification as _notification
from steward.promotion.records import test_notification as _test_notification
from steward.promotion.start import promote, refuse, rollback, unplaceable_rollback

BUSY = machine.BUSY

__all__ = [
    "BUSY",
    "Approvals",
    "Deps",
    "Endpoints",
    "Lineage",
    "Outbox",
    "Store",
    "Worklist",
    "_notification",
    "_test_notification",
    "on_command",
    "on_endpoint_event",
    "on_package_event",
    "promote",
    "reconcile",
    "rollback",
    "stage_endpoint_arn",
]


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
    endpoint_arn = stage_endpoint_arn(package, first, deps)
    existing = deps.store.get(endpoint_arn, Deployment.id_for(package, endpoint_arn, "promotion"))
    return existing is not None and existing.status == "refused"


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
        return {"outcome": "settled", **effects.settle(deployment, deps, now, policy)}
    if deployment is None or deployment.status != "started":
        if str(d.endpoint_status) == "InService":
            return effects.next_queued(endpoint_arn, policy, deps, now) or {
                "outcome": "ignored",
                "reason": "no deployment",
            }
        return {"outcome": "ignored", "reason": "no Steward deployment in progress on this endpoint"}
    if isinstance(event, ev.EndpointDeploymentStateChange):
        return _progress(deployment, event, deps)
    # Events can be late: ask SageMaker (of the endpoint's account).
    truth = machine.EndpointTruth.of(sagemaker_of(deps, deployment).describe_endpoint(deployment.endpoint))
    step = machine.transition(
        deployment, machine.EndpointSeen(truth, "event", now), effects.stage_for(policy, deployment)
    )
    if step.outcome == "busy":
        return _progress(deployment, event, deps)
    return effects.conclude(step, deployment, deps, now, policy)


def _progress(deployment: Deployment, event: Any, deps: Deps) -> dict[str, Any]:
    from steward.kernel.errors import StaleEventError

    d = event.detail
    pending = d.pending_deployment_summary
    steps = [
        s.get("Status")
        for v in (pending.production_variants if pending else [])
        for s in (v.get("VariantStatus") or [])
        if s.get("Status")
    ]
    status = str(d.endpoint_status) + (f" ({', '.join(steps)})" if steps else "")
    step = machine.transition(deployment, machine.DeploymentStep(status, event.time))
    if step.state is None:
        return {"outcome": "duplicate", "deployment": deployment.id}
    try:
        deps.store.save(step.state)
    except StaleEventError:
        return {"outcome": "stale", "deployment": deployment.id}
    return {"outcome": "progress", "deployment": deployment.id, "status": status}


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
                outcome = effects.next_queued(endpoint_arn, policy, deps, now) or {}
                report["started" if outcome.get("outcome") == "started" else "waiting"].append(deployment.id)
            continue
        since = deployment.started_at or deployment.created_at
        if (now - since).total_seconds() < settle_seconds:
            continue
        described = sagemaker_of(deps, deployment).describe_endpoint(deployment.endpoint)
        truth = machine.EndpointTruth.of(described)
        step = machine.transition(
            deployment, machine.EndpointSeen(truth, "reconciler", now), effects.stage_for(policy, deployment)
        )
        if step.outcome == "busy":
            report["waiting"].append(deployment.id)
            continue
        effects.conclude(step, deployment, deps, now, policy)
        report["ended"].append(deployment.id)
    return {"outcome": "reconciled", **report}


# --- commands ---------------------------------------------------------------------------------------


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
            return refuse(unplaceable_rollback(command, now), str(exc), deps, now)
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
