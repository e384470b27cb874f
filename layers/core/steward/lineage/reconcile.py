"""Use case: repair what lost events left stale, by asking SageMaker (scheduled, bounded).

SageMaker events are best effort. The reconciler takes the records still open (jobs not yet terminal,
endpoints) from the store's sparse worklist index, describes each resource, and feeds what SageMaker
says through the same recorder as a synthetic event — so the same forward-only rule decides, and a
repair is just a state change the events failed to bring.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from steward.errors import NotFoundError
from steward.events import parse_event
from steward.lineage.arns import canonical_arn
from steward.lineage.graph import NodeKind
from steward.lineage.record import LineageWriter, SageMakerLookup, record_lineage

REPLAY_NAME = "steward-reconciler"

# kind → (Describe operation, its name parameter, the detail-type SageMaker sends for it)
_PROCESSING = ("describe_processing_job", "ProcessingJobName", "SageMaker Processing Job State Change")
DESCRIBE = {
    NodeKind.TRAINING_JOB: (
        "describe_training_job",
        "TrainingJobName",
        "SageMaker Training Job State Change",
    ),
    NodeKind.PROCESSING_JOB: _PROCESSING,
    NodeKind.MONITORING_EXECUTION: _PROCESSING,
    NodeKind.TRANSFORM_JOB: (
        "describe_transform_job",
        "TransformJobName",
        "SageMaker Transform Job State Change",
    ),
    NodeKind.TUNING_JOB: (
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "SageMaker HyperParameter Tuning Job State Change",
    ),
    NodeKind.PIPELINE_EXECUTION: (
        "describe_pipeline_execution",
        "PipelineExecutionArn",
        "SageMaker Model Building Pipeline Execution Status Change",
    ),
    NodeKind.ENDPOINT: ("describe_endpoint", "EndpointName", "SageMaker Endpoint State Change"),
}


class WorklistReader(LineageWriter, Protocol):
    def active_nodes(self, kind: NodeKind, limit: int = 100) -> list[dict[str, Any]]: ...
    def retire(self, node_id: str, reason: str) -> None: ...


class Describer(SageMakerLookup, Protocol):
    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class ReconcileReport:
    checked: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    out_of_reach: list[str] = field(default_factory=list)
    budget_exhausted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "repaired": self.repaired,
            "missing": self.missing,
            "outOfReach": self.out_of_reach,
            "budgetExhausted": self.budget_exhausted,
        }


def reconcile(
    store: WorklistReader, sagemaker: Describer, budget: int = 100, home: tuple[str, str] | None = None
) -> ReconcileReport:
    """Describe up to `budget` open records and repair those SageMaker reports further along.

    `home` is (region, account) of the reconciler: records of other accounts or regions cannot be
    described with its credentials, and records SageMaker no longer knows never will be; both leave
    the worklist (with the reason on the node) instead of using up every run's budget.
    """
    report = ReconcileReport()
    for kind, (operation, parameter, detail_type) in DESCRIBE.items():
        if report.checked >= budget:
            report.budget_exhausted = True
            break
        for node in store.active_nodes(kind, limit=budget - report.checked):
            if report.checked >= budget:
                report.budget_exhausted = True
                break
            parts = node["id"].split(":")
            if home is not None and len(parts) > 4 and (parts[3], parts[4]) != home:
                store.retire(node["id"], f"out of reach: {parts[4]}/{parts[3]} is not this account/region")
                report.out_of_reach.append(node["id"])
                continue
            report.checked += 1
            key = node["id"] if parameter.endswith("Arn") else node["name"]
            try:
                described = sagemaker.describe(operation, **{parameter: key})
            except NotFoundError:
                store.retire(node["id"], "not found in SageMaker")
                report.missing.append(node["id"])
                continue
            described_arn = next(
                (
                    v
                    for k, v in described.items()
                    if k.endswith("Arn") and isinstance(v, str) and k.replace("Arn", "Name") in described
                ),
                None,
            )
            if described_arn and canonical_arn(described_arn) != node["id"]:
                store.retire(node["id"], f"describe answered for another resource ({described_arn})")
                report.out_of_reach.append(node["id"])
                continue
            event = synthetic_event(detail_type, described, node)
            outcome = record_lineage(parse_event(event), store, sagemaker)
            if outcome.outcome == "recorded" and _changed(node, outcome.status, described):
                report.repaired.append(
                    {
                        "id": node["id"],
                        "kind": kind.value,
                        "from": node.get("status"),
                        "to": outcome.status,
                        "endpointConfigName": described.get("EndpointConfigName"),
                    }
                )
    return report


def _changed(node: dict[str, Any], status: str | None, described: dict[str, Any]) -> bool:
    config = described.get("EndpointConfigName")
    return status != node.get("status") or (config is not None and config != node.get("endpointConfigName"))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def synthetic_event(detail_type: str, described: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """What SageMaker would have sent for the state Describe reports (the event detail is that shape)."""
    detail = {k: _iso(v) for k, v in described.items() if k != "ResponseMetadata"}
    if detail_type.endswith("Pipeline Execution Status Change"):
        status = detail.get("PipelineExecutionStatus")
        detail = {
            "pipelineArn": detail.get("PipelineArn"),
            "pipelineExecutionArn": detail.get("PipelineExecutionArn"),
            "currentPipelineExecutionStatus": status,
            "pipelineExecutionDisplayName": detail.get("PipelineExecutionDisplayName"),
            "executionStartTime": detail.get("CreationTime"),
            "executionEndTime": detail.get("LastModifiedTime") if status != "Executing" else None,
        }
    when = detail.get("LastModifiedTime") or detail.get("CreationTime") or node.get("statusTime")
    arn = node["id"]
    status = next((v for k, v in detail.items() if k.endswith("Status") and isinstance(v, str)), "")
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"steward-reconcile:{arn}:{status}:{when}")
    parts = arn.split(":")
    return {
        "version": "0",
        "id": str(event_id),
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": parts[4],
        "time": when,
        "region": parts[3],
        "resources": [arn],
        "detail": detail,
        "replay-name": REPLAY_NAME,
    }
