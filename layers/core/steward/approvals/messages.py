"""What approvals tell people and the lineage: approvers' links and messages, the audit record."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import Any

from steward.approvals import tokens
from steward.approvals.deps import Deps
from steward.approvals.models import ApprovalRequest
from steward.kernel.errors import DuplicateEventError
from steward.kernel.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation
from steward.lineage.ports import Lineage
from steward.notify.models import Action, Fact, Kind, Link, Notification
from steward.policy import Severity


def link_for(request: ApprovalRequest, approver: str, deps: Deps) -> str:
    token = tokens.issue_token(
        deps.keys, deps.active_key, request.id, approver, int(request.expires_at.timestamp())
    )
    # Relative where the function has no API_BASE_URL: the API itself, whose own URL cannot be in its
    # environment and which sends no links; the functions that send links require it at cold start
    # (kernel.settings.ApprovalLinks), so a link never leaves without its base.
    return f"{(deps.api_base_url or '').rstrip('/')}/approvals/{token}"


def facts_of(request: ApprovalRequest) -> list[Fact]:
    facts = [Fact(label="Version", value=f"{request.group} v{request.version}")]
    if request.gate:
        facts.append(Fact(label="Quality gate", value=request.gate.summary()[:1000]))
    if request.registered_by or request.registrant_identities:
        shown = ", ".join(request.registrant_identities) or str(request.registered_by)
        facts.append(Fact(label="Registered by", value=shown))
    facts.append(Fact(label="Decide before", value=request.expires_at.strftime("%Y-%m-%d %H:%M UTC")))
    return facts


def request_notification(
    request: ApprovalRequest, approver: str, deps: Deps, production: str | None
) -> Notification:
    return Notification(
        kind=Kind.APPROVAL_REQUESTED,
        severity=Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"Approval requested: {request.group} version {request.version}",
        summary=(request.description or "")[:1000]
        + (f"\nCompared with production {production.rsplit('/', 2)[-2:]}." if production else ""),
        facts=facts_of(request),
        links=[Link(text="Review and decide", url=link_for(request, approver, deps))],
        dedupe_key=f"approval-requested:{request.id}:{approver}",
        thread_key=request.package_arn.lower(),
        recipients=[approver],
    )


def outcome_notification(request: ApprovalRequest) -> Notification:
    approved = request.status == "approved"
    who = ", ".join(
        d.approver for d in request.decisions if d.decision == ("approve" if approved else "reject")
    )
    return Notification(
        kind=Kind.APPROVED if approved else Kind.REJECTED,
        severity=Severity.INFO if approved else Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"{request.group} v{request.version} {'approved' if approved else 'rejected'} by {who}"[:250],
        summary="; ".join(f"{d.approver}: {d.comment}" for d in request.decisions if d.comment)[:3000],
        facts=facts_of(request),
        dedupe_key=f"approval-{request.status}:{request.id}",
        thread_key=request.package_arn.lower(),
    )


def record_audit(
    lineage: Lineage, request: ApprovalRequest, now: datetime, facts: dict[str, Any], key: str | None = None
) -> None:
    """The request as an `approval` node of the version's lineage; each decision/refusal in its history.
    `key` identifies the change (a retry with the same key writes nothing twice)."""
    node_id = f"{request.package_arn.lower()}/approval" + (f"/{request.stage}" if request.stage else "")
    status = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected", "expired": "Expired"}[
        request.status
    ]
    change = LineageChange(
        event_id=key or f"approval:{request.id}:{request.revision}:{len(request.refusals)}:{now.isoformat()}",
        event_time=now,
        detail_type="Steward Approval",
        nodes=[
            NodeUpdate(
                id=node_id,
                kind=NodeKind.APPROVAL,
                name=f"approval of {request.group}/{request.version}"
                + (f" for {request.stage}" if request.stage else ""),
                status=status,
                status_time=now,
                active=request.status == "pending",  # the expiry sweep's worklist
                attributes={
                    "requestId": request.id,
                    "approvers": request.approvers,
                    "quorum": request.quorum,
                    "approvedBy": request.approvals(),
                    "expiresAt": request.expires_at.isoformat(),
                    "registeredBy": request.registered_by,
                    "artifact": request.artifact_uri,
                },
                history={k: v for k, v in facts.items() if v is not None},
            )
        ],
        edges=[EdgeUpdate(source=request.package_arn.lower(), target=node_id, relation=Relation.GATED_BY)],
    )
    with contextlib.suppress(DuplicateEventError):  # recorded by an earlier attempt of the same change
        lineage.apply(change)


def expiry_notification(request: ApprovalRequest) -> Notification:
    return Notification(
        kind=Kind.REJECTED if request.on_expiry == "reject" else Kind.APPROVAL_REMINDER,
        severity=Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"Approval of {request.group} version {request.version} expired"
        + (" (rejected)" if request.on_expiry == "reject" else " (left pending)"),
        summary=f"{len(request.approvals())} of {request.quorum} approvals by the deadline.",
        facts=facts_of(request),
        dedupe_key=f"approval-expired:{request.id}",
        thread_key=request.package_arn.lower(),
    )


def request_notifications(
    request: ApprovalRequest, deps: Deps, production: str | None, stage: str | None = None
) -> list[Notification]:
    """Each eligible approver's own link (email), and Slack buttons for those with a Slack user id."""
    notes = []
    for approver in request.approvers:
        note = request_notification(request, approver, deps, production)
        if stage:
            subject = f"Approval requested: {request.group} version {request.version} to {stage}"
            note = note.model_copy(update={"subject": subject[:250]})
        notes.append(note)
        slack_id = request.slack_ids.get(approver)
        if slack_id and not stage:  # a DM with buttons; the interactivity route checks Slack's signature
            note = request_notification(request, approver, deps, production)  # its own link
            buttons = [
                Action(action_id="steward_approve", text="Approve", value=request.id, style="primary"),
                Action(action_id="steward_reject", text="Reject", value=request.id, style="danger"),
            ]
            notes.append(
                note.model_copy(
                    update={
                        "recipients": [slack_id],
                        "dedupe_key": f"approval-requested:{request.id}:{slack_id}",
                        "actions": buttons,
                    }
                )
            )
    return notes


def reminder_notifications(
    request: ApprovalRequest, deps: Deps, marker: str, waiting: list[str]
) -> list[Notification]:
    notes = []
    for approver in waiting:
        reminder = request_notification(request, approver, deps, None)
        notes.append(
            reminder.model_copy(
                update={
                    "kind": Kind.APPROVAL_REMINDER,
                    "subject": f"Reminder: {reminder.subject}"[:250],
                    "dedupe_key": f"approval-reminder:{request.id}:{marker}:{approver}",
                }
            )
        )
    return notes


def finding_notifications(request: ApprovalRequest, deps: Deps, findings: list[str]) -> list[Notification]:
    """A training-rule finding that arrived after the approvers were asked: each of them hears of it
    (with their link while the request is still theirs to decide)."""
    digest = hashlib.sha256("\n".join(findings).encode()).hexdigest()[:16]
    rejected = request.status == "rejected"
    notes = []
    for approver in request.approvers:
        base = request_notification(request, approver, deps, None)
        verb = "rejected by the gate" if rejected else "has a new finding"
        notes.append(
            base.model_copy(
                update={
                    "kind": Kind.APPROVAL_REMINDER,
                    "subject": f"{request.group} version {request.version} {verb}: training rules"[:250],
                    "summary": (
                        "A SageMaker Debugger/Profiler rule of its training job ended after the request was "
                        + (
                            "sent; the policy rejects such versions: your link no longer decides anything: "
                            if rejected
                            else "sent; review it before deciding: "
                        )
                        + "; ".join(findings)
                    )[:3000],
                    "links": [] if rejected else base.links,
                    "dedupe_key": f"approval-finding:{request.id}:{digest}:{approver}",
                }
            )
        )
    return notes
