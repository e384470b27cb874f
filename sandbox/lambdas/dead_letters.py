"""A function's dead-letter queues (its on-failure destination, its rule targets' DLQs, its event
sources' redrive targets): read without taking, and redriven as `steward redrive` does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sandbox.template import FunctionSpec

if TYPE_CHECKING:
    from sandbox.facade import Sandbox


class DeadLetters:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    def messages(self, spec: FunctionSpec) -> list[dict[str, Any]]:
        """Messages waiting in the function's DLQs (peeked: they stay on the queue)."""
        sqs = self.sb.client("sqs")
        found = []
        for url in self.urls(spec):
            response = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
            )
            for message in response.get("Messages", []):
                found.append(
                    {
                        "queue": url,
                        "body": json.loads(message["Body"]),
                        "attributes": message.get("MessageAttributes", {}),
                    }
                )
        return found

    def redrive(self, spec: FunctionSpec) -> dict[str, Any]:
        """Send what sits in the function's DLQs back to the function that failed it (steward redrive)."""
        from steward_cli.queues import SqsDeadLetters
        from steward_cli.redrive import redrive

        sb = self.sb
        assert sb.inventory is not None
        by_arn = {f.arn: f for f in sb.inventory.functions.values()}

        def invoke(event: Any, function_arn: str | None) -> tuple[bool, str | None]:
            target = by_arn.get((function_arn or "").removesuffix(":$LATEST"), spec)
            outcome = sb._invoke(target, event)
            return bool(outcome["ok"]), outcome.get("error")

        sqs = sb.client("sqs")
        reports = []
        queue_dlqs = self.queue_dlqs(spec)
        for source, dlq in queue_dlqs:  # a queue's DLQ: move the messages back onto the queue

            def forward(body: Any, _arn: str | None, source: str = source) -> tuple[bool, str | None]:
                sqs.send_message(QueueUrl=source, MessageBody=json.dumps(body))
                return True, None

            reports.append(redrive(SqsDeadLetters(dlq, sb.region, visibility_timeout=0), forward).as_dict())
        skip = {dlq for _, dlq in queue_dlqs}
        for url in self.urls(spec):
            if url in skip:
                continue
            # Each message once per redrive, as with `steward redrive` (a message that fails again stays
            # hidden for the rest of the run); then what failed is visible again at once, for the next
            # redrive and dlq_messages (AWS would wait out the visibility timeout).
            try:
                reports.append(
                    redrive(SqsDeadLetters(url, sb.region, visibility_timeout=300), invoke).as_dict()
                )
            finally:
                self._make_visible(url)
        sb.drain()
        merged: dict[str, Any] = {"redriven": [], "failed": [], "unreadable": 0}
        for report in reports:
            merged["redriven"] += report["redriven"]
            merged["failed"] += report["failed"]
            merged["unreadable"] += report["unreadable"]
        return merged

    def _make_visible(self, queue_url: str) -> None:
        from moto.sqs.models import sqs_backends

        sb = self.sb
        queue = sqs_backends[sb.account][sb.region].get_queue(queue_url.rsplit("/", 1)[-1])
        with sb._delivery.backend_lock():
            for message in queue._messages:
                message.visible_at = 0.0

    def queue_dlqs(self, spec: FunctionSpec) -> list[tuple[str, str]]:
        """(source queue URL, its dead-letter queue URL) for each SQS event source of the function."""
        assert self.sb.inventory is not None
        sqs, pairs = self.sb.client("sqs"), []
        for mapping in self.sb.inventory.queue_mappings:
            if mapping.function != spec.logical_id:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=mapping.queue_url, AttributeNames=["RedrivePolicy"]
            )
            policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy") or "{}")
            target = str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
            if target:
                pairs.append((mapping.queue_url, sqs.get_queue_url(QueueName=target)["QueueUrl"]))
        return pairs

    def urls(self, spec: FunctionSpec) -> list[str]:
        assert self.sb.inventory is not None
        urls = [spec.on_failure] if spec.on_failure else []
        urls += [dlq for _, dlq in self.queue_dlqs(spec)]
        for rule in self.sb.inventory.rules:
            urls += [t["dlq"] for t in rule.targets if t["function"] == spec.logical_id and t["dlq"]]
        return list(dict.fromkeys(urls))
