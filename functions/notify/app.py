"""notify: SQS batches of notifications → Slack, email and webhooks, routed by policy, deduplicated."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import Channels, get_settings
from steward.notify.adapters.channels import channels_for
from steward.notify.adapters.store import NotificationStore
from steward.notify.deliver import RetryLaterError, deliver
from steward.notify.models import Notification
from steward.policy import load_policy

processor = BatchProcessor(event_type=EventType.SQS)


class Settings(Channels):
    """What notify reads from its environment (template.yaml sets each)."""


def record_handler(record: SQSRecord) -> dict[str, Any]:
    notification = Notification.model_validate_json(record.body)  # invalid → this item fails, then the DLQ
    settings, policy = get_settings(Settings), load_policy()
    store = NotificationStore(settings.notifications_table)
    channels = channels_for(policy, store)
    try:
        report = deliver(notification, policy, store, channels)
    except RetryLaterError as exc:  # a target failed in a way worth retrying (or is in flight): retried
        if exc.failed:
            metrics.add_metric(name="NotificationFailed", unit=MetricUnit.Count, value=1)
        raise
    result = {"sent": report.sent, "failed": report.failed, "deduplicated": report.deduplicated}
    logger.info("notification handled", extra={"kind": notification.kind.value, **result})
    for name, happened in (  # per message; a message sent to one target and failed on another counts both
        ("NotificationDeduplicated", report.deduplicated),
        ("NotificationSent", bool(report.sent) or report.digested),  # held for its digest counts as sent
        ("NotificationFailed", bool(report.failed)),  # permanent failures: recorded, not retried
    ):
        if happened:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return result


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
