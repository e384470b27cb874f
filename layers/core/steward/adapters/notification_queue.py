"""Enqueue notifications for the notifier (functions never call Slack or SES inline)."""

from __future__ import annotations

from typing import Any

from steward.adapters.clients import client
from steward.notify.models import Notification


class NotificationQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, notification: Notification) -> str:
        response: dict[str, Any] = client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=notification.model_dump_json(),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": notification.kind.value}},
        )
        return str(response["MessageId"])
