"""SQS and Lambda access for operator actions (redrive)."""

from __future__ import annotations

import json
from typing import Any

from steward.kernel.aws.clients import client


class SqsDeadLetters:
    """A dead-letter queue: messages received stay hidden while redriven, deleted only on success."""

    def __init__(self, queue_url: str, region: str | None = None, visibility_timeout: int = 300) -> None:
        self.queue_url = queue_url
        self.region = region
        self.visibility_timeout = visibility_timeout

    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        response = client("sqs", self.region).receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            VisibilityTimeout=self.visibility_timeout,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return list(response.get("Messages", []))

    def delete(self, receipt: str) -> None:
        client("sqs", self.region).delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)


class LambdaInvoker:
    """Invoke a function synchronously with an event; (ok, error) from its FunctionError."""

    def __init__(self, default_function: str, region: str | None = None) -> None:
        self.default_function = default_function
        self.region = region

    def __call__(self, event: Any, function_arn: str | None) -> tuple[bool, str | None]:
        name = (function_arn or self.default_function).removesuffix(":$LATEST")
        response = client("lambda", self.region).invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        if response.get("FunctionError"):
            payload = json.loads(response["Payload"].read() or b"{}")
            return False, f"{payload.get('errorType')}: {payload.get('errorMessage')}"
        return True, None
