"""The story replayed with every event's targets at once (`steward local serve --parallel`) records the
same lineage as replayed in order: forward-only states, idempotent writes and the explorer's fixes hold
when everything runs at the same moment, not just two operations."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _graph(parallel: bool) -> tuple[set[Any], set[Any], dict[str, Any]]:
    from sandbox.demo.story import loaded_sandbox

    failures = io.StringIO()
    paths = [str(EVENTS / "story_churn.jsonl")]
    with loaded_sandbox(
        paths, str(EVENTS / "sagemaker_resources.json"), out=failures, parallel=parallel
    ) as sb:
        assert sb.parallel is parallel
        graph = sb.lineage()
        info = {"failures": failures.getvalue(), "environments": sum(sb.cold_starts.values())}
    nodes = {(n["id"], n["kind"], n.get("status")) for n in graph["nodes"]}
    edges = {(e["from"], e["to"], e["relation"]) for e in graph["edges"]}
    return nodes, edges, info


def test_the_story_replayed_all_at_once_records_what_it_records_in_order():
    in_order, at_once = _graph(parallel=False), _graph(parallel=True)
    assert at_once[2]["failures"] == "", at_once[2]["failures"]
    assert at_once[2]["environments"] > in_order[2]["environments"]  # it did run invocations at once
    assert at_once[0] == in_order[0], sorted(at_once[0] ^ in_order[0])
    assert at_once[1] == in_order[1], sorted(at_once[1] ^ in_order[1])
