"""Builds the approval use cases' dependencies from settings (shared by the functions that need them)."""

from __future__ import annotations

from steward.approvals.adapters.registry import ModelRegistry, signing_keys
from steward.approvals.adapters.store import ApprovalStore
from steward.approvals.service import Deps
from steward.kernel.aws.queue import JsonQueue
from steward.kernel.aws.reports import S3Reports
from steward.kernel.settings import ApprovalSettings, get_settings
from steward.lineage.adapters.store import LineageStore
from steward.notify.adapters.outbox import notification_queue


def approval_deps() -> Deps:
    s = get_settings(ApprovalSettings)
    keys, active = signing_keys(s.approval_secret_name)
    return Deps(
        store=ApprovalStore(s.lineage_table, s.idempotency_table),
        registry=ModelRegistry(),
        reports=S3Reports(),
        lineage=LineageStore(s.lineage_table, s.idempotency_table),
        outbox=notification_queue(s.notification_queue_url),
        keys=keys,
        active_key=active,
        api_base_url=s.api_base_url,
        promotions=JsonQueue(s.promotion_queue_url),
    )
