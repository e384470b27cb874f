"""The one place approvals' effects are applied (approvals.machine puts them on the state it returns).

A change is saved with its effects (ApprovalRequest.unsettled, models.Pending), then they are applied and
cleared. Each is idempotent: the registry is set to the same status, notifications carry dedupe keys,
promotion commands derive their deployment ids, and the audit's lineage change is keyed by the change's
revision. So a delivery that fails anywhere in here is completed by its retry (or by the next call on
the request, or by the sweep) instead of being taken for a duplicate and dropped.
"""

from __future__ import annotations

from datetime import datetime

from steward.approvals import messages
from steward.approvals.deps import Deps
from steward.approvals.models import (
    ApprovalRequest,
    AskApprovers,
    Audit,
    PromoteStage,
    Remind,
    TellExpiry,
    TellFindings,
    TellOutcome,
    WriteRegistry,
)
from steward.kernel.errors import ConfigurationError, StaleEventError


def commit(
    updated: ApprovalRequest, deps: Deps, now: datetime, spend_link: tuple[str, int] | None = None
) -> ApprovalRequest:
    """Save a change (optimistically: StaleEventError if the request moved) with its effects, then apply
    them. Callers start from a settled request (`settle` first), so no pending effect is overwritten.
    `spend_link` is spent in the same write (LinkUsedError if it was spent already)."""
    saved = deps.store.save(updated, spend_link) if spend_link else deps.store.save(updated)
    return settle(saved, deps, now)


def settle(request: ApprovalRequest, deps: Deps, now: datetime) -> ApprovalRequest:
    """Apply the effects of the request's last change, in their order (models.Pending), then clear them."""
    pending = request.unsettled
    if pending is None:
        return request
    at = pending.at or now
    for effect in pending.effects:
        if isinstance(effect, WriteRegistry):
            if not request.stage:  # a stage's request decides a deployment, not the version
                deps.registry.set_approval(request.package_arn, effect.status, effect.description)
        elif isinstance(effect, PromoteStage):
            promote_stage(request, effect.approver, deps, at)
        elif isinstance(effect, AskApprovers):
            for note in messages.request_notifications(request, deps, effect.production, effect.stage):
                deps.outbox.send(note)
        elif isinstance(effect, Remind):
            remind(request, deps, effect.marker, effect.waiting)
        elif isinstance(effect, TellFindings):
            for note in messages.finding_notifications(request, deps, effect.findings):
                deps.outbox.send(note)
        elif isinstance(effect, TellOutcome):
            deps.outbox.send(messages.outcome_notification(request))
        elif isinstance(effect, TellExpiry):
            deps.outbox.send(messages.expiry_notification(request))
        elif isinstance(effect, Audit):  # last: until it lands, a pending node keeps it on the sweep's list
            key = f"approval:{request.id}:{request.revision}"
            messages.record_audit(deps.lineage, request, at, effect.facts, key=key)
    try:
        return deps.store.save(request.model_copy(update={"unsettled": None}))
    except StaleEventError:  # someone settled it (or moved on from it) meanwhile
        return deps.store.get(request.id) or request


def remind(request: ApprovalRequest, deps: Deps, marker: str, waiting: list[str]) -> None:
    for note in messages.reminder_notifications(request, deps, marker, waiting):
        deps.outbox.send(note)


def promote_stage(request: ApprovalRequest, approver: str, deps: Deps, now: datetime) -> None:
    from steward.promotion.models import PromoteCommand

    if deps.promotions is None:
        raise ConfigurationError("PROMOTION_QUEUE_URL is empty: an approved stage cannot be promoted")
    deps.promotions.send(
        PromoteCommand(
            package_arn=request.package_arn,
            stage=request.stage or "",
            approval_request=request.id,
            requested_by=f"approval of stage {request.stage} by {', '.join(request.approvals()) or approver}",
            at=now,
        )
    )
