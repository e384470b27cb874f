"""Lineage query rounds and latency: a depth-6 walk on the story's graph and a 1,000-job tuning fan-out.

A walk reads one level per round (the frontier's nodes are queried concurrently), so a walk of depth N
costs at most N + 1 rounds, whatever the width of each level. Rounds come from the walk's own stats;
reads are the DynamoDB calls counted while it runs; latency is the median of several walks (one for
the fan-out, whose 1,001 Queries moto answers one at a time); the baseline is a depth-0 walk (one
round: the start node alone) from the same node, in the same run.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench.events import ACCOUNT_ARN, event_id
from tests.bench.report import Row, ms

SECTION = "lineage queries"
ENDPOINT = f"{ACCOUNT_ARN}:endpoint/churn-prod"
TUNING = f"{ACCOUNT_ARN}:hyper-parameter-tuning-job/bench-fan-out"


def _timed_walk(
    sb: Any, node: str, direction: str, depth: int, repeats: int
) -> tuple[Any, int, Counter[str], float]:
    from steward.lineage.query import WalkStats, walk

    store = sb.lineage_store()
    latencies, graph, stats, reads = [], None, WalkStats(), Counter()
    for n in range(repeats):
        stats = WalkStats()
        before = Counter(sb.aws_calls)
        started = time.perf_counter()
        graph = walk(store, node, direction, depth=depth, stats=stats)
        latencies.append(time.perf_counter() - started)
        if n == 0:
            reads = sb.aws_calls - before
    return graph, stats.rounds, reads, statistics.median(latencies)


def _reads(calls: Counter[str]) -> str:
    return ", ".join(f"{n} {op.split('.', 1)[1]}" for op, n in sorted(calls.items()))


def _walk_rows(sb: Any, label: str, node: str, direction: str, depth: int, repeats: int) -> list[Row]:
    graph, rounds, reads, latency = _timed_walk(sb, node, direction, depth, repeats)
    _, _, _, one_round = _timed_walk(sb, node, direction, 0, max(3, repeats))
    levels = depth + 1
    return [
        Row(
            SECTION,
            f"{label}: query rounds",
            f"{rounds} rounds ({len(graph['nodes'])} nodes; {_reads(reads)})",
            target=f"≤ {levels} (one per level)",
            met=rounds <= levels,
        ),
        Row(
            SECTION,
            f"{label}: latency",
            ms(latency),
            baseline=f"{ms(one_round)} (depth 0)",
            ratio=f"{latency / one_round:.1f}x",
        ),
    ]


def depth_six(sb: Any, repeats: int = 5) -> list[Row]:
    """Upstream from the story's endpoint: config, model, package, artifact, training job, its data."""
    return _walk_rows(sb, "depth-6 walk (churn-prod upstream)", ENDPOINT, "upstream", 6, repeats)


def fan_out(sb: Any, events_dir: Path, jobs: int = 1000, repeats: int = 1) -> list[Row]:
    """A tuning job with `jobs` training jobs, each with its model artifact: tuning → job → artifact."""
    import json

    from steward.events import parse_event
    from steward.lineage.extract import extract

    store = sb.lineage_store()
    base = json.loads((events_dir / "training_job" / "quirk_int_millis_and_nulls.json").read_text())
    for i in range(jobs):
        event = copy.deepcopy(base)
        event["id"] = event_id("fan-out", i)
        name = f"bench-hpo-{i:04d}"
        event["detail"].update(TrainingJobName=name, TrainingJobArn=f"{ACCOUNT_ARN}:training-job/{name}")
        event["detail"]["TuningJobArn"] = TUNING
        event["detail"]["ModelArtifacts"] = {
            "S3ModelArtifacts": f"s3://bench-fan-out/hpo/{i:04d}/model.tar.gz"
        }
        store.apply(extract(parse_event(event)))
    return _walk_rows(sb, f"{jobs:,}-job tuning fan-out (depth 2)", TUNING, "downstream", 2, repeats)
