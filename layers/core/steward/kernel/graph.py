"""The lineage graph contract (README "Lineage store"): nodes, edges, and what an event changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NodeKind(StrEnum):
    DATASET = "dataset"
    PROCESSING_JOB = "processing-job"
    TRAINING_JOB = "training-job"
    TRANSFORM_JOB = "transform-job"
    TUNING_JOB = "tuning-job"
    PIPELINE_EXECUTION = "pipeline-execution"
    PIPELINE_STEP = "pipeline-step"
    MODEL_ARTIFACT = "model-artifact"
    MODEL_PACKAGE_GROUP = "model-package-group"
    MODEL_PACKAGE = "model-package"
    MODEL = "model"
    ENDPOINT_CONFIG = "endpoint-config"
    ENDPOINT = "endpoint"
    APPROVAL = "approval"
    DEPLOYMENT = "deployment"
    MONITORING_EXECUTION = "monitoring-execution"


class Relation(StrEnum):
    """Edge labels; every edge points downstream."""

    INPUT = "input"  # dataset/model → job that read it
    CODE = "code"  # code artifact → job that ran it
    OUTPUT = "output"  # job → dataset it wrote
    PRODUCED = "produced"  # training job → model artifact
    PACKAGED_AS = "packaged-as"  # model artifact → model package
    METRICS = "metrics"  # metrics report → model package
    CONTAINS = "contains"  # group → package; S3 prefix → object beneath it
    GENERATED = "generated"  # pipeline execution → job / package it generated
    HAS_STEP = "has-step"  # pipeline execution → step
    RAN = "ran"  # pipeline step → the job it ran (or reused from the cache)
    LAUNCHED = "launched"  # tuning job → training job
    INSTANTIATED_AS = "instantiated-as"  # model package / artifact → model
    USED_BY = "used-by"  # model → endpoint config
    CONFIGURES = "configures"  # endpoint config → endpoint it served
    MONITORED_BY = "monitored-by"  # endpoint, or the model version it served → monitoring result or alarm
    TRIGGERED = "triggered"  # monitoring result or alarm → the retraining pipeline execution it started
    GATED_BY = "gated-by"  # model package → its approval request (decisions and refusals in its history)
    DEPLOYED_AS = "deployed-as"  # model package → a deployment of it that Steward ran
    DEPLOYED_TO = "deployed-to"  # deployment → the endpoint it changed


class Node(BaseModel):
    """A node as the API returns it: id, kind, name, status and key attributes."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    id: str
    kind: NodeKind
    name: str
    status: str | None = None
    statusTime: str | None = None
    updatedAt: str | None = None


class Edge(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    from_: str = Field(alias="from")
    to: str
    relation: Relation

    def key(self) -> tuple[str, str, str]:
        return (self.from_, self.to, self.relation.value)


class Graph(BaseModel):
    model_config = ConfigDict(defer_build=True)

    nodes: list[dict[str, Any]] = Field(default_factory=list)
    edges: list[dict[str, str]] = Field(default_factory=list)


class NodeUpdate(BaseModel):
    """What one event says of one node. `status` is set only on the node the event is about."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    kind: NodeKind
    name: str
    status: str | None = None
    status_time: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    history: dict[str, Any] = Field(default_factory=dict)  # extra facts kept with this status change
    clear: tuple[str, ...] = ()  # attributes this state no longer has (removed when it wins)
    keep: tuple[str, ...] = ()  # attributes (or "name") set only when absent: the event is unsure of them
    # Whether the node is on its kind's worklist (the store's index of active records), decided by the
    # slice that owns the kind's lifecycle (an approval while pending, a deployment until it ends); None:
    # the lineage's own lifecycle decides (jobs until terminal, endpoints always).
    active: bool | None = None


class EdgeUpdate(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    source: str
    target: str
    relation: Relation


class LineageChange(BaseModel):
    """Everything one event adds to the graph: at most one status change, any number of nodes/edges."""

    model_config = ConfigDict(defer_build=True)

    event_id: str
    event_time: datetime
    detail_type: str
    replay_name: str | None = None  # set on repairs by the reconciler and on EventBridge replays
    nodes: list[NodeUpdate] = Field(default_factory=list)
    edges: list[EdgeUpdate] = Field(default_factory=list)

    @property
    def primary(self) -> NodeUpdate | None:
        return next((n for n in self.nodes if n.status is not None), None)
