"""The notifier's port, as every other slice sends to it (notify.adapters.outbox is the adapter)."""

from __future__ import annotations

from typing import Protocol

from steward.notify.models import Notification


class Outbox(Protocol):
    def send(self, notification: Notification) -> str: ...
