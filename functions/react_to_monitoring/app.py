"""react_to_monitoring: Model Monitor executions and endpoint alarms → recorded against the serving
version, alerted, and (per policy) a retraining run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import parse_or_ignore
from steward.kernel.observability import logger, metrics, tracer
from steward.monitoring.react import react
from steward.monitoring.wiring import monitoring_deps
from steward.policy import load_policy

_METRICS = {
    "violations": "MonitorViolations",
    "report-missing": "MonitorReportUnreadable",
    "report-malformed": "MonitorReportUnreadable",
    "ALARM": "AlarmRaised",
}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(event_id=event.get("id") if isinstance(event, dict) else None)
    parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    if parsed is None:
        return {"outcome": "ignored"}
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
