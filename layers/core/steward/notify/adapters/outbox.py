"""The notifier's queue, as every other function sends to it: one JSON message per notification, its kind
as a message attribute (so a queue subscription or an operator can tell kinds apart without parsing)."""

from __future__ import annotations

from steward.kernel.aws.queue import JsonQueue
from steward.notify.models import Notification


def _kind(notification: Notification) -> dict[str, str]:
    return {"kind": notification.kind.value}


def notification_queue(queue_url: str) -> JsonQueue:
    return JsonQueue(queue_url, attributes=_kind)
