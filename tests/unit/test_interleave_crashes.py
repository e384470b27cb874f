"""The explorer's crashes and its invariant checks, on a bare moto (no sandbox): an operation dies before
its call k (or after its last call) and runs again; a dead operation makes no further call; `check` finds
a lost update in a read-modify-write and names the case to replay it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.interleave import (
    CRASH,
    InvariantError,
    Race,
    check,
    crash_points,
    explore,
    planned_cases,
)

TABLE = "counters"


@pytest.fixture
def ddb(monkeypatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _append(ddb: Any, key: str, what: str) -> None:
    ddb.update_item(
        TableName=TABLE,
        Key={"id": {"S": key}},
        UpdateExpression="SET seen = list_append(if_not_exists(seen, :none), :one)",
        ExpressionAttributeValues={":none": {"L": []}, ":one": {"L": [{"S": what}]}},
    )


def _seen(ddb: Any, key: str) -> list[str]:
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": key}}).get("Item", {})
    return [v["S"] for v in item.get("seen", {}).get("L", [])]


def test_an_operation_dying_before_its_call_k_keeps_the_calls_before_and_runs_again(ddb):
    def three_writes() -> str:
        for n in range(3):
            _append(ddb, "a", f"w{n}")
        return "done"

    # When operation 0 dies before its call 2 (after two writes took effect)
    outcome = explore([three_writes], seed=0, crash=(0, 2))
    # Then its first two writes stand, the retry makes all three, and it answers as the retry did
    assert _seen(ddb, "a") == ["w0", "w1", "w0", "w1", "w2"]
    assert outcome.crashed == [True] and outcome.errors == [None] and outcome.results == ["done"]
    names = [name for _, name in outcome.order]
    assert names == ["dynamodb.UpdateItem"] * 2 + [CRASH] + ["dynamodb.UpdateItem"] * 3


def test_an_operation_dying_after_its_last_call_is_run_again_whole(ddb):
    outcome = explore([lambda: _append(ddb, "b", "only")], seed=0, crash=(0, 1))
    assert _seen(ddb, "b") == ["only", "only"]  # the work was done, the answer lost: delivered again
    assert outcome.crashed == [True]


def test_a_dead_operation_makes_no_call_from_its_finally_blocks(ddb):
    def cleans_up() -> None:
        try:
            _append(ddb, "c", "work")
            _append(ddb, "c", "more")
        finally:
            _append(ddb, "c", "cleanup")  # a killed runtime never gets here

    outcome = explore([cleans_up], seed=0, crash=(0, 1))
    assert _seen(ddb, "c") == ["work", "work", "more", "cleanup"]  # the first attempt's cleanup: never
    assert outcome.crashed == [True]


def _read_then_write(ddb: Any, key: str) -> None:
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": key}}).get("Item")
    count = int(item["n"]["N"]) if item else 0
    ddb.put_item(TableName=TABLE, Item={"id": {"S": key}, "n": {"N": str(count + 1)}})


def test_check_finds_a_lost_update_and_names_the_case_to_replay(ddb):
    keys = iter(range(1000))

    def race() -> Race:
        key = f"k{next(keys)}"
        return Race([lambda: _read_then_write(ddb, key), lambda: _read_then_write(ddb, key)], key)

    def invariant(key: str, outcome: Any) -> None:
        item = ddb.get_item(TableName=TABLE, Key={"id": {"S": key}})["Item"]
        assert item["n"]["N"] == "2", f"counter is {item['n']['N']}"

    with pytest.raises(InvariantError) as found:
        check("two increments", race, invariant, sample=16, crashes=0, everything=False)
    assert "STEWARD_EXPLORE_SEED=" in str(found.value)
    assert "counter is 1" in str(found.value)


def test_check_passes_an_atomic_update_under_every_order_and_crash_point(ddb):
    keys = iter(range(1000))

    def race() -> Race:
        key = f"a{next(keys)}"
        return Race([lambda: _append(ddb, key, "x"), lambda: _append(ddb, key, "y")], key)

    def invariant(key: str, outcome: Any) -> None:
        seen = _seen(ddb, key)
        retried = [w for w, crashed in zip("xy", outcome.crashed, strict=True) if crashed]
        assert sorted(seen) == sorted(["x", "y", *retried])  # a write the retry repeats counts twice

    report = check("two appends", race, invariant, everything=True)
    assert report.calls == [1, 1]
    orders = [c.order for c in report.cases if c.order is not None]
    assert sorted(orders) == [(0, 1), (1, 0)]
    assert {c.crash for c in report.cases if c.crash} == {(0, 1), (1, 1)}


def test_the_sample_and_the_exhaustive_plan():
    assert crash_points([2, 1]) == [(0, 1), (0, 2), (1, 1)]
    sampled = planned_cases([3, 3], everything=False, sample=8, crashes=4)
    assert [c.seed for c in sampled if c.crash is None] == list(range(1, 8))
    assert len({c.crash for c in sampled if c.crash}) == 4
    every = planned_cases([2, 2], everything=True, sample=8, crashes=4)
    assert len([c for c in every if c.order is not None]) == 6  # 4! / (2! 2!)
    assert {c.crash for c in every if c.crash} == {(0, 1), (0, 2), (1, 1), (1, 2)}


def test_a_requested_case_runs_alone(ddb, monkeypatch):
    monkeypatch.setenv("STEWARD_EXPLORE_SEED", "3")
    monkeypatch.setenv("STEWARD_EXPLORE_CRASH", "1:1")
    report = check("replay", lambda: Race([lambda: _append(ddb, "r", "x")] * 2), lambda *_: None)
    assert [(c.seed, c.crash) for c in report.cases] == [(3, (1, 1))]
