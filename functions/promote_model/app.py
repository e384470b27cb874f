"""promote_model: approved versions onto their stages' endpoints, endpoint events to each deployment's end,
and operator commands (rollbacks) from the promotion queue; outcomes counted by steward.promotion.counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import models as ev
from steward.events import parse_or_ignore
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger
from steward.kernel.settings import ApprovalLinks, PromotionSettings
from steward.policy import load_policy
from steward.promotion import service
from steward.promotion.counts import count_outcomes
from steward.promotion.wiring import history_reader, promotion_deps, worklist

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class Settings(PromotionSettings, ApprovalLinks):
    """What promote_model reads (template.yaml sets each); a stage's own approval request sends links."""


def command_handler(record: SQSRecord) -> dict[str, Any]:
    body = json.loads(record.body)  # invalid → this item fails, then the DLQ
    policy = load_policy()
    outcome = service.on_command(body, policy, promotion_deps(policy), history_reader(), datetime.now(UTC))
    logger.info("promotion command", extra=outcome)
    return count_outcomes(outcome)


@lambda_handler(Settings)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # operator commands: rare, so the batch utility is imported only for them
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        processor = BatchProcessor(event_type=EventType.SQS)
        return process_partial_response(event, command_handler, processor, context)
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        policy = load_policy()
        outcome = service.reconcile(worklist(), policy, promotion_deps(policy), datetime.now(UTC))
        logger.info("promotion reconciled", extra=outcome)
        return count_outcomes(outcome)
    parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    if parsed is None:
        return {"outcome": "ignored"}
    now, policy = datetime.now(UTC), load_policy()
    outcome: dict[str, Any] = {"outcome": "ignored", "reason": "not a promotion event"}
    if isinstance(parsed, ev.ModelPackageStateChange):
        outcome = service.on_package_event(parsed, policy, promotion_deps(policy), now)
    elif isinstance(parsed, ev.EndpointStateChange | ev.EndpointDeploymentStateChange):
        outcome = service.on_endpoint_event(parsed, policy, promotion_deps(policy), now)
    logger.info("promotion", extra={k: v for k, v in outcome.items() if k != "next"})
    return count_outcomes(outcome)
