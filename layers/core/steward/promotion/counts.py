"""What a promotion invocation did, as metrics (the promote_model handler's; names on the dashboard).

Promotion<Outcome> once per deployment moved: Started, Succeeded, Failed, RolledBack (SageMaker's or a
silent return to the old config), Queued, Refused. The service nests what an outcome set off (the next
stage, or that stage's own approval request, counted as ApprovalRequested; the deployment queued behind
it), so those count too. The reconciler reports ids, not outcomes: PromotionReconciled is how many
deployments it ended because their last event was lost, and the queued ones it started count as started.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from steward.kernel.observability import metrics

_NAMES = {
    "started": "PromotionStarted",
    "succeeded": "PromotionSucceeded",
    "failed": "PromotionFailed",
    "rolled-back": "PromotionRolledBack",
    "queued": "PromotionQueued",
    "refused": "PromotionRefused",
    "requested": "ApprovalRequested",  # only ever nested: a next stage that asks its approvers first
}


def count_outcomes(outcome: dict[str, Any]) -> dict[str, Any]:
    """Add the metrics of one service outcome (and of the outcomes nested in it); returns it unchanged."""
    if outcome.get("outcome") == "reconciled":
        metrics.add_metric(name="PromotionReconciled", unit=MetricUnit.Count, value=len(outcome["ended"]))
        metrics.add_metric(name="PromotionStarted", unit=MetricUnit.Count, value=len(outcome["started"]))
        return outcome
    name = _NAMES.get(str(outcome.get("outcome")))
    if name is not None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    for follow_up in (outcome.get("next"), outcome.get("queued")):
        if isinstance(follow_up, dict):
            count_outcomes(follow_up)
    return outcome
