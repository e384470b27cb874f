"""Edges kept on node items (lineage/adapters/adjacency.py) under interleavings of their AWS calls: two
writers adding edges to one node at once lose none, whether the node is new or was written before the
node items kept their edges (then both meet the upgrade: a Query and a conditional update), each also
with either writer dying between two calls and delivered again. Seeded sample in `make test`;
`make explore` (STEWARD_EXPLORE=all) for every order and every crash point."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.interleave import Outcome, Race, check
from steward.events import parse_event
from steward.kernel.errors import DuplicateEventError
from steward.lineage.adapters import adjacency
from steward.lineage.extract import extract
from steward.lineage.query import walk
from tests.conftest import load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
TABLE = "steward-local-lineage"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(serve_api=False, parallel=True) as sandbox:
        yield sandbox


def _job(tuning: str, i: int) -> dict[str, Any]:
    event = copy.deepcopy(load("training_job/quirk_int_millis_and_nulls.json"))
    event["id"] = f"{tuning}-{i}"
    name = f"{tuning}-job-{i}"
    event["detail"].update(TrainingJobName=name, TrainingJobArn=f"{ACC}:training-job/{name}")
    event["detail"]["TuningJobArn"] = f"{ACC}:hyper-parameter-tuning-job/{tuning}"
    event["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://bucket/{tuning}/{i}/model.tar.gz"}
    return event


def _apply(sb: Sandbox, event: dict[str, Any]) -> str:
    try:
        return sb.lineage_store().apply(extract(parse_event(event)))
    except DuplicateEventError:
        return "duplicate"  # a retry after a crash that came after the write


def _strip(sb: Sandbox, node_id: str) -> None:
    """The node item as the layout before kept it: no adjacency attributes."""
    attrs = [adjacency.MARKER, *adjacency.SETS.values(), *adjacency.WIDE.values()]
    sb.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"N#{node_id}"}, "sk": {"S": "N"}},
        UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(attrs))),
        ExpressionAttributeNames={f"#a{i}": a for i, a in enumerate(attrs)},
    )


@pytest.mark.parametrize("older", [False, True], ids=["a new node", "a node from before the layout"])
def test_two_writers_adding_edges_to_one_node_at_once_lose_none(sb, older):
    names = count()

    def race() -> Race:
        tuning = f"adj-{'old' if older else 'new'}-{next(names)}"
        first = 0
        if older:  # one job recorded by the layout before
            _apply(sb, _job(tuning, 0))
            _strip(sb, f"{ACC}:hyper-parameter-tuning-job/{tuning}")
            first = 1
        one, two = _job(tuning, first), _job(tuning, first + 1)
        return Race([lambda: _apply(sb, one), lambda: _apply(sb, two)], (tuning, first + 2))

    def invariant(state: tuple[str, int], outcome: Outcome) -> None:
        tuning, jobs = state
        assert all(e is None for e in outcome.errors), outcome.errors
        node_id = f"{ACC}:hyper-parameter-tuning-job/{tuning}"
        key = {"pk": {"S": f"N#{node_id}"}, "sk": {"S": "N"}}
        item = sb.client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
        assert adjacency.MARKER in item, item  # upgraded (or made) by the layout
        expected = {f"launched|{ACC}:training-job/{tuning}-job-{i}" for i in range(jobs)}
        assert set(item["adjOut"]["SS"]) == expected
        graph = walk(sb.lineage_store(), node_id, "downstream", depth=1)
        assert sum(1 for n in graph["nodes"] if n["kind"] == "training-job") == jobs

    check(f"two writers on {'an older' if older else 'a new'} node", race, invariant)
