"""Enqueue commands (pydantic models as JSON) for another function, e.g. promotion's queue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from steward.adapters.clients import client


class CommandQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, command: BaseModel) -> str:
        response: dict[str, Any] = client("sqs").send_message(
            QueueUrl=self.queue_url, MessageBody=command.model_dump_json()
        )
        return str(response["MessageId"])
