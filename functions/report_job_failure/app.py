"""report_job_failure: failed or stopped jobs and pipelines → a job-failed notification on the queue;
training jobs whose Debugger/Profiler rules found issues → a training-rule-issues one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import parse_or_ignore
from steward.kernel.observability import logger, metrics, tracer
from steward.kernel.settings import get_settings
from steward.lineage.adapters.sagemaker import SageMakerReader
from steward.notify.adapters.outbox import notification_queue
from steward.notify.jobs import job_failure, rule_findings
from steward.policy import load_policy


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
    if parsed is None:
        return {"outcome": "ignored"}
    policy = load_policy()
    notifications = [
        n for n in (job_failure(parsed, policy, SageMakerReader()), rule_findings(parsed, policy)) if n
    ]
    if not notifications:
        return {"outcome": "ignored", "reason": "not a failure"}
    queue = notification_queue(get_settings().notification_queue_url)
    sent = [(queue.send(n), n.dedupe_key) for n in notifications]
    logger.info("job problems reported", extra={"dedupe_keys": [key for _, key in sent]})
    return {"outcome": "enqueued", "messageId": sent[0][0], "dedupeKey": sent[0][1], "notified": len(sent)}
