"""What one monitoring event records: the result node, its links, and its line in the endpoint's
monitoring timeline (the data-access layer writes it in one transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MonitoringRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    event_id: str
    event_time: datetime
    detail_type: str
    node_id: str  # the monitoring execution's ARN, or the alarm's
    name: str
    # Alarms only: their state, ordered by time. A Model Monitor execution's status is record_lineage's.
    status: str | None = None
    status_time: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    history: dict[str, Any] = Field(default_factory=dict)
    endpoint_id: str
    endpoint_name: str
    model_packages: list[str] = Field(default_factory=list)
    pipeline_execution: str | None = None  # the retraining run this result started
    at: datetime  # the timeline's time
    entry: dict[str, Any] = Field(default_factory=dict)  # the timeline item (what `steward monitoring` shows)
