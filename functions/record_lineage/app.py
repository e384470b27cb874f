"""record_lineage: SageMaker state-change events → the lineage graph in DynamoDB."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import parse_or_ignore
from steward.kernel.errors import InvalidEventError
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import LineageTables, WorkloadReadRoles, get_settings
from steward.lineage.adapters.sagemaker import SageMakerReader, workload_readers
from steward.lineage.adapters.store import LineageStore
from steward.lineage.record import record_lineage


class Settings(LineageTables, WorkloadReadRoles):
    """What record_lineage reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(event_id=event.get("id") if isinstance(event, dict) else None)
    try:
        parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    except InvalidEventError:
        metrics.add_metric(name="InvalidEvent", unit=MetricUnit.Count, value=1)
        raise
    if parsed is None:
        return {"outcome": "ignored"}
    settings = get_settings(Settings)
    store = LineageStore(settings.lineage_table, settings.idempotency_table, settings.event_id_ttl_seconds)
    arn = context.invoked_function_arn.split(":")  # this account and region: what SageMaker can describe
    # Another account's resources are described with that workload account's read role, when there is one.
    elsewhere = workload_readers(settings.workload_read_roles)
    outcome = record_lineage(parsed, store, SageMakerReader(), home=(arn[3], arn[4]), elsewhere=elsewhere)
    logger.info("lineage recorded", extra={"detail_type": parsed.detail_type, **outcome.as_dict()})
    metrics.add_metric(name=f"Lineage{outcome.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome.as_dict()
