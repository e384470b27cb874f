"""Builds the monitoring use cases' dependencies from settings."""

from __future__ import annotations

from steward.adapters.monitoring_clients import CloudWatchAlarmTags, SageMakerPipelines
from steward.adapters.monitoring_store import MonitoringStore
from steward.adapters.notification_queue import NotificationQueue
from steward.adapters.registry import S3Reports
from steward.monitoring.react import Deps
from steward.settings import get_settings


def monitoring_store() -> MonitoringStore:
    s = get_settings()
    return MonitoringStore(s.lineage_table, s.idempotency_table, s.event_id_ttl_seconds)


def monitoring_deps(home: tuple[str, str] | None) -> Deps:
    store = monitoring_store()
    return Deps(
        store=store,
        reports=S3Reports(),
        tags=CloudWatchAlarmTags(),
        ledger=store,
        pipelines=SageMakerPipelines(),
        outbox=NotificationQueue(get_settings().notification_queue_url),
        home=home,
    )
