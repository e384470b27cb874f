"""Lineage query rounds and latency: a depth-6 walk on the story's graph and a 1,000-job tuning fan-out.

A walk reads one level per round (one BatchGetItem per 100 of the level's nodes, which keep their
edges; a Query for a wide node), so a walk of depth N costs at most N + 1 rounds, whatever the width of
each level. Rounds come from the walk's own stats; reads are the DynamoDB calls counted while it runs
(the fan-out's have a target: ⌈nodes/100⌉ + 1 per level; it was 1,001 Queries when every node was
queried); latency is the median of several walks (one for the fan-out); the baseline is a depth-0 walk
(one round: the start node alone) from the same node, in the same run.
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


def _walk_rows(
    sb: Any,
    label: str,
    node: str,
    direction: str,
    depth: int,
    repeats: int,
    widths: list[int] | None = None,
) -> list[Row]:
    """`widths`: the nodes of each level, when known: then the reads have a target, one BatchGetItem per
    100 nodes of a level and one more call (a wide node's Query) per level."""
    graph, rounds, reads, latency = _timed_walk(sb, node, direction, depth, repeats)
    _, _, _, one_round = _timed_walk(sb, node, direction, 0, max(3, repeats))
    levels = depth + 1
    rows = [
        Row(
            SECTION,
            f"{label}: query rounds",
            f"{rounds} rounds ({len(graph['nodes'])} nodes; {_reads(reads)})",
            target=f"≤ {levels} (one per level)",
            met=rounds <= levels,
        )
    ]
    if widths is not None:
        budget = sum(-(-n // 100) + 1 for n in widths)
        batch_gets, queries = reads["dynamodb.BatchGetItem"], reads["dynamodb.Query"]
        rows.append(
            Row(
                SECTION,
                f"{label}: DynamoDB reads",
                f"{batch_gets} BatchGetItem, {queries} Query",
                target=f"≤ {budget} (⌈level/100⌉ + 1 per level)",
                met=batch_gets + queries <= budget,
            )
        )
    rows.append(
        Row(
            SECTION,
            f"{label}: latency",
            ms(latency),
            baseline=f"{ms(one_round)} (depth 0)",
            ratio=f"{latency / one_round:.1f}x",
        )
    )
    return rows


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
    label = f"{jobs:,}-job tuning fan-out (depth 2)"
    return _walk_rows(sb, label, TUNING, "downstream", 2, repeats, widths=[1, jobs, jobs])
