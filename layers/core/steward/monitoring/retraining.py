"""Use case: start the policy's retraining pipeline, at most once per cooldown and `daily_limit` times in
any 24 hours, and never twice for one trigger.

The guard is one ledger item per pipeline, written with optimistic concurrency (a conditional write on
its revision): of two concurrent deliveries only one claims the start; the other re-reads and sees the
cooldown (or its own trigger, already started). The StartPipelineExecution token is derived from the
trigger, so a retry after a crash between the claim and the start cannot start a second run either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from steward.kernel.errors import DependencyError, StewardError
from steward.kernel.times import iso_z
from steward.policy import Retraining

_ATTEMPTS = 5


class PipelineStartError(StewardError):
    """SageMaker refused to start the pipeline (unknown pipeline or parameter, no access, limits): not
    worth retrying; the alert says why."""


@dataclass(frozen=True)
class Ledger:
    """Recent starts of one pipeline (ISO times, last 24 hours) and the last trigger's outcome."""

    starts: tuple[str, ...] = ()
    last_trigger: str | None = None
    last_execution: str | None = None
    revision: int = 0


@dataclass(frozen=True)
class RetrainingOutcome:
    status: str  # started | already-started | skipped | failed
    reason: str
    pipeline: str | None = None
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "pipeline": self.pipeline,
            "pipelineExecutionArn": self.execution_arn,
        }


@dataclass(frozen=True)
class RetrainingRequest:
    trigger: str  # the monitoring execution ARN, or "<alarm ARN>@<state time>"
    reason: str  # one line, for the execution's description and the alert
    endpoint: str
    model_package_arn: str | None
    now: datetime
    extra: dict[str, str] = field(default_factory=dict)


class LedgerStore(Protocol):
    def read_ledger(self, pipeline: str) -> Ledger | None: ...
    def write_ledger(self, pipeline: str, ledger: Ledger, expected_revision: int) -> bool: ...


class PipelineStarter(Protocol):
    def start_pipeline(
        self, pipeline: str, parameters: dict[str, str], token: str, display_name: str, description: str
    ) -> str: ...


def decide(ledger: Ledger | None, trigger: str, now: datetime, policy: Retraining) -> tuple[bool, str]:
    """(may start?, why) — the cooldown since the last start and the starts of the last 24 hours."""
    ledger = ledger or Ledger()
    recent = [s for s in ledger.starts if s > iso_z(now - timedelta(days=1))]
    if ledger.starts:
        ready = _parse(max(ledger.starts)) + timedelta(minutes=policy.cooldown_minutes)
        if now < ready:
            return False, f"cooldown until {iso_z(ready)} (last start {max(ledger.starts)})"
    if len(recent) >= policy.daily_limit:
        return False, f"daily limit reached ({len(recent)} of {policy.daily_limit} in the last 24 hours)"
    return True, "allowed"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def client_token(pipeline: str, trigger: str) -> str:
    """StartPipelineExecution's idempotency token: one trigger, one run (32..128 characters)."""
    return hashlib.sha256(f"steward|{pipeline}|{trigger}".encode()).hexdigest()[:64]


def _parameters(policy: Retraining, request: RetrainingRequest) -> dict[str, str]:
    values = {
        "endpoint": request.endpoint,
        "model_package_arn": request.model_package_arn or "",
        "trigger": request.trigger,
        "reason": request.reason,
        **request.extra,
    }

    class _Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:  # an unknown {name} stays as written
            return "{" + key + "}"

    return {name: text.format_map(_Keep(values))[:1024] for name, text in policy.parameters.items()}


def request_retraining(
    policy: Retraining, request: RetrainingRequest, ledger: LedgerStore, starter: PipelineStarter
) -> RetrainingOutcome:
    """Start the pipeline if the ledger allows it; the outcome says what happened and why."""
    pipeline = policy.pipeline
    if not policy.enabled or not pipeline:
        return RetrainingOutcome("skipped", "retraining is not enabled in the policy")
    for _ in range(_ATTEMPTS):
        current = ledger.read_ledger(pipeline)
        if current is not None and current.last_trigger == request.trigger:
            if current.last_execution:  # a duplicate delivery: this trigger already started its run
                return RetrainingOutcome(
                    "already-started", "this trigger already started a run", pipeline, current.last_execution
                )
            claimed = current  # claimed by an attempt that did not finish: start again, same token
        else:
            allowed, why = decide(current, request.trigger, request.now, policy)
            if not allowed:
                return RetrainingOutcome("skipped", why, pipeline)
            base = current or Ledger()
            floor = iso_z(request.now - timedelta(days=1))
            claimed = Ledger(
                starts=(*[s for s in base.starts if s > floor], iso_z(request.now)),
                last_trigger=request.trigger,
                last_execution=None,
                revision=base.revision + 1,
            )
            if not ledger.write_ledger(pipeline, claimed, base.revision):
                continue  # someone else claimed first: decide again on what they wrote
        return _start(policy, pipeline, request, ledger, starter, claimed)
    raise DependencyError(f"retraining ledger of {pipeline}: too much contention")


def _start(
    policy: Retraining,
    pipeline: str,
    request: RetrainingRequest,
    ledger: LedgerStore,
    starter: PipelineStarter,
    claimed: Ledger,
) -> RetrainingOutcome:
    display = f"steward-retrain-{request.now:%Y%m%d%H%M%S}"
    description = f"Started by Steward: {request.reason} (trigger {request.trigger})"[:3072]
    try:
        execution = starter.start_pipeline(
            pipeline,
            _parameters(policy, request),
            client_token(pipeline, request.trigger),
            display,
            description,
        )
    except (PipelineStartError, DependencyError) as exc:
        # Give the slot back (the claim is the last start): a run that never started holds no cooldown.
        ledger.write_ledger(
            pipeline, Ledger(claimed.starts[:-1], revision=claimed.revision + 1), claimed.revision
        )
        if isinstance(exc, DependencyError):
            raise  # worth retrying: the invocation fails and Lambda tries again
        return RetrainingOutcome("failed", f"StartPipelineExecution: {str(exc)[:300]}", pipeline)
    done = replace(claimed, last_execution=execution, revision=claimed.revision + 1)
    ledger.write_ledger(pipeline, done, claimed.revision)
    return RetrainingOutcome("started", request.reason, pipeline, execution)
