"""reconcile_lineage: on a schedule, repair records that lost SageMaker events left stale, and read the
Debugger/Profiler rules that were still running when their training job ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import models as ev
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import LineageTables, NotificationQueue, ReconcileBudget, get_settings
from steward.lineage.adapters.sagemaker import SageMakerReader
from steward.lineage.adapters.store import LineageStore
from steward.lineage.reconcile import reconcile
from steward.notify.adapters.outbox import notification_queue
from steward.notify.jobs import rule_findings
from steward.policy import load_policy


def _alert(event: ev.TrainingJobStateChange, advanced: list[dict[str, Any]]) -> None:
    """The alert the training-job event would have raised, for the rules that ended after it."""
    notification = rule_findings(event, load_policy(), only=advanced)
    if notification is not None:
        notification_queue(get_settings(Settings).notification_queue_url).send(notification)
        logger.info("rule findings reported", extra={"dedupe_key": notification.dedupe_key})


class Settings(LineageTables, NotificationQueue, ReconcileBudget):
    """What reconcile_lineage reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings(Settings)
    store = LineageStore(settings.lineage_table, settings.idempotency_table, settings.event_id_ttl_seconds)
    arn = context.invoked_function_arn.split(":")
    report = reconcile(
        store,
        SageMakerReader(),
        budget=settings.reconcile_budget,
        home=(arn[3], arn[4]),
        now=datetime.now(UTC),
        on_rules=_alert,
    )
    for repair in report.repaired:
        logger.warning("repaired a stale record", extra=repair)
    metrics.add_metric(name="RecordsChecked", unit=MetricUnit.Count, value=report.checked)
    metrics.add_metric(name="RepairRecorded", unit=MetricUnit.Count, value=len(report.repaired))
    metrics.add_metric(name="RuleEvaluationRecorded", unit=MetricUnit.Count, value=len(report.rules))
    if report.budget_exhausted:
        logger.info("budget exhausted; the rest waits for the next run", extra={"budget": report.checked})
    return report.as_dict()
