"""Sandbox throughput for a burst of 10,000 job state-change events, router overhead against handler time.

The burst is put in one `put_events` call. Handler time is the sum of the invocations' own durations
(the handler with the sandbox's per-invocation Lambda emulation: environment, context, JSON round
trip); everything else is routing and the sandbox's delivery (envelopes, rule matching, retries
bookkeeping, draining). Rule matching alone is also timed on its own: every event against every rule
of the template, as `put_events` does, with no target invoked (the no-op baseline).
"""

from __future__ import annotations

import time
from typing import Any

from tests.bench.report import Row, ms

SECTION = "sandbox throughput"


def match_only(sb: Any, events: list[dict[str, Any]]) -> tuple[float, int]:
    """Seconds to match every event against every enabled rule, and how many rule matches there were."""
    from sandbox.patterns import matches

    rules = [r for r in sb.inventory.rules if r.enabled and r.pattern is not None]
    started = time.perf_counter()
    matched = sum(1 for event in events for rule in rules if matches(rule.pattern, event))
    return time.perf_counter() - started, matched


def run(sb: Any, events: list[dict[str, Any]]) -> tuple[list[Row], int]:
    """Rows, and failed targets (for the events-lost check)."""
    count = len(events)
    matching, matched = match_only(sb, events)
    rules = sum(1 for r in sb.inventory.rules if r.enabled and r.pattern is not None)
    first = len(sb.invocations)
    started = time.perf_counter()
    results = sb.put_events(events)
    total = time.perf_counter() - started
    invocations = sb.invocations[first:]
    handler = sum(i["duration_ms"] for i in invocations) / 1000
    router = total - handler
    failed = sum(1 for r in results for t in r["targets"] if not t["ok"])
    rows = [
        Row(
            SECTION,
            f"{count:,}-event burst ({len(invocations):,} invocations)",
            f"{count / total:,.0f} events/s ({total:.1f} s)",
            baseline=f"{count / matching:,.0f} events/s match only",
        ),
        Row(
            SECTION,
            "handler time per event",
            ms(handler / count),
            baseline=f"{ms(total / count)} per event in all",
            ratio=f"{handler / total:.0%}",
        ),
        Row(
            SECTION,
            "router + sandbox delivery per event (all - handlers)",
            ms(router / count),
            baseline=f"{ms(handler / count)} handler",
            ratio=f"{router / handler:.1%}",
        ),
        Row(
            SECTION,
            f"rule matching per event ({rules} rules, {matched:,} matches)",
            f"{matching / count * 1e6:.0f} µs",
            baseline=f"{ms(handler / count)} handler",
            ratio=f"{matching / handler:.2%}",
        ),
    ]
    return rows, failed
