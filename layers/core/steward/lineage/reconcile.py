"""Use case: repair what lost events left stale, by asking SageMaker (scheduled, bounded).

SageMaker events are best effort. The reconciler takes the records still open (jobs not yet terminal,
endpoints) from the store's sparse worklist index, describes each resource, and feeds what SageMaker
says through the same recorder as a synthetic event — so the same forward-only rule decides, and a
repair is just a state change the events failed to bring. Training jobs whose Debugger/Profiler rules
have not finished stay on a second list (the rules' watch) after the job itself ended, since no event is
sent when a rule ends: their rules are read from DescribeTrainingJob the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from steward.events import models as ev
from steward.events import parse_event
from steward.kernel.arns import canonical_arn
from steward.kernel.errors import NotFoundError
from steward.kernel.graph import NodeKind
from steward.lineage.lifecycle import is_terminal_rank, status_rank
from steward.lineage.record import LineageWriter, SageMakerLookup, record_lineage
from steward.lineage.rules import describe, is_open

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
    def rules_watched(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def unwatch_rules(self, node_id: str, reason: str) -> None: ...


class Describer(SageMakerLookup, Protocol):
    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...


# Called with the (synthetic) training-job event and the rule evaluations it moved forward: the alert.
RulesObserved = Callable[[ev.TrainingJobStateChange, list[dict[str, Any]]], None]

# A finished job's rules still unfinished this long after it ended are no longer watched (SageMaker
# ends a rule's processing job within minutes of the training job; a watch that never ends would take a
# share of every run's budget).
RULES_WATCH_HOURS = 48


@dataclass
class ReconcileReport:
    checked: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    out_of_reach: list[str] = field(default_factory=list)
    budget_exhausted: bool = False
    rules: list[dict[str, Any]] = field(default_factory=list)  # rule evaluations moved forward
    unwatched: list[str] = field(default_factory=list)  # jobs whose rules are no longer watched

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "repaired": self.repaired,
            "missing": self.missing,
            "outOfReach": self.out_of_reach,
            "budgetExhausted": self.budget_exhausted,
            "rules": self.rules,
            "unwatched": self.unwatched,
        }


def reconcile(
    store: WorklistReader,
    sagemaker: Describer,
    budget: int = 100,
    home: tuple[str, str] | None = None,
    now: datetime | None = None,
    on_rules: RulesObserved | None = None,
) -> ReconcileReport:
    """Describe up to `budget` open records and repair those SageMaker reports further along.

    `home` is (region, account) of the reconciler: records of other accounts or regions cannot be
    described with its credentials, and records SageMaker no longer knows never will be; both leave
    the worklist (with the reason on the node) instead of using up every run's budget.

    Then the training jobs whose Debugger/Profiler rules have not all finished (the rules' watch: a
    job can be Completed with its rules InProgress, and no event follows when they end): their rules
    are read from DescribeTrainingJob and merged forward only; `on_rules` hears of every rule moved
    forward (the alert), whichever list the job was on.
    """
    report = ReconcileReport()
    checked: set[str] = set()
    for kind in DESCRIBE:
        if report.checked >= budget:
            report.budget_exhausted = True
            break
        for node in store.active_nodes(kind, limit=budget - report.checked):
            if report.checked >= budget:
                report.budget_exhausted = True
                break
            if _out_of_reach(node, home):
                store.retire(node["id"], f"out of reach: {_place(node)} is not this account/region")
                report.out_of_reach.append(node["id"])
                continue
            checked.add(node["id"])
            _check(node, kind, store, sagemaker, report, on_rules)
    _watch_rules(store, sagemaker, budget, home, now, on_rules, report, checked)
    return report


def _place(node: dict[str, Any]) -> str:
    parts = node["id"].split(":")
    return f"{parts[4]}/{parts[3]}" if len(parts) > 4 else node["id"]


def _out_of_reach(node: dict[str, Any], home: tuple[str, str] | None) -> bool:
    parts = node["id"].split(":")
    return home is not None and len(parts) > 4 and (parts[3], parts[4]) != home


def _watch_rules(
    store: WorklistReader,
    sagemaker: Describer,
    budget: int,
    home: tuple[str, str] | None,
    now: datetime | None,
    on_rules: RulesObserved | None,
    report: ReconcileReport,
    checked: set[str],
) -> None:
    for node in store.rules_watched(limit=budget + len(checked)):
        if node["id"] in checked:
            continue  # described with the open jobs already
        if report.checked >= budget:
            report.budget_exhausted = True
            return
        if _out_of_reach(node, home):
            store.unwatch_rules(node["id"], f"out of reach: {_place(node)} is not this account/region")
            report.unwatched.append(node["id"])
            continue
        ended = _time(node.get("statusTime"))
        if (
            now is not None
            and ended is not None
            and is_terminal_rank(status_rank(NodeKind.TRAINING_JOB, str(node.get("status"))))
            and now - ended > timedelta(hours=RULES_WATCH_HOURS)
        ):
            unfinished = ", ".join(describe(r) for r in node.get("ruleEvaluations") or [] if is_open(r))
            store.unwatch_rules(node["id"], f"{unfinished} {RULES_WATCH_HOURS} h after the job ended"[:500])
            report.unwatched.append(node["id"])
            continue
        _check(node, NodeKind.TRAINING_JOB, store, sagemaker, report, on_rules, unwatch=True)


def _time(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check(
    node: dict[str, Any],
    kind: NodeKind,
    store: WorklistReader,
    sagemaker: Describer,
    report: ReconcileReport,
    on_rules: RulesObserved | None,
    unwatch: bool = False,
) -> None:
    """Describe one record and feed what SageMaker says through the recorder."""
    operation, parameter, detail_type = DESCRIBE[kind]
    report.checked += 1
    key = node["id"] if parameter.endswith("Arn") else node["name"]
    leave = store.unwatch_rules if unwatch else store.retire
    try:
        described = sagemaker.describe(operation, **{parameter: key})
    except NotFoundError:
        leave(node["id"], "not found in SageMaker")
        report.missing.append(node["id"])
        return
    described_arn = next(
        (
            v
            for k, v in described.items()
            if k.endswith("Arn") and isinstance(v, str) and k.replace("Arn", "Name") in described
        ),
        None,
    )
    if described_arn and canonical_arn(described_arn) != node["id"]:
        leave(node["id"], f"describe answered for another resource ({described_arn})")
        report.out_of_reach.append(node["id"])
        return
    event = parse_event(synthetic_event(detail_type, described, node))
    outcome = record_lineage(event, store, sagemaker)
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
    if outcome.rules:
        report.rules.append(
            {
                "id": node["id"],
                "rules": {
                    f"{r.get('Kind')} {r.get('RuleConfigurationName')}": r.get("RuleEvaluationStatus")
                    for r in outcome.rules
                },
            }
        )
        if on_rules is not None and isinstance(event, ev.TrainingJobStateChange):
            on_rules(event, list(outcome.rules))


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
