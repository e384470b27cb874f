"""The base models of the events Steward consumes: the EventBridge envelope, and the PascalCase (SageMaker
jobs, registry, endpoints) and camelCase (pipelines, CloudWatch) detail bases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal


class EventBridgeModel(BaseModel):
    """The EventBridge envelope, as Powertools Parser declares it. Declared here: importing Parser's
    model imports every model Parser ships, about 100 ms of each function's cold start."""

    # Validators are built on first use, for the event types a function receives (defer_build).
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(None, alias="replay-name")


class Pascal(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="allow", frozen=True, defer_build=True
    )


class Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True, defer_build=True
    )
