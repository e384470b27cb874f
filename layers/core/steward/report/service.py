"""Use case: the evidence behind one model version, gathered for an auditor.

Reads: one upstream walk from the version (data → jobs → artifact → version, with the code and the
pipeline run), one downstream walk of two hops (its approval requests, Steward's deployments and the
endpoints they changed, the monitoring results and alarms of the time it served), and the approval
requests themselves (the version's and each stage's: decisions, refused attempts, the gate's numbers).
Whatever is not recorded is said to be missing, never invented.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from steward.approvals.evidence import lines as evidence_lines
from steward.kernel.errors import NotFoundError
from steward.lineage.query import LineageReader, walk

UPSTREAM_DEPTH = 8
_JOBS = ("processing-job", "training-job", "tuning-job", "transform-job")


class ApprovalReader(Protocol):
    def get(self, request_id: str) -> Any: ...


def _request_ids(
    package: str, deployments: list[dict[str, Any]], approvals: list[dict[str, Any]]
) -> list[str]:
    from steward.approvals.models import ApprovalRequest

    ids = [ApprovalRequest.id_for(package)]
    ids += [str(a["requestId"]) for a in approvals if a.get("requestId")]
    ids += [str(d["approvalRequest"]) for d in deployments if d.get("approvalRequest")]
    return list(dict.fromkeys(ids))


def _approval(request: Any) -> dict[str, Any]:
    return {
        "requestId": request.id,
        "stage": request.stage,
        "status": request.status,
        "quorum": request.quorum,
        "approvers": list(request.approvers),
        "registeredBy": request.registered_by,
        "registrantIdentities": list(request.registrant_identities),
        "createdAt": request.created_at.astimezone(UTC).isoformat(),
        "expiresAt": request.expires_at.astimezone(UTC).isoformat(),
        "gate": request.gate.model_dump() if request.gate else None,
        "gateSummary": request.gate.summary() if request.gate else None,
        "decisions": [
            {
                "who": d.approver,
                "decision": d.decision,
                "channel": d.channel,
                "at": d.at.astimezone(UTC).isoformat(),
                "comment": d.comment,
            }
            for d in request.decisions
        ],
        "refusals": [
            {"who": r.who, "reason": r.reason, "channel": r.channel, "at": r.at.astimezone(UTC).isoformat()}
            for r in request.refusals
        ],
    }


def _training(upstream: dict[str, Any]) -> dict[str, Any]:
    produced = {e["to"] for e in upstream["edges"] if e["relation"] != "contains"}
    read = {e["from"] for e in upstream["edges"] if e["relation"] == "input"}
    data, code, jobs, runs, findings = [], [], [], [], []
    for node in upstream["nodes"]:
        kind = node.get("kind")
        if kind == "dataset" and node.get("role") == "code":
            code.append(node["id"])
        elif kind == "dataset" and node["id"] in read and node["id"] not in produced:
            data.append(node["id"])  # read by a job, written by nothing recorded: the source data
        elif kind in _JOBS:
            jobs.append(
                {"id": node["id"], "kind": kind, "name": node.get("name"), "status": node.get("status")}
            )
            if kind == "training-job":
                findings += [
                    {
                        "job": node.get("name"),
                        "rule": r.get("RuleConfigurationName"),
                        "status": r.get("RuleEvaluationStatus"),
                        "report": r.get("RuleEvaluationJobArn"),
                    }
                    for r in node.get("ruleEvaluations") or []
                    if isinstance(r, dict)
                ]
        elif kind == "pipeline-execution":
            runs.append({"id": node["id"], "name": node.get("name"), "status": node.get("status")})
    return {
        "data": sorted(data),
        "code": sorted(code),
        "jobs": sorted(jobs, key=lambda j: (j["kind"], str(j["name"]))),
        "pipelineRuns": sorted(runs, key=lambda r: r["id"]),
        "ruleFindings": findings,
    }


def audit_report(
    store: LineageReader, approvals: ApprovalReader, package: str, now: datetime
) -> dict[str, Any]:
    """The report's data (the HTML renders exactly this). Raises NotFoundError for an unknown version."""
    upstream = walk(store, package, "upstream", UPSTREAM_DEPTH)
    nodes = {n["id"]: n for n in upstream["nodes"]}
    version = nodes.get(package)
    if version is None or version.get("kind") != "model-package":
        raise NotFoundError(f"no model package {package!r} in the lineage store")
    downstream = walk(store, package, "downstream", 2)
    below = {n["id"]: n for n in downstream["nodes"]}
    deployed_to = {e["from"]: e["to"] for e in downstream["edges"] if e["relation"] == "deployed-to"}
    deployments = sorted(
        (
            {
                "deploymentId": n.get("deploymentId"),
                "kind": n.get("deploymentKind"),
                "stage": n.get("stage"),
                "status": n.get("status"),
                "endpoint": below.get(deployed_to.get(n["id"], ""), {}).get("name")
                or deployed_to.get(n["id"]),
                "endpointArn": deployed_to.get(n["id"]),
                "strategy": n.get("strategy"),
                "approvedBy": n.get("approvedBy") or [],
                "requestedBy": n.get("requestedBy"),
                "approvalRequest": n.get("approvalRequest"),
                "createdAt": n.get("createdAt"),
                "startedAt": n.get("startedAt"),
                "endedAt": n.get("endedAt"),
                "failureReason": n.get("failureReason"),
                "warnings": n.get("warnings") or [],
                "integrationTest": n.get("integrationTest"),
            }
            for n in downstream["nodes"]
            if n.get("kind") == "deployment"
        ),
        key=lambda d: str(d["createdAt"] or d["startedAt"] or ""),
    )
    monitored = [
        e["to"] for e in downstream["edges"] if e["from"] == package and e["relation"] == "monitored-by"
    ]
    monitoring = sorted(
        (
            {
                "id": node_id,
                "type": "alarm"
                if below[node_id].get("source") == "cloudwatch-alarm"
                else "monitoring-execution",
                "name": below[node_id].get("name"),
                "status": below[node_id].get("status"),
                "result": below[node_id].get("result"),
                "violationCount": below[node_id].get("violationCount"),
                "nature": below[node_id].get("nature"),
                "endpoint": below[node_id].get("endpointName"),
                "at": below[node_id].get("statusTime") or below[node_id].get("dataWindowEnd"),
            }
            for node_id in dict.fromkeys(monitored)
            if node_id in below
        ),
        key=lambda m: str(m["at"] or ""),
    )
    gated = [n for n in downstream["nodes"] if n.get("kind") == "approval"]
    requests = [approvals.get(i) for i in _request_ids(package, deployments, gated)]
    found = [_approval(r) for r in requests if r is not None]
    main = next((r for r in found if r["stage"] is None), None)
    main_request = next((r for r in requests if r is not None and r.stage is None), None)
    training = _training(upstream)
    graph_nodes = {**nodes, **{k: v for k, v in below.items() if v.get("kind") in ("deployment", "endpoint")}}
    graph_edges = [
        *upstream["edges"],
        *[e for e in downstream["edges"] if e["relation"] in ("deployed-as", "deployed-to")],
    ]
    return {
        "generatedAt": now.astimezone(UTC).isoformat(),
        "package": {
            "id": package,
            "group": (version.get("name") or "").rsplit("/", 1)[0] or None,
            **{
                k: version.get(k)
                for k in (
                    "name",
                    "version",
                    "status",
                    "registeredBy",
                    "description",
                    "approvalDescription",
                    "createdAt",
                    "customerMetadata",
                )
            },
        },
        "code": {k: version.get(k) for k in ("images", "imageDigests", "repository", "commitId")},
        "training": training,
        "gate": (main or {}).get("gate"),
        "dataChecks": evidence_lines(main_request.evidence) if main_request is not None else [],
        "approvals": found,
        "deployments": deployments,
        "monitoring": monitoring,
        "lineage": {
            "nodes": sorted(graph_nodes.values(), key=lambda n: n["id"]),
            "edges": sorted(graph_edges, key=lambda e: (e["from"], e["to"], e["relation"])),
        },
        "missing": [
            what
            for what, absent in (
                ("approval request (approved outside Steward?)", main is None),
                ("training data", not training["data"]),
                ("deployments by Steward", not deployments),
            )
            if absent
        ],
    }
