"""report_job_failure: failed or stopped jobs and pipelines → a job-failed notification on the queue;
training jobs whose Debugger/Profiler rules found issues → a training-rule-issues one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.events import on_event
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import logger
from steward.kernel.settings import NotificationQueue, get_settings
from steward.lineage.adapters.sagemaker import SageMakerReader
from steward.notify.adapters.outbox import notification_queue
from steward.notify.jobs import job_failure, rule_findings
from steward.policy import load_policy

if TYPE_CHECKING:
    from steward.events import StewardEvent


class Settings(NotificationQueue):
    """What report_job_failure reads from its environment (template.yaml sets each)."""


@lambda_handler(Settings)
@on_event
def handler(parsed: StewardEvent, context: LambdaContext) -> dict[str, Any]:
    policy = load_policy()
    notifications = [
        n for n in (job_failure(parsed, policy, SageMakerReader()), rule_findings(parsed, policy)) if n
    ]
    if not notifications:
        return {"outcome": "ignored", "reason": "not a failure"}
    queue = notification_queue(get_settings(Settings).notification_queue_url)
    sent = [(queue.send(n), n.dedupe_key) for n in notifications]
    logger.info("job problems reported", extra={"dedupe_keys": [key for _, key in sent]})
    return {"outcome": "enqueued", "messageId": sent[0][0], "dedupeKey": sent[0][1], "notified": len(sent)}
