"""Opening approval requests: a newly registered version is gated (its metrics, the version in
production, its data checks and its training job's Debugger/Profiler rules), then rejected, approved or
sent to its approvers (or it waits for training rules still running); a stage that needs its own
approval opens its request after the stage before it succeeded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from steward.approvals import evidence, machine
from steward.approvals.deps import Deps, Reports
from steward.approvals.effects import settle
from steward.approvals.gate import evaluate, flatten_metrics
from steward.approvals.models import ApprovalRequest
from steward.approvals.rules_watch import (
    RulesWatch,
    could_change,
    gate_with_rules,
    job_rule_results,
    job_rules,
)
from steward.kernel.arns import sagemaker_arn
from steward.kernel.errors import NotFoundError
from steward.lineage.ports import Lineage
from steward.policy import ApprovalPolicy, Policy

if TYPE_CHECKING:  # annotations only: the sweep and the API's decisions never parse an event
    from steward.events import models as ev


def read_metrics(reports: Reports, uris: list[str]) -> tuple[dict[str, float], list[str]]:
    metrics: dict[str, float] = {}
    problems = []
    for uri in uris:
        try:
            metrics.update(flatten_metrics(reports.read_json(uri)))
        except (NotFoundError, ValueError) as exc:
            problems.append(f"{uri}: {exc}")
    return metrics, problems


def read_evidence(reports: Reports, uris: dict[str, str], drift_check_baselines: Any) -> dict[str, Any]:
    """The Bias and Explainability reports of ModelMetrics, and the DriftCheckBaselines (evidence)."""
    found: dict[str, Any] = {"bias": [], "explainability": [], "problems": []}
    for path, uri in sorted(uris.items()):
        reader = evidence.bias_rows if path.startswith("Bias.") else evidence.feature_rows
        if not path.startswith(evidence.REPORT_SECTIONS):
            continue
        try:
            rows = reader(reports.read_json(uri))
        except (NotFoundError, ValueError) as exc:
            found["problems"].append(f"{path} {uri}: {str(exc)[:200]}")
            continue
        key = "bias" if path.startswith("Bias.") else "explainability"
        found[key] = (found[key] + rows)[: evidence.MAX_ROWS] if key == "bias" else rows
    found["driftBaselines"] = evidence.baselines(drift_check_baselines)
    return {k: v for k, v in found.items() if v}


def production_metrics(
    lineage: Lineage,
    reports: Reports,
    group_arn: str,
    exclude: str,
    endpoint: str | None = None,
    now: datetime | None = None,
) -> tuple[str | None, dict[str, float]]:
    """The version in production and its metrics: what the group's last stage endpoint serves now,
    else (no stages, or nothing serving yet) the group's latest Approved version."""
    best_id = None
    if endpoint and now is not None:
        from steward.lineage.deployments import serving_at

        try:
            serving = serving_at(lineage, endpoint, now)  # type: ignore[arg-type]
            best_id = next((p for p in serving.get("modelPackages", []) if p != exclude), None)
        except NotFoundError:
            best_id = None
    if best_id is None:
        _, edges = lineage.node_with_edges(group_arn, "downstream")
        packages = [e["to"] for e in edges if e["relation"] == "contains" and e["to"] != exclude]
        nodes = lineage.get_nodes(packages) if packages else {}
        approved = [
            n for n in nodes.values() if n.get("status") == "Approved" and isinstance(n.get("version"), int)
        ]
        if not approved:
            return None, {}
        best_id = max(approved, key=lambda n: n["version"])["id"]
    _, upstream = lineage.node_with_edges(best_id, "upstream")
    metrics, _ = read_metrics(reports, [e["from"] for e in upstream if e["relation"] == "metrics"])
    return best_id, metrics


def open_request(
    event: ev.ModelPackageStateChange, policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """On a newly registered version (PendingManualApproval): gate it, then reject, approve or ask people."""
    d = event.detail
    if d.model_approval_status != "PendingManualApproval":
        return {"outcome": "ignored", "reason": f"status {d.model_approval_status}"}
    approval = policy.approval(d.group_name)
    if approval is None:
        return {"outcome": "ignored", "reason": f"no approval policy for {d.group_name}"}
    package = d.model_package_arn
    request_id = ApprovalRequest.id_for(package)
    existing = deps.store.get(request_id)
    if existing is not None:
        if existing.unsettled:  # an earlier delivery saved it and failed before finishing: finish it
            settle(existing, deps, now)
            return {"outcome": "resumed", "request": request_id}
        return {"outcome": "duplicate", "request": request_id}
    uris = d.metric_report_uris()
    metrics, problems = read_metrics(
        deps.reports, [u for path, u in uris.items() if not path.startswith(evidence.REPORT_SECTIONS)]
    )
    found = read_evidence(deps.reports, uris, d.drift_check_baselines)
    # Numbers the pipeline put in CustomerMetadataProperties count too (a report's value wins).
    metrics = {**flatten_metrics(d.customer_metadata_properties), **metrics}
    region, account = package.split(":")[3], package.split(":")[4]
    group_arn = sagemaker_arn(region, account, "model-package-group", d.group_name)
    stages = policy.stages(d.group_name)
    production_endpoint = sagemaker_arn(region, account, "endpoint", stages[-1].endpoint) if stages else None
    production_arn, production = production_metrics(
        deps.lineage, deps.reports, group_arn, package.lower(), production_endpoint, now
    )
    lineage, findings, unfinished, jobs = lineage_summary(deps.lineage, d)
    base = evaluate(metrics, production, approval.gate)
    gate = gate_with_rules(base, findings, [], approval.gate, found)
    watch = None
    if unfinished and approval.gate.training_rules != "ignore":
        wait = approval.gate.training_rules_wait_minutes
        watch = RulesWatch(
            mode=approval.gate.training_rules,
            jobs=jobs,
            until=now + timedelta(minutes=wait),
            unfinished=unfinished,
            findings=findings,
            base=base,
            gate=approval.gate,
            production=production_arn,
        )
        if not (wait > 0 and could_change(gate, approval.gate.training_rules)):
            gate = gate_with_rules(base, findings, unfinished, approval.gate, found)
            watch = watch.model_copy(update={"asked": True})
    registrant = d.created_by.identities if d.created_by else []
    containers = d.inference_specification.containers if d.inference_specification else []
    request = ApprovalRequest(
        id=request_id,
        package_arn=package,
        group=d.group_name,
        version=d.version,
        artifact_uri=next((c.model_data_url for c in containers if c.model_data_url), None),
        image_digests=[c.image_digest for c in containers if c.image_digest],
        registered_by=(d.created_by.who if d.created_by else None),
        registrant_identities=registrant,
        description=d.model_package_description,
        lineage=lineage,
        target_stages=[_stage_line(s) for s in stages],
        **_rules(approval, registrant, now),
        gate=gate,
        metrics=metrics,
        production_metrics=production,
        evidence=found,
        rules_watch=watch,
    )
    if request.waiting_for_rules:
        request = machine.waiting(request, now, unfinished)
        if not deps.store.create(request):
            return {"outcome": "duplicate", "request": request_id}
        settle(request, deps, now)
        return {
            "outcome": "waiting",
            "request": request_id,
            "reason": "training rules not finished: " + "; ".join(unfinished),
            "until": request.rules_watch.until.isoformat() if request.rules_watch else None,
            "problems": problems,
        }
    decided = machine.gate_decision(request, gate, production_arn, now, opened=True)
    if not deps.store.create(decided):
        return {"outcome": "duplicate", "request": request_id}
    settle(decided, deps, now)
    if decided.status != "pending":
        return {
            "outcome": f"gate-{decided.status}",
            "request": request_id,
            "gate": gate.summary(),
            "problems": problems,
        }
    if len(request.approvers) < request.quorum:
        problems.append(f"only {len(request.approvers)} eligible approvers for a quorum of {request.quorum}")
    return {
        "outcome": "requested",
        "request": request_id,
        "approvers": request.approvers,
        "gate": gate.summary(),
        "problems": problems,
    }


_LINEAGE_DEPTH = 6  # artifact ← training job ← data ← processing job ← raw data (and code), with room


def lineage_summary(
    lineage: Any, d: ev.ModelPackageDetail
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The lines the approval page shows under "Lineage": the data the version was trained on (the
    upstream datasets nothing recorded produced), the training job, the code those jobs ran, the
    pipeline run, and the repository and commit the registration names (whatever is not recorded is
    said, not invented); the training jobs' Debugger/Profiler rules that found issues, those not
    finished yet, and the training jobs' node ids."""
    from steward.lineage.query import walk

    lines: list[str] = []
    meta = d.metadata_properties
    containers = d.inference_specification.containers if d.inference_specification else []
    artifact = next((c.model_data_url for c in containers if c.model_data_url), None)
    data: list[str] = []
    code: list[str] = []
    jobs: list[str] = []
    job_ids: list[str] = []
    findings: list[str] = []
    unfinished: list[str] = []
    results: list[str] = []  # the other finished rules: no issues, or no verdict
    if artifact:
        try:
            graph = walk(lineage, artifact.rstrip("/"), "upstream", _LINEAGE_DEPTH)
        except (NotFoundError, ValueError):  # nothing recorded upstream of the artifact (yet)
            graph = {"nodes": [], "edges": []}
        produced = {e["to"] for e in graph["edges"] if e["relation"] != "contains"}
        for node in graph["nodes"]:
            if node["kind"] == "dataset" and node.get("role") == "code":
                code.append(node["id"])
            elif node["kind"] == "dataset" and node["id"] not in produced:
                data.append(node["id"])
            elif node["kind"] == "training-job":
                jobs.append(f"{node.get('name')} ({node.get('status') or 'status not recorded'})")
                job_ids.append(node["id"])
                found, running = job_rules(node)
                findings += found
                unfinished += running
                results += job_rule_results(node)
    lines += [f"trained on {uri}" for uri in sorted(data)] or ["training data: not recorded"]
    lines += [f"training job {job}" for job in sorted(jobs)]
    lines += sorted(findings)
    lines += sorted(unfinished)
    lines += sorted(results)
    lines += [f"code {uri}" for uri in sorted(code)]
    if meta and meta.generated_by:
        lines.append(f"pipeline run {meta.generated_by}")
    if meta and (meta.repository or meta.commit_id):
        lines.append(
            f"source {meta.repository or 'repository not named'} @ {meta.commit_id or 'commit not named'}"
        )
    return [line[:400] for line in lines[:20]], sorted(findings), sorted(unfinished), sorted(job_ids)


def eligible(approval: ApprovalPolicy, registrant: list[str]) -> list[str]:
    """Approvers who may decide: not excluded, and none of the registrant's identities (separation of
    duties: a Studio profile and an IAM identity reported together are both the registrant)."""
    excluded = {e.lower() for e in approval.excluded}
    return [
        a.email for a in approval.approvers if a.email not in excluded and not a.is_any_identity(registrant)
    ]


def open_stage_request(
    package_arn: str,
    stage: str,
    parent_id: str | None,
    policy: Policy,
    deps: Deps,
    now: datetime,
    evidence: list[str] | None = None,
) -> dict[str, Any]:
    """After a stage succeeds, the next one (marked `requires_approval`) asks the approvers again: same
    version, same gate numbers, its own links; approving it deploys that stage. `evidence`: what the
    stages before found (their integration tests), shown with the lineage."""
    parent = deps.store.get(parent_id) if parent_id else None
    group = parent.group if parent else package_arn.split(":model-package/", 1)[-1].rsplit("/", 1)[0]
    approval = policy.approval(group)
    if approval is None:
        why = f"stage {stage} needs an approval but {group} has no approvers"
        return {"outcome": "waiting", "reason": why}
    registrant = (parent.registrant_identities or [parent.registered_by or ""]) if parent else []
    target = next((s for s in policy.stages(group) if s.name == stage), None)
    request = ApprovalRequest(
        id=ApprovalRequest.id_for(package_arn, stage),
        package_arn=package_arn,
        group=group,
        version=parent.version if parent else None,
        artifact_uri=parent.artifact_uri if parent else None,
        image_digests=parent.image_digests if parent else [],
        registered_by=parent.registered_by if parent else None,
        registrant_identities=[who for who in registrant if who],
        lineage=[*(parent.lineage if parent else []), *[line[:400] for line in (evidence or [])[:5]]],
        description=f"Promote to {stage}: " + ((parent.description or "") if parent else ""),
        target_stages=[_stage_line(target)] if target else [stage],
        **_rules(approval, registrant, now),
        gate=parent.gate if parent else None,
        metrics=parent.metrics if parent else {},
        production_metrics=parent.production_metrics if parent else {},
        evidence=parent.evidence if parent else {},
        stage=stage,
        parent=parent_id,
    )
    request = machine.stage_opened(request, now)
    if not deps.store.create(request):
        existing = deps.store.get(request.id)
        if existing is not None and existing.unsettled:
            settle(existing, deps, now)
            return {"outcome": "resumed", "request": request.id}
        return {"outcome": "duplicate", "request": request.id}
    settle(request, deps, now)
    return {"outcome": "requested", "request": request.id, "stage": stage, "approvers": request.approvers}


def _stage_line(s: Any) -> str:
    """ "staging → churn-staging (ml.m5.large x1, canary)", as the page and messages show a stage."""
    own = ", needs its own approval" if s.requires_approval else ""
    return f"{s.name} → {s.endpoint} ({s.instance_type} x{s.instance_count}, {s.strategy}{own})"


def _rules(approval: ApprovalPolicy, registrant: list[str], now: datetime) -> dict[str, Any]:
    """The policy's rules a request keeps (who may decide, how many, until when), fixed when it opens."""
    return {
        "approvers": eligible(approval, [who for who in registrant if who]),
        "slack_ids": {a.email: a.slack_user_id for a in approval.approvers if a.slack_user_id},
        "quorum": approval.quorum,
        "excluded": approval.excluded,
        "reject_on_first_rejection": approval.reject_on_first_rejection,
        "on_expiry": approval.on_expiry,
        "reminder_hours_before_expiry": approval.reminder_hours_before_expiry,
        "created_at": now,
        "expires_at": now + timedelta(hours=approval.expiry_hours),
    }
