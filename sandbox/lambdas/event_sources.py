"""SQS event sources as Lambda polls them: a batch to the function, what failed back to the queue (its
redrive policy moves a message to the DLQ), more pollers at once while a backlog waits."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from sandbox.template import QueueMappingSpec

if TYPE_CHECKING:
    from sandbox.facade import Sandbox


class QueuePoller:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    def poll(self, mapping: QueueMappingSpec, on_full: Any = None) -> bool:
        """One poll of an SQS event source: a batch to the function; failed items go back to the queue.
        `on_full()` is called when the batch is full (more may wait), before the function runs."""
        sb = self.sb
        if not sb.iam.poll(mapping.function, mapping.queue_url):
            return False  # the event source cannot read its queue: the messages stay there
        sqs = sb.client("sqs")
        response = sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(10, mapping.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            # One poller at a time sees every message again at once; pollers at the same moment must not
            # take the same messages (SQS hides a batch in flight for the visibility timeout).
            VisibilityTimeout=sb.PARALLEL_VISIBILITY if sb.parallel else 0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return False
        if on_full is not None and len(messages) >= min(10, mapping.batch_size):
            on_full()
        spec = sb.inventory.functions[mapping.function] if sb.inventory else None
        assert spec is not None
        arn = f"arn:aws:sqs:{sb.region}:{sb.account}:{mapping.queue_url.rsplit('/', 1)[-1]}"
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": sb.region,
            }
            for m in messages
        ]
        outcome = sb._invoke(spec, {"Records": records})
        failed: set[str] = set()
        if not outcome["ok"]:
            failed = {r["messageId"] for r in records}
        elif mapping.report_batch_item_failures and isinstance(outcome.get("result"), dict):
            failed = {f.get("itemIdentifier") for f in outcome["result"].get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif sb.parallel:  # visible again at once, as a failed message is without a timeout here
                sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        # moto re-delivers a failed message immediately; its queue's redrive policy moves it to the DLQ.
        return True

    def poll_scaling(self, mapping: QueueMappingSpec) -> int:
        """Batches delivered by one poller, and by more at once while its batch is full (a backlog): up to
        PARALLEL_POLLERS, as Lambda scales the pollers of an event source with what waits in the queue."""
        pool = self.sb._delivery.pool
        assert pool is not None
        more: list[Any] = []

        def backlog() -> None:
            more.extend(
                pool.submit(contextvars.Context().run, self.poll, mapping)
                for _ in range(self.sb.PARALLEL_POLLERS - 1)
            )

        delivered = int(self.poll(mapping, on_full=backlog))
        return delivered + sum(int(future.result()) for future in more)
