"""`make bench` (python -m tests.bench): one table, every figure measured in this run.

Sections, in order: package size after `sam build` (reusing a fresh build), cold-start imports (fresh
interpreters), then on one embedded sandbox: AWS calls per event and per duplicate (the story and every
fixture, each delivered twice), lineage query rounds (a depth-6 walk, a 1,000-job fan-out), and a
10,000-event burst; then, on a sandbox of its own, the backfill's calls per resource; then the parallel
mode against one invocation at a time (API requests, notifications drained). Every run that delivers events must lose none: no target failed past its retries,
nothing in a dead-letter queue. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench import backfill, burst, calls, cold_start, parallel, sizes, walks
from tests.bench import events as inputs
from tests.bench.report import Row, machine, now, render_text, write_markdown

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
LATEST = Path(__file__).resolve().parent / "latest.md"


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _dead_letters(sb: Any) -> int:
    """Messages waiting in every function's dead-letter queues (peeked, left in place)."""
    return sum(len(sb.dlq_messages(name)) for name in sb.function_names())


def _lost_row(run: str, failed: int, dead: int) -> Row:
    return Row(
        "events lost",
        run,
        f"{failed + dead} ({failed} failed targets, {dead} dead letters)",
        target="0",
        met=failed + dead == 0,
    )


def startup_rows(repeats: int = 5) -> list[Row]:
    """A Sandbox() started and stopped, warm (as each test after the first does), against moto's own
    mock_aws started and stopped in the same run: what provisioning from the template adds."""
    import statistics

    from moto import mock_aws

    from sandbox import Sandbox

    Sandbox(serve_api=False).start().stop()  # the first pays for imports and the template's translation

    def timed(action: Any) -> float:
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    def bare() -> None:
        mock = mock_aws()
        mock.start()
        mock.stop()

    baseline = timed(bare)
    served = timed(lambda: Sandbox().start().stop())
    quiet = timed(lambda: Sandbox(serve_api=False).start().stop())
    return [
        Row("sandbox", "moto mock_aws start + stop (baseline)", f"{baseline * 1000:.0f} ms"),
        Row(
            "sandbox",
            "Sandbox() start + stop, warm (API served)",
            f"{served * 1000:.0f} ms",
            f"{baseline * 1000:.0f} ms",
            f"{served / baseline:.1f}x",
            "≤ 300 ms",
            served <= 0.3,
        ),
        Row("sandbox", "Sandbox(serve_api=False) start + stop, warm", f"{quiet * 1000:.0f} ms"),
    ]


def sandbox_sections(burst_size: int) -> list[Row]:
    os.environ.pop("LAMBDA_TASK_ROOT", None)  # the bench process is not a Lambda: tracing stays off
    from sandbox import Sandbox
    from sandbox.demo.replay import create_sagemaker_resources

    rows: list[Row] = startup_rows()
    with Sandbox(serve_api=False) as sb:
        create_sagemaker_resources(
            sb.client("sagemaker"), json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        story, fixtures = inputs.story(EVENTS), inputs.fixtures(EVENTS)
        _say(f"AWS calls: the story ({len(story)} events) and {len(fixtures)} fixtures, each twice")
        tallies, failed = calls.replay(sb, story + fixtures)
        rows += calls.rows(tallies)
        dead = _dead_letters(sb)
        lost = [_lost_row("story + fixtures, each delivered twice", failed, dead)]

        _say("lineage walks: depth 6 on the story, then a 1,000-job fan-out")
        rows += walks.depth_six(sb)
        rows += walks.fan_out(sb, EVENTS)

        events = inputs.burst(EVENTS, burst_size)
        _say(f"burst: {len(events):,} events")
        burst_rows, failed = burst.run(sb, events)
        rows += burst_rows
        lost.append(_lost_row(f"{len(events):,}-event burst", failed, _dead_letters(sb) - dead))
    _say("backfill: a world no event announced, on its own sandbox, backfilled twice")
    rows += backfill.run()
    _say("parallel mode: API requests and notifications, one invocation at a time and at once")
    rows += parallel.run()
    return rows + lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--burst", type=int, default=10_000, help="events in the throughput burst")
    parser.add_argument("--repeats", type=int, default=7, help="timed imports per function")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {LATEST.name}")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    _say("package size (sam build, reused when fresh)")
    rows = sizes.run(REPO)
    _say(f"cold start: {len(cold_start.discover(REPO)) + 1} modules x {args.repeats + 1} fresh interpreters")
    rows += cold_start.run(REPO, repeats=args.repeats)
    rows += sandbox_sections(args.burst)
    elapsed = time.perf_counter() - started

    when, where = now(), machine()
    print(f"\nSteward bench, {when}, {where}; {elapsed:.0f} s\n")
    print(render_text(rows))
    missed = [r for r in rows if r.met is False]
    if not args.no_write:
        write_markdown(LATEST, rows, when=when, where=where, elapsed=elapsed)
        print(f"\nwritten to {LATEST.relative_to(REPO)}")
    if missed:
        print(f"\n{len(missed)} target(s) missed:", file=sys.stderr)
        for row in missed:
            print(f"  {row.measure}: {row.value} (target {row.target})", file=sys.stderr)
        return 1
    print("\nevery target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
