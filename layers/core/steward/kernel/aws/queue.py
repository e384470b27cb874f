"""One SQS queue of JSON messages: commands for another function (promotion's queue) and notifications
for the notifier (functions never call Slack or SES inline). A message is a pydantic model; its message
attributes, if any, come from the queue's `attributes` function (e.g. the notification's kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from steward.kernel.aws.clients import client


class JsonQueue:
    def __init__(self, queue_url: str, attributes: Callable[[Any], dict[str, str]] | None = None) -> None:
        self.queue_url = queue_url
        self.attributes = attributes

    def send(self, message: BaseModel) -> str:
        request: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": message.model_dump_json()}
        if self.attributes is not None:
            request["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in self.attributes(message).items()
            }
        response: dict[str, Any] = client("sqs").send_message(**request)
        return str(response["MessageId"])
