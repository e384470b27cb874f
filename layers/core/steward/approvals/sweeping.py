"""The approvals sweep (scheduled): finish changes whose effects were cut short, re-gate requests that
waited for their training rules (or tell their approvers of a late finding), remind approvers who have
not decided as the expiry nears, and expire what nobody decided in time."""

from __future__ import annotations

from datetime import datetime

from steward.approvals import machine
from steward.approvals.deps import Deps
from steward.approvals.effects import commit, settle
from steward.approvals.models import ApprovalRequest
from steward.approvals.rules_watch import rules_state
from steward.kernel.errors import StaleEventError
from steward.kernel.graph import NodeKind
from steward.lineage.ports import Worklist


def sweep(worklist: Worklist, deps: Deps, now: datetime, limit: int = 200) -> dict[str, list[str]]:
    """Remind approvers who have not decided as expiry nears; expire what nobody decided in time."""
    report: dict[str, list[str]] = {"reminded": [], "expired": [], "rules": []}
    for node in worklist.active_nodes(NodeKind.APPROVAL, limit=limit):
        request = deps.store.get(str(node.get("requestId", "")))
        if request is not None and request.unsettled:  # a change whose effects were cut short: finish it
            request = settle(request, deps, now)
        if request is None or request.status != "pending":
            continue
        if request.rules_watch is not None:
            request = _watch_rules(request, deps, now, report)
        while request.status == "pending":
            step = machine.transition(request, machine.Tick(now))
            if step.state is None:
                break
            try:
                request = commit(step.state, deps, now)
            except StaleEventError:  # decided meanwhile (an expiry is reported all the same, as ever)
                if step.outcome == "expired":
                    report["expired"].append(request.id)
                break
            report[step.outcome or "reminded"].append(request.id)
    return report


def _watch_rules(
    request: ApprovalRequest, deps: Deps, now: datetime, report: dict[str, list[str]]
) -> ApprovalRequest:
    """The training rules a request waits for (or its approvers should hear of), as the lineage now has
    them (the reconciler merges them from DescribeTrainingJob): approvals.machine's `RulesSeen`."""
    watch = request.rules_watch
    assert watch is not None
    nodes = deps.lineage.get_nodes(watch.jobs) if watch.jobs else {}
    findings, unfinished = rules_state(nodes.values())
    step = machine.transition(request, machine.RulesSeen(findings, unfinished, now))
    if step.state is None:
        return request
    try:
        saved = commit(step.state, deps, now)
    except StaleEventError:  # decided meanwhile: the next sweep looks again
        return deps.store.get(request.id) or request
    report["rules"].append(request.id)
    return saved
