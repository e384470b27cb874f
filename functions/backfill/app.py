"""backfill: record what SageMaker holds that no event brought; invoked by name (README "Backfill").

Event `{"since"?, "budget"?, "run"?}`. Each invocation walks until its budget of SageMaker calls is
spent or about 30 s of its time are left, saves the run's checkpoint and answers the run's summary with
`"done"`; while that is false, invoke it again with `{"run": ...}` (what `steward backfill` does).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.backfill.adapters.store import BackfillStore
from steward.backfill.walk import BackfillRequest, backfill, start_or_resume
from steward.kernel.errors import RefusedError
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import BackfillBudget, LineageTables, get_settings
from steward.lineage.adapters.sagemaker import SageMakerCatalog
from steward.lineage.adapters.store import LineageStore


class Settings(LineageTables, BackfillBudget):
    """What backfill reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings(Settings)
    checkpoints = BackfillStore(settings.lineage_table)
    try:
        request = BackfillRequest.parse(event)
        checkpoint = start_or_resume(checkpoints, request.run, request.since)
        store = LineageStore(
            settings.lineage_table, settings.idempotency_table, settings.event_id_ttl_seconds
        )
        arn = context.invoked_function_arn.split(":")
        report = backfill(
            checkpoint,
            checkpoints,
            store,
            SageMakerCatalog(),
            budget=request.budget or settings.backfill_budget,
            time_left_ms=context.get_remaining_time_in_millis,
            home=(arn[3], arn[4]),
        )
    except RefusedError as exc:  # the caller's mistake: said in the answer, not a function error
        logger.warning("backfill refused", extra={"refusal": exc.to_dict()})
        return exc.to_dict()
    answer = report.as_dict()
    logger.info(
        "backfill progressed", extra={k: answer[k] for k in ("run", "done", "phase", "calls", "summary")}
    )
    metrics.add_metric(name="BackfillSageMakerCalls", unit=MetricUnit.Count, value=answer["calls"])
    return answer
