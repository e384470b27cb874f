"""send_digests: on a schedule, send each digest route's held notifications as one message."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger, metrics
from steward.kernel.settings import Channels, get_settings
from steward.notify.adapters.channels import channels_for
from steward.notify.adapters.store import NotificationStore
from steward.notify.digest import send_digests
from steward.policy import load_policy


class Settings(Channels):
    """What send_digests reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, policy = get_settings(Settings), load_policy()
    store = NotificationStore(settings.notifications_table)
    channels = channels_for(policy, store)
    sent = send_digests(policy, store, channels)
    metrics.add_metric(name="DigestSent", unit=MetricUnit.Count, value=len(sent))
    logger.info("digests sent", extra={"digests": sent})
    return {"digests": sent}
