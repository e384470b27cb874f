"""Forward-only status: each resource kind's lifecycle, and whether a new state may replace the old.

Jobs and pipelines move InProgress → (Stopping) → a terminal state and never back; within one rank a
newer event time wins (a training job's secondary status moves on while it stays InProgress). Endpoints
and model packages cycle (InService → Updating → InService; Approved → Rejected), so for them the
event's own time decides.
"""

from __future__ import annotations

from steward.kernel.graph import NodeKind

TERMINAL_RANK = 3

_JOB_RANKS = {
    "Starting": 0,
    "Pending": 0,
    "InProgress": 1,
    "Executing": 1,
    "Stopping": 2,
    "Completed": 3,
    "Succeeded": 3,
    "Failed": 3,
    "Stopped": 3,
}

# Same-time tie-break for kinds ordered by time: a decision beats the registration it follows.
_PACKAGE_RANKS = {"PendingManualApproval": 0, "Approved": 1, "Rejected": 1}

# SageMaker's RetryPipelineExecution resumes a Failed/Stopped execution under the same ARN.
RETRYABLE_KINDS = frozenset({NodeKind.PIPELINE_EXECUTION})

RANKED_KINDS = frozenset(
    {
        NodeKind.PROCESSING_JOB,
        NodeKind.TRAINING_JOB,
        NodeKind.TRANSFORM_JOB,
        NodeKind.TUNING_JOB,
        NodeKind.PIPELINE_EXECUTION,
        NodeKind.PIPELINE_STEP,
        NodeKind.MONITORING_EXECUTION,
    }
)


def status_rank(kind: NodeKind, status: str) -> int:
    """Position of `status` in the kind's lifecycle; time-ordered kinds are all rank 0."""
    if kind in RANKED_KINDS:
        return _JOB_RANKS.get(status, 1)
    if kind is NodeKind.MODEL_PACKAGE:
        return _PACKAGE_RANKS.get(status, 0)
    return 0


def is_terminal_rank(rank: int) -> bool:
    return rank >= TERMINAL_RANK


def is_active(kind: NodeKind, rank: int) -> bool:
    """Whether a node of a kind the lineage owns stays on the worklist (the store's index of active
    records) in this state: endpoints always (promotion and monitoring follow them), jobs and pipelines
    until terminal. Other slices' kinds say it on the node (NodeUpdate.active)."""
    return kind is NodeKind.ENDPOINT or (kind in RANKED_KINDS and not is_terminal_rank(rank))


def supersedes(kind: NodeKind, new: tuple[str, str], old: tuple[str, str] | None) -> bool:
    """Whether (status, iso time) `new` replaces `old` — the same rule the store enforces in its condition."""
    if old is None:
        return True
    new_rank, old_rank = status_rank(kind, new[0]), status_rank(kind, old[0])
    if kind not in RANKED_KINDS:
        return new[1] > old[1] or (new[1] == old[1] and new_rank > old_rank)
    if kind in RETRYABLE_KINDS and old[0] in ("Failed", "Stopped") and new[1] > old[1]:
        return True
    if new_rank != old_rank:
        return new_rank > old_rank
    return not is_terminal_rank(new_rank) and new[1] > old[1]
