"""Builds the approval use cases' dependencies from settings (shared by the functions that need them)."""

from __future__ import annotations

from steward.adapters.approval_store import ApprovalStore
from steward.adapters.command_queue import CommandQueue
from steward.adapters.lineage_store import LineageStore
from steward.adapters.notification_queue import NotificationQueue
from steward.adapters.registry import ModelRegistry, S3Reports, signing_keys
from steward.approvals.service import Deps
from steward.settings import get_settings


def approval_deps() -> Deps:
    s = get_settings()
    keys, active = signing_keys(s.approval_secret_name)
    return Deps(
        store=ApprovalStore(s.lineage_table, s.idempotency_table),
        registry=ModelRegistry(),
        reports=S3Reports(),
        lineage=LineageStore(s.lineage_table, s.idempotency_table),
        outbox=NotificationQueue(s.notification_queue_url),
        keys=keys,
        active_key=active,
        api_base_url=s.api_base_url,
        promotions=CommandQueue(s.promotion_queue_url) if s.promotion_queue_url else None,
    )
