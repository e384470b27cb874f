"""How extraction builds one event's LineageChange: the node/edge builder, the times that order states,
the nodes every extractor shares (pipeline executions, models), and the SageMaker facts the use case
passes in (what DescribeEndpointConfig and DescribeModel say)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.kernel.arns import arn_name, arn_parts, canonical_arn, s3_id
from steward.kernel.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation

PIPELINE_TAG = "sagemaker:pipeline-execution-arn"
_MAX_TEXT = 1024


class ModelFacts(BaseModel):
    """What DescribeModel says about one model of an endpoint config."""

    model_config = ConfigDict(defer_build=True)

    name: str
    arn: str
    model_package_arn: str | None = None
    model_data_urls: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)


class EndpointConfigFacts(BaseModel):
    """What DescribeEndpointConfig (+ DescribeModel) says; configs and models are immutable in SageMaker."""

    model_config = ConfigDict(defer_build=True)

    name: str
    arn: str
    models: list[ModelFacts] = Field(default_factory=list)
    data_capture_uri: str | None = None
    resolved: bool = True  # False when SageMaker could not be asked (degraded: recorded by name only)


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values and clip long free text (FailureReason/ExitMessage are ≤ 1 KB on AWS anyway)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None or value in ("", {}, []):
            continue
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str) and len(value) > _MAX_TEXT:
            out[key] = value[: _MAX_TEXT - 1] + "…"
        else:
            out[key] = value
    return out


class ChangeBuilder:
    def __init__(self, event: Any) -> None:
        self.event = event
        self.nodes: dict[str, NodeUpdate] = {}
        self.edges: dict[tuple[str, str, str], EdgeUpdate] = {}

    def node(self, node_id: str, kind: NodeKind, name: str | None = None, **attributes: Any) -> str:
        existing = self.nodes.get(node_id)
        if existing is None or existing.status is None:
            merged = {**(existing.attributes if existing else {}), **_clean(attributes)}
            self.nodes[node_id] = NodeUpdate(
                id=node_id, kind=kind, name=name or arn_name(node_id), attributes=merged
            )
        return node_id

    def primary(
        self,
        node_id: str,
        kind: NodeKind,
        name: str,
        status: str,
        when: datetime,
        history: dict[str, Any] | None = None,
        clear: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
        **attributes: Any,
    ) -> str:
        self.nodes[node_id] = NodeUpdate(
            id=node_id,
            kind=kind,
            name=name,
            status=status,
            status_time=when,
            attributes=_clean(attributes),
            history=_clean(history or {}),
            clear=clear,
            keep=keep,
        )
        return node_id

    def dataset(self, uri: str | None, **attributes: Any) -> str | None:
        if not uri or not uri.startswith("s3://"):
            return None
        node_id = s3_id(uri)
        return self.node(
            node_id, NodeKind.DATASET, node_id.rsplit("/", 1)[-1] or node_id, uri=node_id, **attributes
        )

    def edge(self, source: str | None, target: str | None, relation: Relation) -> None:
        if source and target and source != target:
            self.edges[(source, target, relation.value)] = EdgeUpdate(
                source=source, target=target, relation=relation
            )

    def change(self) -> LineageChange:
        return LineageChange(
            event_id=self.event.id,
            event_time=self.event.time,
            detail_type=self.event.detail_type,
            replay_name=self.event.replay_name,
            nodes=list(self.nodes.values()),
            edges=list(self.edges.values()),
        )


def state_time(event: Any, *candidates: datetime | None) -> datetime:
    """The time that orders this resource's states: the detail's own time, else the envelope's."""
    return next((c for c in candidates if c is not None), event.time)


def pipeline_execution_node(b: ChangeBuilder, arn: str | None) -> str | None:
    if not arn or ":pipeline/" not in arn:
        return None
    node_id = canonical_arn(arn)
    pipeline = node_id.split(":pipeline/", 1)[1].split("/", 1)[0]
    return b.node(node_id, NodeKind.PIPELINE_EXECUTION, f"{pipeline}/{arn_name(node_id)}", pipeline=pipeline)


def model_node(b: ChangeBuilder, model: ModelFacts) -> str:
    model_id = b.node(canonical_arn(model.arn), NodeKind.MODEL, model.name, images=model.images)
    if model.model_package_arn:
        b.edge(
            b.node(canonical_arn(model.model_package_arn), NodeKind.MODEL_PACKAGE),
            model_id,
            Relation.INSTANTIATED_AS,
        )
    elif model.model_data_urls:
        for url in model.model_data_urls:
            artifact = s3_id(url)
            b.node(artifact, NodeKind.MODEL_ARTIFACT, artifact.rsplit("/", 1)[-1], uri=artifact)
            b.edge(artifact, model_id, Relation.INSTANTIATED_AS)
    return model_id


def resource_location(event: Any, arn: str | None) -> tuple[str, str, str]:
    """(region, account, partition) of the resource: its ARN's when known (events may be forwarded)."""
    parts = arn_parts(arn) if arn else None
    if parts:
        partition, region, account = parts
        return region or event.region, account or event.account, partition
    return event.region, event.account, "aws"
