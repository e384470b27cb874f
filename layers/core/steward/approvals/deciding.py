"""Deciding: by link (GET shows, only the page's POST decides), by Slack button, by an operator; every
refused attempt audited. The decision itself is approvals.machine's `Decide` transition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from steward.approvals import machine, tokens
from steward.approvals.deps import Deps
from steward.approvals.effects import commit, settle
from steward.approvals.models import ApprovalRequest
from steward.kernel.errors import LinkUsedError, NotFoundError, StaleEventError
from steward.kernel.graph import NodeKind
from steward.lineage.ports import Worklist


@dataclass
class LinkView:
    """What a link shows: a confirmation page (with its anti-forgery value) or why it cannot."""

    request: ApprovalRequest | None
    claims: tokens.LinkClaims | None
    problem: str | None = None  # forged | expired | used | decided | not-allowed
    csrf: str | None = None


def view_link(token: str, deps: Deps, now: datetime) -> LinkView:
    """GET: check the link and show the page. Changes nothing (mail scanners may fetch it)."""
    try:
        claims = tokens.verify_token(deps.keys, token, int(now.timestamp()))
    except tokens.TokenError as exc:
        if exc.reason == "expired" and exc.claims is not None:  # genuine, too late: a POST is audited
            return LinkView(deps.store.get(exc.claims.request_id), exc.claims, "expired")
        return LinkView(None, None, "forged")
    request = deps.store.get(claims.request_id)
    if request is None:
        return LinkView(None, claims, "forged")
    if request.status != "pending":
        return LinkView(request, claims, "decided")
    if deps.store.link_used(claims.nonce):
        return LinkView(request, claims, "used")
    if claims.approver not in request.approvers:
        return LinkView(request, claims, "not-allowed")
    csrf = tokens.csrf_token(deps.keys[claims.key_id], claims.nonce, tokens.csrf_bucket(int(now.timestamp())))
    return LinkView(request, claims, None, csrf)


def decide_by_link(
    token: str, decision: str, comment: str, csrf: str, source: str | None, deps: Deps, now: datetime
) -> LinkView:
    """POST from the confirmation page: one decision, once, by the link's approver."""
    view = view_link(token, deps, now)
    claims, request = view.claims, view.request
    if request is not None and request.unsettled:  # finish what an earlier call left half done
        request = view.request = settle(request, deps, now)
    if view.problem or claims is None or request is None:
        if request is not None and claims is not None:
            refuse(request, claims.approver, view.problem or "refused", "link", source, deps, now)
        return view
    if decision not in ("approve", "reject") or not tokens.verify_csrf(
        deps.keys[claims.key_id], claims.nonce, csrf, tokens.csrf_bucket(int(now.timestamp()))
    ):
        refuse(request, claims.approver, "forged form (anti-forgery value)", "link", source, deps, now)
        return LinkView(request, claims, "forged")
    # The link is spent in the same write that records its decision: both or neither, so a decision
    # that loses a race with another approver's is retried on the fresh request, and never burns the link.
    spend = (claims.nonce, int(request.expires_at.timestamp()))
    view = record_decision(request, claims.approver, decision, comment, "link", source, deps, now, spend)
    return LinkView(view.request, claims, view.problem, view.csrf) if view.problem == "used" else view


def record_decision(
    request: ApprovalRequest,
    approver: str,
    decision: str,
    comment: str,
    channel: str,
    source: str | None,
    deps: Deps,
    now: datetime,
    spend_link: tuple[str, int] | None = None,
) -> LinkView:
    """Apply one decision: quorum, first rejection, write-back to the registry, audit, notify.

    Optimistic: when another decision was saved meanwhile (two approvers at once on a quorum of 2), the
    request is read again and the decision applied to it, so both count; `spend_link` is spent only by
    the write that records the decision."""
    observed = machine.Decide(approver, decision, comment, channel, source, now)  # type: ignore[arg-type]
    for _ in range(_DECISION_ATTEMPTS):
        step = machine.transition(request, observed)
        if step.state is None:
            return LinkView(request, None, step.problem)
        try:
            if step.problem is not None:  # refused (expired, not eligible): the attempt is audited
                _commit_refusal(step.state, deps, now)
                return LinkView(request, None, step.problem)
            return LinkView(commit(step.state, deps, now, spend_link), None, None)
        except LinkUsedError:
            return LinkView(deps.store.get(request.id), None, "used")
        except StaleEventError:
            fresh = deps.store.get(request.id)
            if fresh is None or fresh.status != "pending":
                return LinkView(fresh, None, "decided")
            request = settle(fresh, deps, now) if fresh.unsettled else fresh
    return LinkView(deps.store.get(request.id), None, "retry")


_DECISION_ATTEMPTS = 5


def refuse(
    request: ApprovalRequest,
    who: str,
    reason: str,
    channel: str,
    source: str | None,
    deps: Deps,
    now: datetime,
) -> None:
    """A refused attempt is audited too (who, when, channel, reason, source address)."""
    step = machine.transition(request, machine.Refuse(who, reason, channel, source, now))
    assert step.state is not None
    _commit_refusal(step.state, deps, now)


def _commit_refusal(state: ApprovalRequest, deps: Deps, now: datetime) -> None:
    try:
        commit(state, deps, now)
    except StaleEventError:  # the request moved meanwhile: the refusal is not worth a retry
        return


# --- operators (IAM-authenticated, through the API) -----------------------------------------------


def pending_requests(worklist: Worklist, deps: Deps, limit: int = 200) -> list[ApprovalRequest]:
    requests = [
        deps.store.get(str(n.get("requestId", ""))) for n in worklist.active_nodes(NodeKind.APPROVAL, limit)
    ]
    return [r for r in requests if r is not None and r.status == "pending"]


def decide_as_operator(
    request_id: str, approver: str, decision: str, comment: str, caller: str | None, deps: Deps, now: datetime
) -> LinkView:
    """An operator records `approver`'s decision (their IAM identity is kept as the source)."""
    request = deps.store.get(request_id)
    if request is None:
        raise NotFoundError(f"no approval request {request_id!r}")
    request = settle(request, deps, now)  # a retry after a failure finishes the first call's work
    if request.status != "pending":
        return LinkView(request, None, "decided")
    if decision not in ("approve", "reject"):
        raise ValueError("decision is approve or reject")
    return record_decision(
        request, approver.strip().lower(), decision, comment, "operator", caller, deps, now
    )


# --- Slack buttons --------------------------------------------------------------------------------


def decide_by_slack(
    request_id: str, slack_user: str, action_id: str, deps: Deps, now: datetime
) -> tuple[str, str]:
    """A button press, its signature already verified: (outcome, text for the original message)."""
    request = deps.store.get(request_id)
    if request is None:
        return "forged", "This approval request does not exist."
    request = settle(request, deps, now)
    approver = next((email for email, uid in request.slack_ids.items() if uid == slack_user), None)
    if approver is None:
        refuse(request, f"slack:{slack_user}", "not an approver of this request", "slack", None, deps, now)
        return "not-allowed", "You are not an approver of this version. Nothing was changed."
    if request.status != "pending":
        return "decided", f"Version {request.version} of {request.group} is already {request.status}."
    decision = "approve" if action_id == "steward_approve" else "reject"
    view = record_decision(request, approver, decision, "", "slack", f"slack:{slack_user}", deps, now)
    if view.problem or view.request is None:
        return view.problem or "refused", f"Refused: {view.problem}. Nothing was changed."
    done = view.request
    return "recorded", (
        f"{approver} chose {decision}: version {done.version} of {done.group} is now {done.status} "
        f"({len(done.approvals())}/{done.quorum} approvals)."
    )
