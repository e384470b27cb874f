"""report_job_failure: failed or stopped jobs and pipelines → a job-failed notification on the queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.adapters.notification_queue import NotificationQueue
from steward.adapters.sagemaker import SageMakerReader
from steward.events import parse_or_ignore
from steward.notify.jobs import job_failure
from steward.observability import logger, metrics, tracer
from steward.policy import load_policy
from steward.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    if parsed is None:
        return {"outcome": "ignored"}
    notification = job_failure(parsed, load_policy(), SageMakerReader())
    if notification is None:
        return {"outcome": "ignored", "reason": "not a failure"}
    message_id = NotificationQueue(get_settings().notification_queue_url).send(notification)
    logger.info("job failure reported", extra={"dedupe_key": notification.dedupe_key})
    return {"outcome": "enqueued", "messageId": message_id, "dedupeKey": notification.dedupe_key}
