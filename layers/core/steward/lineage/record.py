"""Use case: record what one event says in the lineage graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from steward.events import models as ev
from steward.kernel.arns import sagemaker_arn
from steward.kernel.errors import DuplicateEventError, NotFoundError
from steward.kernel.graph import LineageChange
from steward.lineage.extract import EndpointConfigFacts, ModelFacts, config_names, extract, resource_location
from steward.lineage.rules import evaluations


class LineageWriter(Protocol):
    def apply(self, change: LineageChange) -> str: ...
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def get_nodes_for_event(
        self, ids: Any, event_id: str | None
    ) -> tuple[dict[str, dict[str, Any]], bool]: ...
    def merge_rules(self, node_id: str, reported: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


class SageMakerLookup(Protocol):
    def describe_endpoint_config(self, name: str) -> EndpointConfigFacts: ...
    def describe_model(self, name: str) -> ModelFacts: ...


@dataclass(frozen=True)
class RecordOutcome:
    outcome: str  # recorded | stale | duplicate | ignored
    node: str | None = None
    status: str | None = None
    degraded: tuple[str, ...] = ()
    # Debugger/Profiler rule evaluations the event moved forward (or named first), as lineage.rules keeps them
    rules: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "outcome": self.outcome,
            "node": self.node,
            "status": self.status,
            "degraded": list(self.degraded),
        }
        if self.rules:
            shown["rules"] = [
                {k: r.get(k) for k in ("Kind", "RuleConfigurationName", "RuleEvaluationStatus")}
                for r in self.rules
            ]
        return shown


Elsewhere = Callable[[str, str], SageMakerLookup | None]


def record_lineage(
    event: ev.StewardEvent,
    store: LineageWriter,
    sagemaker: SageMakerLookup,
    home: tuple[str, str] | None = None,
    elsewhere: Elsewhere | None = None,
) -> RecordOutcome:
    """Upsert the nodes and edges `event` states; move its resource's status forward only.

    Endpoint configs and models are immutable in SageMaker, so they are described once (when the store
    does not know them yet) and never cached in memory. When SageMaker cannot say (deleted, no access),
    the event is still recorded with what it carries and the gap is reported in `degraded`. The read
    of the known configs (or model) also reads the event's marker, so a duplicate stops there.

    `home` is (region, account) of this function's credentials. A resource of another account or region
    (a forwarded event) is described through `elsewhere(account, region)` (a workload account's read
    role); without one it is recorded by name only, and `degraded` says why.
    """
    configs: dict[str, EndpointConfigFacts] = {}
    model: ModelFacts | None = None
    degraded: list[str] = []
    applied = False
    try:
        if isinstance(event, ev.EndpointStateChange | ev.EndpointDeploymentStateChange):
            region, account, _ = resource_location(event, event.detail.endpoint_arn)
            lookup, why = _reader(region, account, home, sagemaker, elsewhere)
            if lookup is None:
                degraded = [f"endpoint in {account}/{region}: configs recorded by name only ({why})"]
            else:
                configs, degraded = _resolve_configs(event, store, lookup)
        elif isinstance(event, ev.TransformJobStateChange) and event.detail.model_name:
            region, account, _ = resource_location(event, event.detail.transform_job_arn)
            lookup, why = _reader(region, account, home, sagemaker, elsewhere)
            if lookup is None:
                degraded = [f"transform job in {account}/{region}: model recorded by name only ({why})"]
            else:
                model, degraded = _resolve_model(event, store, lookup)
    except DuplicateEventError:
        applied = True
    change = extract(event, configs=configs, model=model)
    if change is None:
        return RecordOutcome("ignored")
    primary = change.primary
    try:
        outcome = "duplicate" if applied else store.apply(change)
    except DuplicateEventError:
        outcome = "duplicate"
    advanced: list[dict[str, Any]] = []
    reported = evaluations(event.detail) if isinstance(event, ev.TrainingJobStateChange) else []
    if reported and primary is not None:
        # Also on a duplicate or stale event: the merge is idempotent, and a retry after a crash between
        # the change and the merge must still record the rules (and keep the job on the rules' watch).
        advanced = store.merge_rules(primary.id, reported)
    return RecordOutcome(
        outcome,
        primary.id if primary else None,
        primary.status if primary else None,
        tuple(degraded),
        tuple(advanced),
    )


def _reader(
    region: str,
    account: str,
    home: tuple[str, str] | None,
    sagemaker: SageMakerLookup,
    elsewhere: Elsewhere | None,
) -> tuple[SageMakerLookup | None, str]:
    """Who can describe a resource of (account, region): this function, a workload's read role, or
    nobody (and why)."""
    if home is None or (region, account) == home:
        return sagemaker, ""
    lookup = elsewhere(account, region) if elsewhere is not None else None
    if lookup is not None:
        return lookup, ""
    if account == home[1]:
        return None, f"another region of this account: {home[0]} describes its own only"
    return None, f"no read role for account {account}: template parameter WorkloadReadRoleArns"


def _unless_applied(store: LineageWriter, ids: Any, event_id: str) -> dict[str, dict[str, Any]]:
    """The nodes, read with the event's marker: DuplicateEventError when the event was applied already,
    before any Describe call is made for it (record_lineage answers "duplicate")."""
    found, applied = store.get_nodes_for_event(ids, event_id)
    if applied:
        raise DuplicateEventError(event_id)
    return found


def _resolve_configs(
    event: ev.EndpointStateChange | ev.EndpointDeploymentStateChange,
    store: LineageWriter,
    sagemaker: SageMakerLookup,
) -> tuple[dict[str, EndpointConfigFacts], list[str]]:
    region, account, partition = resource_location(event, event.detail.endpoint_arn)
    wanted = {
        name: sagemaker_arn(region, account, "endpoint-config", name, partition)
        for name in config_names(event)
    }
    known = _unless_applied(store, wanted.values(), event.id)
    configs, degraded = {}, []
    for name, arn in wanted.items():
        if known.get(arn, {}).get("resolved") is True:
            continue  # already linked to its models: nothing to ask SageMaker
        try:
            configs[name] = sagemaker.describe_endpoint_config(name)
        except NotFoundError as exc:
            degraded.append(f"endpoint-config {name}: {exc}")
    return configs, degraded


def _resolve_model(
    event: ev.TransformJobStateChange, store: LineageWriter, sagemaker: SageMakerLookup
) -> tuple[ModelFacts | None, list[str]]:
    name = event.detail.model_name or ""
    region, account, partition = resource_location(event, event.detail.transform_job_arn)
    arn = sagemaker_arn(region, account, "model", name, partition)
    if arn in _unless_applied(store, [arn], event.id):
        return None, []  # the model node (and its package link) is already recorded
    try:
        return sagemaker.describe_model(name), []
    except NotFoundError as exc:
        return None, [f"model {name}: {exc}"]
