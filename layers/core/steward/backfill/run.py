"""A backfill run's state: what an invocation asks, the checkpoint saved between invocations (phase,
cursors, tallies) and the report it answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from steward.backfill.catalog import PHASES, TYPES
from steward.events.normalize import parse_timestamp
from steward.kernel.errors import RefusedError

MAX_BUDGET = 10_000


class CheckpointStore(Protocol):
    def load(self, run: str) -> dict[str, Any] | None: ...
    def save(self, state: dict[str, Any], version: int) -> None: ...


class Tally(BaseModel):
    model_config = ConfigDict(defer_build=True)

    recorded: int = 0
    known: int = 0
    skipped: int = 0
    errors: int = 0


class Cursor(BaseModel):
    model_config = ConfigDict(defer_build=True)

    token: str | None = None  # the NextToken that fetched the current page (None: the first page)
    done: int = 0  # items of that page already handled
    finished: bool = False


class Checkpoint(BaseModel):
    model_config = ConfigDict(defer_build=True)

    run: str
    since: datetime | None = None
    phase: int = 0
    cursors: dict[str, Cursor] = Field(default_factory=dict)
    tallies: dict[str, Tally] = Field(default_factory=dict)
    calls: int = 0
    invocations: int = 0
    done: bool = False
    errors: list[str] = Field(default_factory=list)
    started_at: str = ""
    version: int = 0


@dataclass
class BackfillReport:
    checkpoint: Checkpoint
    calls: int  # SageMaker calls of this invocation
    stopped: str | None  # budget | time | throttled | None (done)

    def as_dict(self) -> dict[str, Any]:
        cp = self.checkpoint
        total = Tally()
        for tally in cp.tallies.values():
            for field in ("recorded", "known", "skipped", "errors"):
                setattr(total, field, getattr(total, field) + getattr(tally, field))
        return {
            "run": cp.run,
            "done": cp.done,
            "since": cp.since.isoformat() if cp.since else None,
            "phase": None if cp.done else PHASES[cp.phase],
            "phasesDone": cp.phase,
            "phases": len(PHASES),
            "stoppedBecause": self.stopped,
            "calls": self.calls,
            "callsTotal": cp.calls,
            "invocations": cp.invocations,
            "summary": total.model_dump(),
            "byType": {t: cp.tallies[t].model_dump() for t in TYPES if t in cp.tallies},
            "errors": cp.errors,
        }


def new_run_id(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start_or_resume(checkpoints: CheckpointStore, run: str | None, since: datetime | None) -> Checkpoint:
    """A new run's checkpoint, or the saved one of `run` (RefusedError 404 when there is none)."""
    if run is None:
        now = datetime.now(UTC)
        return Checkpoint(run=new_run_id(now), since=since, started_at=now.isoformat())
    saved = checkpoints.load(run)
    if saved is None:
        raise RefusedError(f"no backfill run {run!r} to resume", status=404, error="NotFound", field="run")
    checkpoint = Checkpoint.model_validate(saved)
    if since is not None and since != checkpoint.since:
        raise RefusedError(
            f"run {run} backfills since {checkpoint.since}; a resumed run keeps its own --since",
            field="since",
        )
    return checkpoint


class BackfillRequest(BaseModel):
    """What an invocation asks: a new run (optionally `since` a time) or to resume `run`; `budget` calls."""

    model_config = ConfigDict(defer_build=True)

    run: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{1,64}$")
    since: datetime | None = None
    budget: int | None = Field(None, ge=1, le=MAX_BUDGET)

    @classmethod
    def parse(cls, event: Any) -> BackfillRequest:
        from pydantic import ValidationError

        if event is None:
            event = {}
        if not isinstance(event, dict):
            raise RefusedError("the event is a JSON object: {run?, since?, budget?}", field="body")
        try:
            since = parse_timestamp(event.get("since"))
        except ValueError as exc:
            raise RefusedError(f"since: {exc}", field="since") from None
        try:
            return cls.model_validate({**event, "since": since})
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in first["loc"]) or "body"
            raise RefusedError(f"{field}: {first['msg']}", field=field) from None
