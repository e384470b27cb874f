"""Use cases of the approval gate: open a request for a newly registered version, and decide by link.

A link is a capability bound to one request, one approver and an expiry (tokens.py); GET renders the
confirmation page and changes nothing; only the page's POST (with its anti-forgery value) decides,
once. The registrant and anyone the policy excludes cannot approve; N distinct approvals make the
quorum; one rejection rejects (configurable). Every decision and refusal is kept on the request and
in the version's lineage, and the outcome is written back to the model registry.

Module layout (README "Approvals"): machine.py is the state machine (pure transitions; the typed
effects are in models.py, saved with each change), effects.py applies them (the one place), opening.py
opens requests (the gate), deciding.py takes decisions (links, Slack, operators), sweeping.py is the
scheduled sweep, messages.py what people and the lineage are told, deps.py what the use cases are
given. This module is the use cases' one entry point, as the functions and the API import them.
"""

from __future__ import annotations

from steward.approvals import tokens
from steward.approvals.deciding import (
    LinkView,
    decide_as_operator,
    decide_by_link,
    decide_by_slack,
    pending_requests,
    record_decision,
    view_link,
)
from steward.approvals.deps import Commands, Deps, Registry, Reports, Store
from steward.approvals.effects import remind as _remind
from steward.approvals.machine import GATE_ACTOR
from steward.approvals.messages import expiry_notification as _expiry_notification
from steward.approvals.messages import link_for
from steward.approvals.messages import outcome_notification as _outcome_notification
from steward.approvals.messages import request_notification as _request_notification
from steward.approvals.opening import (
    eligible,
    lineage_summary,
    open_request,
    open_stage_request,
    production_metrics,
    read_evidence,
    read_metrics,
)
from steward.approvals.sweeping import sweep
from steward.lineage.ports import Lineage, Worklist
from steward.notify.ports import Outbox

__all__ = [
    "GATE_ACTOR",
    "Commands",
    "Deps",
    "Lineage",
    "LinkView",
    "Outbox",
    "Registry",
    "Reports",
    "Store",
    "Worklist",
    "_expiry_notification",
    "_outcome_notification",
    "_remind",
    "_request_notification",
    "decide_as_operator",
    "decide_by_link",
    "decide_by_slack",
    "eligible",
    "lineage_summary",
    "link_for",
    "open_request",
    "open_stage_request",
    "pending_requests",
    "production_metrics",
    "read_evidence",
    "read_metrics",
    "record_decision",
    "sweep",
    "tokens",
    "view_link",
]
