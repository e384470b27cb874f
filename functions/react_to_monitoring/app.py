"""react_to_monitoring: Model Monitor executions and endpoint alarms → recorded against the serving
version, alerted, and (per policy) a retraining run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import on_event
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import LineageTables, NotificationQueue
from steward.monitoring.react import react
from steward.monitoring.wiring import monitoring_deps
from steward.policy import load_policy

if TYPE_CHECKING:
    from steward.events import StewardEvent

_METRICS = {
    "violations": "MonitorViolations",
    "report-missing": "MonitorReportUnreadable",
    "report-malformed": "MonitorReportUnreadable",
    "ALARM": "AlarmRaised",
}


class Settings(LineageTables, NotificationQueue):
    """What react_to_monitoring reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
@on_event
def handler(parsed: StewardEvent, context: LambdaContext) -> dict[str, Any]:
    arn = context.invoked_function_arn.split(":")  # this account and region: what its credentials can read
    reaction = react(parsed, load_policy(), monitoring_deps(home=(arn[3], arn[4])), datetime.now(UTC))
    outcome = reaction.as_dict()
    if reaction.outcome == "unknown-alarm":
        logger.warning("alarm maps to no known endpoint", extra=outcome)
    else:
        logger.info("monitoring reaction", extra=outcome)
    if reaction.outcome in ("recorded", "stale", "unknown-alarm") and reaction.result in _METRICS:
        metrics.add_metric(name=_METRICS[reaction.result], unit=MetricUnit.Count, value=1)
    if reaction.retraining is not None and reaction.retraining.status == "started":
        metrics.add_metric(name="RetrainingStarted", unit=MetricUnit.Count, value=1)
    return outcome
