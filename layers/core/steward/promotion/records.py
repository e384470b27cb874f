"""A deployment's lineage record and its messages."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import Any

from steward.kernel.errors import DuplicateEventError
from steward.kernel.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation
from steward.kernel.times import iso_z
from steward.notify.models import Fact, Kind, Notification
from steward.policy import Severity
from steward.promotion.deps import Deps
from steward.promotion.integration import summary
from steward.promotion.models import ACTIVE, NODE_STATUS, Deployment


def version_of(package: str | None) -> int | None:
    tail = package.rsplit("/", 1)[-1] if package else ""
    return int(tail) if tail.isdigit() else None


def group_of(package: str) -> str:
    return package.split(":model-package/", 1)[-1].rsplit("/", 1)[0].lower()


def record(deployment: Deployment, deps: Deps, now: datetime) -> None:
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
                    active=deployment.status in ACTIVE,  # the reconciler's worklist
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


def notification(deployment: Deployment, kind: Kind) -> Notification:
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


def test_notification(deployment: Deployment) -> Notification:
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
