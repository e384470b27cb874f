"""AWS calls per event, per event type and per duplicate, counted around the handlers only.

`Sandbox.aws_calls` counts every botocore call in the process (a `before-call` hook), including the
sandbox's own bookkeeping: provisioning, SQS polls of event sources, DLQ sends. Here each handler
invocation is wrapped, and only the calls made while a handler runs are attributed to it. Each
fixture under events/ and each event of the story is put once, then once more with the same id (a
duplicate delivery); the calls of the functions its rules target are recorded for both deliveries.
Follow-up work (events SageMaker emits, queue messages) is delivered but counted under its own event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.bench.report import Row

SECTION = "AWS calls"
LINEAGE = "record_lineage"
STATE_CHANGE_TARGET = 2
DUPLICATE_TARGET = 1


@dataclass
class Invocation:
    function: str
    event_id: str | None
    calls: Counter[str]
    ok: bool
    outcome: str | None  # the handler's own "outcome" (recorded, stale, duplicate, ...) when it says

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def describes(self) -> int:
        return sum(n for op, n in self.calls.items() if op.startswith("sagemaker.Describe"))


@dataclass
class Tally:
    first: list[Invocation] = field(default_factory=list)
    duplicate: list[Invocation] = field(default_factory=list)


class HandlerCalls:
    """Attributes sb.aws_calls to handler invocations (sandbox bookkeeping is left out)."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.log: list[Invocation] = []
        self._original = sb._invoke
        sb._invoke = self._invoke

    def _invoke(self, spec: Any, event: Any) -> dict[str, Any]:
        before = Counter(self.sb.aws_calls)
        outcome: dict[str, Any] = self._original(spec, event)
        calls = self.sb.aws_calls - before
        event_id = event.get("id") if isinstance(event, dict) else None
        result = outcome.get("result")
        said = result.get("outcome") if isinstance(result, dict) else None
        self.log.append(Invocation(spec.name, event_id, calls, bool(outcome.get("ok")), said))
        return outcome

    def close(self) -> None:
        self.sb._invoke = self._original


def short_type(detail_type: str) -> str:
    return detail_type.removeprefix("SageMaker ").removeprefix("Model Building ")


def replay(sb: Any, events: list[tuple[str, dict[str, Any]]]) -> tuple[dict[tuple[str, str], Tally], int]:
    """Put each event twice; returns the tallies by (detail-type, function) and failed targets."""
    counter = HandlerCalls(sb)
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    failed = 0
    try:
        for _, event in events:
            for delivery in ("first", "duplicate"):
                start = len(counter.log)
                results = sb.put_events([event])
                failed += sum(1 for r in results for t in r["targets"] if not t["ok"])
                for invocation in counter.log[start:]:
                    if invocation.event_id == event["id"]:  # the event's own targets, not follow-ups
                        tally = tallies[(event["detail-type"], invocation.function)]
                        getattr(tally, delivery).append(invocation)
    finally:
        counter.close()
    return tallies, failed


def _n(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"


def _worst(invocations: list[Invocation]) -> int:
    return max((i.total for i in invocations), default=0)


def _lineage_kinds(tally: Tally) -> dict[str, list[Invocation]]:
    """record_lineage's first deliveries by what they were: a state change, the first sight of an
    endpoint config or model (described once: immutable), or a late event (stale: status kept)."""
    first = tally.first
    return {
        "change": [i for i in first if i.outcome != "stale" and not i.describes],
        "first sight": [i for i in first if i.describes],
        "stale": [i for i in first if i.outcome == "stale" and not i.describes],
    }


def rows(tallies: dict[tuple[str, str], Tally]) -> list[Row]:
    out: list[Row] = []
    everything: dict[str, list[Invocation]] = defaultdict(list)
    for (detail_type, function), tally in sorted(tallies.items()):
        label = f"{short_type(detail_type)} → {function} (n={len(tally.first)})"
        dup = _worst(tally.duplicate)
        if function != LINEAGE:
            mean = sum(i.total for i in tally.first) / max(1, len(tally.first))
            value = f"{_worst(tally.first)} (mean {mean:.1f}) · dup {dup}"
            out.append(Row(SECTION, label, value))
            continue
        kinds = _lineage_kinds(tally)
        for kind, invocations in kinds.items():
            everything[kind] += invocations
        everything["duplicate"] += tally.duplicate
        change = _worst(kinds["change"])
        value = f"{change} · dup {dup}"
        value += "".join(
            f" · {kind} {_worst(kinds[kind])}" for kind in ("stale", "first sight") if kinds[kind]
        )
        out.append(
            Row(
                SECTION,
                label,
                value,
                target=f"≤ {STATE_CHANGE_TARGET} · dup ≤ {DUPLICATE_TARGET}",
                met=change <= STATE_CHANGE_TARGET and dup <= DUPLICATE_TARGET,
            )
        )
    change, dup = _worst(everything["change"]), _worst(everything["duplicate"])
    summary = [
        Row(
            SECTION,
            f"lineage state change, worst of {len(everything['change'])} events",
            _n(change),
            target=f"≤ {STATE_CHANGE_TARGET}",
            met=change <= STATE_CHANGE_TARGET,
        ),
        Row(
            SECTION,
            f"lineage duplicate delivery, worst of {len(everything['duplicate'])} events",
            _n(dup),
            target=f"≤ {DUPLICATE_TARGET}",
            met=dup <= DUPLICATE_TARGET,
        ),
    ]
    if everything["stale"]:
        summary.append(
            Row(
                SECTION,
                f"lineage late event (stale: history kept, status not), worst of {len(everything['stale'])}",
                _n(_worst(everything["stale"])),
            )
        )
    if everything["first sight"]:
        worst = max(everything["first sight"], key=lambda i: i.total)
        summary.append(
            Row(
                SECTION,
                "lineage first sight of an endpoint config/model (described once: immutable)",
                f"{_n(worst.total)}, {worst.describes} of them describes",
            )
        )
    return summary + out
