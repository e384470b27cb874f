"""The estate in one call, from a fixed number of reads whatever the number of endpoints.

DynamoDB: four paginated Queries of the sparse index gsi2 (`ACTIVE#endpoint`: every endpoint with its
status, serving and pending config, failure reason and the summaries Steward keeps on it — what serves
and since when, the last deployment, the latest Model Monitor result; `ACTIVE#deployment`: Steward's
queued and in-flight deployments; `ACTIVE#approval`: open approval requests; `STATE#alarm`: every
alarm's current state and endpoint), then one BatchGetItem per 100 open requests for their bodies
(which stage, so which endpoint, they are for). SQS: per DLQ, one GetQueueAttributes and one
ReceiveMessage peek (VisibilityTimeout=0, SentTimestamp) for the age of the oldest message seen (SQS has
no oldest-message attribute; CloudWatch's metric is not in the sandbox). No SageMaker call.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from steward.kernel.aws.clients import client
from steward.kernel.aws.dynamo import from_item
from steward.kernel.graph import NodeKind
from steward.kernel.threads import ContextPool
from steward.lineage.adapters.store import LineageStore
from steward.monitoring.adapters.store import ALARM_LISTING

# The DLQs the api function is given (template.yaml), by the name `steward redrive` knows them by.
DLQ_ENV = {
    "RecordLineage": "RECORD_LINEAGE_DLQ_URL",
    "Notify": "NOTIFY_DLQ_URL",
    "PromoteModel": "PROMOTE_MODEL_DLQ_URL",
}
_ACTIVE_LIMIT = 10_000
_FAILED = {"Failed": "failed", "UpdateRollbackFailed": "rollback-failed"}
_IN_FLIGHT = ("Creating", "Updating", "SystemUpdating", "RollingBack")


def _age_seconds(since: str | None, now: datetime) -> int | None:
    if not since:
        return None
    try:
        then = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0, int((now - then).total_seconds()))


def _endpoint_of(deployment_node_id: str) -> str:
    return deployment_node_id.split("/deployment/", 1)[0]


def _approval_bodies(table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Approval request bodies by id: one BatchGetItem per 100 ids."""
    import json

    found: dict[str, dict[str, Any]] = {}
    ddb = client("dynamodb")
    for start in range(0, len(ids), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"pk": {"S": f"APPROVAL#{i}"}, "sk": {"S": "R"}} for i in ids[start : start + 100]]
            }
        }
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                body = json.loads(from_item(item)["body"])
                found[body["id"]] = body
            request = response.get("UnprocessedKeys") or {}
    return found


def _stage_endpoint(stage_text: str) -> str | None:
    """`staging → churn-staging (ml.m5.large x1, canary)` → `churn-staging`."""
    if "→" not in stage_text:
        return None
    return stage_text.split("→", 1)[1].strip().split(" ", 1)[0] or None


def _serving(endpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The version serving and since when, from Steward's last successful deployment, if the endpoint
    still runs the config that deployment made (else the config, and that Steward did not deploy it)."""
    config = endpoint.get("endpointConfigName")
    serving = endpoint.get("serving")
    if serving and (config is None or serving.get("endpointConfigName") == config):
        return {
            "version": serving.get("version"),
            "group": serving.get("group"),
            "modelPackageArn": serving.get("modelPackageArn"),
            "endpointConfigName": serving.get("endpointConfigName"),
            "since": serving.get("at"),
            "approvedBy": serving.get("approvedBy") or [],
            "deploymentId": serving.get("deploymentId"),
            "kind": serving.get("kind"),
            "requestedBy": serving.get("requestedBy"),
            "deployedBy": "steward",
        }
    if config is None:
        return None
    return {"endpointConfigName": config, "since": None, "version": None, "deployedBy": "not Steward"}


def _last_deployment(last: dict[str, Any] | None) -> dict[str, Any] | None:
    if not last:
        return None
    keep = (
        "deploymentId",
        "kind",
        "outcome",
        "stage",
        "group",
        "version",
        "modelPackageArn",
        "integrationTest",
    )
    return {
        **{k: last.get(k) for k in keep},
        "at": last.get("at"),
        "failureReason": last.get("failureReason"),
    }


def dlq_status(now: datetime) -> list[dict[str, Any]]:
    sqs = client("sqs")
    queues = []
    for name, env in DLQ_ENV.items():
        url = os.environ.get(env)
        if not url:
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depth = int(attributes.get("ApproximateNumberOfMessages", 0))
        oldest = None
        if depth:
            peek = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
            )
            sent = [
                int(m["Attributes"]["SentTimestamp"]) for m in peek.get("Messages", []) if "Attributes" in m
            ]
            if sent:
                oldest = max(0, int(now.timestamp() - min(sent) / 1000))
        queues.append(
            {
                "name": name,
                "queueUrl": url,
                "depth": depth,
                "inFlight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                "oldestAgeSeconds": oldest,
            }
        )
    return queues


def estate(store: LineageStore, now: datetime, endpoint: str | None = None) -> dict[str, Any]:
    """Every endpoint (or the one named: its ARN), its deployments and approvals, and the DLQs."""
    kinds = (NodeKind.ENDPOINT, NodeKind.DEPLOYMENT, NodeKind.APPROVAL)
    with ContextPool(max_workers=5) as pool:
        dlqs = pool.submit(dlq_status, now)
        listed = pool.submit(store.nodes_listed, ALARM_LISTING, _ACTIVE_LIMIT)
        endpoints, deployments, approvals = pool.map(
            lambda k: store.active_nodes(k, limit=_ACTIVE_LIMIT), kinds
        )
        queues, alarms = dlqs.result(), listed.result()
    bodies = _approval_bodies(store.table, [str(a["requestId"]) for a in approvals if a.get("requestId")])
    by_id: dict[str, dict[str, Any]] = {}
    for node in sorted(endpoints, key=lambda n: n["id"]):
        status = node.get("status")
        failed = status in _FAILED or bool(node.get("failureReason"))
        by_id[node["id"]] = {
            "endpoint": node["id"],
            "name": node.get("name"),
            "status": status,
            "statusSince": node.get("statusTime"),
            "endpointConfigName": node.get("endpointConfigName"),
            "pendingEndpointConfigName": node.get("pendingEndpointConfigName"),
            "lastChange": {
                "outcome": _FAILED.get(str(status))
                or ("failed" if failed else "in-progress" if status in _IN_FLIGHT else "succeeded"),
                "at": node.get("statusTime"),
                "failureReason": node.get("failureReason"),
            },
            "serving": _serving(node),
            "lastDeployment": _last_deployment(node.get("lastDeployment")),
            "monitoring": node.get("monitoring"),
            "alarms": [],
            "deployments": [],
            "approvalRequests": [],
            "attention": [],
        }
    for node in deployments:
        entry = by_id.get(_endpoint_of(node["id"]))
        if entry is not None:
            entry["deployments"].append(
                {
                    "deploymentId": node.get("deploymentId"),
                    "status": node.get("status"),
                    "kind": node.get("deploymentKind"),
                    "stage": node.get("stage"),
                    "modelPackageArn": node.get("modelPackageArn"),
                    "version": node.get("version"),
                    "approvedBy": node.get("approvedBy") or [],
                    "since": node.get("statusTime"),
                }
            )
    for node in sorted(alarms, key=lambda n: str(n.get("name"))):
        entry = by_id.get(str(node.get("endpointId")))
        if entry is not None:
            entry["alarms"].append(
                {
                    "name": node.get("name"),
                    "arn": node["id"],
                    "state": node.get("status"),
                    "since": node.get("statusTime"),
                    "nature": node.get("nature"),
                }
            )
    open_requests = []
    for node in approvals:
        body = bodies.get(str(node.get("requestId")))
        if body is None or body.get("status") != "pending":
            continue
        stages = body.get("target_stages") or []
        target = _stage_endpoint(stages[0]) if stages else None
        request = {
            "requestId": body["id"],
            "group": body.get("group"),
            "version": body.get("version"),
            "stage": body.get("stage"),
            "endpointName": target,
            "createdAt": body.get("created_at"),
            "ageSeconds": _age_seconds(body.get("created_at"), now),
            "expiresAt": body.get("expires_at"),
            "approvedBy": sorted(
                {d["approver"] for d in body.get("decisions", []) if d["decision"] == "approve"}
            ),
        }
        open_requests.append(request)
        for entry in by_id.values():
            if target and entry["name"] == target:
                entry["approvalRequests"].append(request)
    for entry in by_id.values():
        if entry["lastChange"]["outcome"] in ("failed", "rollback-failed"):
            entry["attention"].append(f"last change {entry['lastChange']['outcome']}")
        last = entry["lastDeployment"]
        if last and last.get("outcome") in ("failed", "rolled-back"):  # not yet followed by a success
            entry["attention"].append(
                f"deployment of {last.get('group')}/{last.get('version')} {last['outcome']}"
                + (f": {last['failureReason']}" if last.get("failureReason") else "")
            )
        tested = (last or {}).get("integrationTest") or {}
        if last and last.get("outcome") == "succeeded" and tested.get("passed") is False:
            entry["attention"].append(
                f"integration test of {last.get('group')}/{last.get('version')} failed: promotion stopped"
            )
        entry["attention"] += [
            f"alarm {a['name']} in ALARM" for a in entry["alarms"] if a["state"] == "ALARM"
        ]
    if endpoint is not None:
        by_id = {k: v for k, v in by_id.items() if k == endpoint}
        open_requests = [r for e in by_id.values() for r in e["approvalRequests"]]
    attention = [f"{e['name']}: {why}" for e in by_id.values() for why in e["attention"]]
    attention += [f"DLQ {q['name']}: {q['depth']} message(s)" for q in queues if q["depth"]]
    return {
        "at": now.astimezone(UTC).isoformat(),
        "endpoints": list(by_id.values()),
        "approvalRequests": open_requests,
        "dlqs": queues,
        "attention": attention,
        "ok": not attention,
    }
