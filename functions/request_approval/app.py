"""request_approval: a newly registered version is gated, then rejected, approved or sent to approvers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.approvals.service import open_request
from steward.approvals.wiring import approval_deps
from steward.events import models as ev
from steward.events import parse_or_ignore
from steward.kernel.observability import logger, metrics, tracer
from steward.policy import load_policy

# What the gate did with a new version; a duplicate delivery counts nothing, nor does one resuming a request
# whose first delivery failed after saving it (rare; that request is counted by neither).
_METRICS = {
    "requested": "ApprovalRequested",
    "gate-approved": "ApprovalGateApproved",
    "gate-rejected": "ApprovalGateRejected",
}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    if parsed is None:
        return {"outcome": "ignored"}
    if not isinstance(parsed, ev.ModelPackageStateChange):
        return {"outcome": "ignored"}
    outcome = open_request(parsed, load_policy(), approval_deps(), datetime.now(UTC))
    logger.info("approval gate", extra=outcome)
    if outcome["outcome"] in _METRICS:
        metrics.add_metric(name=_METRICS[outcome["outcome"]], unit=MetricUnit.Count, value=1)
    return outcome
