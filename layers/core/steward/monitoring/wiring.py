"""Builds the monitoring use cases' dependencies from settings."""

from __future__ import annotations

from steward.kernel.aws.reports import S3Reports
from steward.kernel.settings import LineageTables, NotificationQueue, get_settings
from steward.monitoring.adapters.aws import CloudWatchAlarmTags, SageMakerPipelines
from steward.monitoring.adapters.store import MonitoringStore
from steward.monitoring.react import Deps
from steward.notify.adapters.outbox import notification_queue


def monitoring_store() -> MonitoringStore:
    s = get_settings(LineageTables)
    return MonitoringStore(s.lineage_table, s.idempotency_table, s.event_id_ttl_seconds)


def monitoring_deps(home: tuple[str, str] | None) -> Deps:
    store = monitoring_store()
    return Deps(
        store=store,
        reports=S3Reports(),
        tags=CloudWatchAlarmTags(),
        ledger=store,
        pipelines=SageMakerPipelines(),
        outbox=notification_queue(get_settings(NotificationQueue).notification_queue_url),
        home=home,
    )
