"""sweep_approvals: on a schedule, remind approvers as expiry nears and expire undecided requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.approvals.service import sweep
from steward.approvals.wiring import approval_deps
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import ApprovalLinks, get_settings
from steward.lineage.adapters.store import LineageStore


class Settings(ApprovalLinks):
    """What sweep_approvals reads from its environment (template.yaml sets each): reminders carry links."""


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings(Settings)
    report = sweep(
        LineageStore(settings.lineage_table, settings.idempotency_table), approval_deps(), datetime.now(UTC)
    )
    metrics.add_metric(name="ApprovalReminded", unit=MetricUnit.Count, value=len(report["reminded"]))
    metrics.add_metric(name="ApprovalExpired", unit=MetricUnit.Count, value=len(report["expired"]))
    logger.info("approvals swept", extra=report)
    return report
