"""request_approval: a newly registered version is gated, then rejected, approved or sent to approvers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.approvals.service import open_request
from steward.approvals.wiring import approval_deps
from steward.events import models as ev
from steward.events import on_event
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import ApprovalLinks
from steward.policy import load_policy

if TYPE_CHECKING:
    from steward.events import StewardEvent

# What the gate did with a new version; a duplicate delivery counts nothing, nor does one resuming a request
# whose first delivery failed after saving it (rare; that request is counted by neither).
_METRICS = {
    "requested": "ApprovalRequested",
    "gate-approved": "ApprovalGateApproved",
    "gate-rejected": "ApprovalGateRejected",
}


class Settings(ApprovalLinks):
    """What request_approval reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
@on_event
def handler(parsed: StewardEvent, context: LambdaContext) -> dict[str, Any]:
    if not isinstance(parsed, ev.ModelPackageStateChange):
        return {"outcome": "ignored"}
    outcome = open_request(parsed, load_policy(), approval_deps(), datetime.now(UTC))
    logger.info("approval gate", extra=outcome)
    if outcome["outcome"] in _METRICS:
        metrics.add_metric(name=_METRICS[outcome["outcome"]], unit=MetricUnit.Count, value=1)
    return outcome
