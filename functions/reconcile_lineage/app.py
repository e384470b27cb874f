"""reconcile_lineage: on a schedule, repair records that lost SageMaker events left stale."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.adapters.lineage_store import LineageStore
from steward.adapters.sagemaker import SageMakerReader
from steward.lineage.reconcile import reconcile
from steward.observability import logger, metrics, tracer
from steward.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    store = LineageStore(settings.lineage_table, settings.idempotency_table, settings.event_id_ttl_seconds)
    arn = context.invoked_function_arn.split(":")
    report = reconcile(store, SageMakerReader(), budget=settings.reconcile_budget, home=(arn[3], arn[4]))
    for repair in report.repaired:
        logger.warning("repaired a stale record", extra=repair)
    metrics.add_metric(name="RecordsChecked", unit=MetricUnit.Count, value=report.checked)
    metrics.add_metric(name="RepairRecorded", unit=MetricUnit.Count, value=len(report.repaired))
    if report.budget_exhausted:
        logger.info("budget exhausted; the rest waits for the next run", extra={"budget": report.checked})
    return report.as_dict()
