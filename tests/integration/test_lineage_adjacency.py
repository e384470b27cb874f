"""Each node item keeps its edges (lineage/adapters/adjacency.py): a walk reads a level with BatchGetItem;
nodes written before that layout still read right, and are upgraded by the first write that touches
them; a node grown past the inline limit is read from its edge items."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Sandbox
from steward.events import parse_event
from steward.lineage.adapters import adjacency
from steward.lineage.extract import extract
from steward.lineage.query import walk
from tests.conftest import load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
TABLE = "steward-local-lineage"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(serve_api=False) as sandbox:
        yield sandbox


def _job_of(tuning: str, i: int, prefix: str = "job") -> dict[str, Any]:
    event = copy.deepcopy(load("training_job/quirk_int_millis_and_nulls.json"))
    event["id"] = f"{tuning}-{prefix}-{i}"
    name = f"{prefix}-{tuning}-{i:04d}"
    event["detail"].update(TrainingJobName=name, TrainingJobArn=f"{ACC}:training-job/{name}")
    event["detail"]["TuningJobArn"] = f"{ACC}:hyper-parameter-tuning-job/{tuning}"
    event["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://bucket/{tuning}/{i:04d}/model.tar.gz"}
    return event


def _tuning(tuning: str) -> str:
    return f"{ACC}:hyper-parameter-tuning-job/{tuning}"


def _raw(sb: Sandbox, node_id: str) -> dict[str, Any]:
    key = {"pk": {"S": f"N#{node_id}"}, "sk": {"S": "N"}}
    return sb.client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]


def _as_before_the_layout(sb: Sandbox) -> None:
    """Every node item as the layout before kept it: no adjacency attributes (edge items alone)."""
    ddb = sb.client("dynamodb")
    attrs = [adjacency.MARKER, *adjacency.SETS.values(), *adjacency.WIDE.values()]
    for page in ddb.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            if item["sk"]["S"] == "N" and adjacency.MARKER in item:
                ddb.update_item(
                    TableName=TABLE,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(attrs))),
                    ExpressionAttributeNames={f"#a{i}": a for i, a in enumerate(attrs)},
                )


def _children(graph: dict[str, Any], kind: str) -> set[str]:
    return {n["id"] for n in graph["nodes"] if n["kind"] == kind}


def test_a_narrow_walk_reads_each_level_with_one_batch_get_and_no_query(sb):
    # Given a tuning job with 40 training jobs (under the inline limit)
    store = sb.lineage_store()
    for i in range(40):
        store.apply(extract(parse_event(_job_of("narrow", i))))
    # When it is walked downstream two levels
    sb.aws_calls.clear()
    graph = walk(store, _tuning("narrow"), "downstream", depth=2)
    # Then each level is one BatchGetItem (1 + 40 + 40 nodes: 1, 1 and 1 calls), and no Query
    assert len(_children(graph, "training-job")) == 40
    assert len(_children(graph, "model-artifact")) == 40
    assert sb.aws_calls["dynamodb.BatchGetItem"] == 3
    assert "dynamodb.Query" not in sb.aws_calls


def test_nodes_written_before_the_layout_read_the_same_walk_from_their_edge_items(sb):
    # Given a small lineage written, then stripped to the layout before (edge items only)
    store = sb.lineage_store()
    for i in range(5):
        store.apply(extract(parse_event(_job_of("legacy", i))))
    expected = walk(store, _tuning("legacy"), "downstream", depth=2)
    _as_before_the_layout(sb)
    # When it is walked again
    sb.aws_calls.clear()
    graph = walk(store, _tuning("legacy"), "downstream", depth=2)
    # Then the walk is the same, read with a Query for each node of the two expanded levels
    assert graph == expected
    assert sb.aws_calls["dynamodb.Query"] == 1 + 5


def test_the_first_write_on_a_node_from_before_the_layout_upgrades_it_with_its_old_edges(sb):
    # Given a tuning job with three jobs, written by the layout before
    store = sb.lineage_store()
    for i in range(3):
        store.apply(extract(parse_event(_job_of("upgrade", i))))
    _as_before_the_layout(sb)
    # When a fourth job of it is recorded
    assert store.apply(extract(parse_event(_job_of("upgrade", 3)))) == "recorded"
    # Then the tuning node keeps all four edges, the three old ones included
    item = _raw(sb, _tuning("upgrade"))
    assert adjacency.MARKER in item
    assert len(item["adjOut"]["SS"]) == 4
    # And a walk reads it without a Query (the old jobs themselves are still of the layout before)
    sb.aws_calls.clear()
    graph = walk(store, _tuning("upgrade"), "downstream", depth=1)
    assert len(_children(graph, "training-job")) == 4
    assert sb.aws_calls["dynamodb.Query"] == 0


def test_a_node_past_the_inline_limit_is_marked_wide_and_read_from_its_edge_items(sb):
    # Given a tuning job with more training jobs than a node item keeps
    store = sb.lineage_store()
    jobs = adjacency.INLINE_LIMIT + 20
    sb.aws_calls.clear()
    for i in range(jobs):
        store.apply(extract(parse_event(_job_of("wide", i))))
    # Then writing them cost one failed transaction more than one per event (the one that found it full)
    assert sb.aws_calls["dynamodb.TransactWriteItems"] == jobs + 1
    item = _raw(sb, _tuning("wide"))
    assert item["adjOutWide"] == {"BOOL": True}
    assert len(item["adjOut"]["SS"]) <= adjacency.INLINE_LIMIT
    # And a walk finds every job: the wide node with one Query, its jobs with BatchGetItem
    sb.aws_calls.clear()
    graph = walk(store, _tuning("wide"), "downstream", depth=1)
    assert len(_children(graph, "training-job")) == jobs
    assert sb.aws_calls["dynamodb.Query"] == 1


def test_record_lineage_may_upgrade_a_node_from_before_the_layout_under_its_own_policy(sb):
    # Given a tuning job recorded by the layout before
    sb.lineage_store().apply(extract(parse_event(_job_of("policy", 0))))
    _as_before_the_layout(sb)
    # When the record_lineage function records another of its jobs (the template's IAM enforced)
    result = sb.put_events([_job_of("policy", 1)])[0]["targets"]
    # Then it succeeds, and the tuning node keeps both edges
    assert [t["ok"] for t in result if t["function"] == "record_lineage"] == [True], result
    assert len(_raw(sb, _tuning("policy"))["adjOut"]["SS"]) == 2
