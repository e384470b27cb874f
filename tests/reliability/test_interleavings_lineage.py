"""Lineage under interleavings of its AWS calls (issue 15): events about one node recorded by two
invocations at once end as the sequential result, whatever the interleaving; the same event delivered
twice at once is recorded once. Seeded sample in `make test`; STEWARD_EXPLORE=all for every order."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from sandbox import Sandbox
from sandbox.interleave import explore
from tests.conftest import load
from tests.reliability.test_interleavings import _interleavings

ACC = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    from steward.settings import get_settings

    with Sandbox(serve_api=False) as sandbox:
        with mock.patch.dict(os.environ, sandbox._function("record_lineage").environment):
            get_settings.cache_clear()
            yield sandbox
        get_settings.cache_clear()


def _record(event: dict[str, Any]) -> Any:
    from steward.adapters.lineage_store import LineageStore
    from steward.adapters.sagemaker import SageMakerReader
    from steward.events import parse_or_ignore
    from steward.lineage.record import record_lineage
    from steward.observability import logger
    from steward.settings import get_settings

    s = get_settings()
    store = LineageStore(s.lineage_table, s.idempotency_table, s.event_id_ttl_seconds)
    parsed = parse_or_ignore(event, logger)
    return record_lineage(parsed, store, SageMakerReader(), home=("us-east-1", "123456789012")).outcome


def _job(name: str, fixture: str) -> dict[str, Any]:
    event = copy.deepcopy(load(fixture))
    event["id"] = str(uuid.uuid4())
    arn = f"{ACC}:training-job/{name}"
    event["resources"] = [arn]
    event["detail"].update(TrainingJobName=name, TrainingJobArn=arn)
    return event


def _node(sb: Sandbox, node_id: str) -> dict[str, Any]:
    return sb.lineage_store().get_nodes([node_id])[node_id]


def test_two_states_of_one_job_recorded_at_once_end_as_the_sequential_result(sb):
    names = iter(range(10_000))
    for label, outcome in _interleavings(lambda seed, order: _race(sb, f"race-{next(names)}", seed, order)):
        assert all(e is None for e in outcome.errors), (label, outcome.errors)
        node = _node(sb, f"{ACC}:training-job/{outcome.name.lower()}")
        assert node["status"] == "Completed", (label, node)  # never moved back by the late InProgress
        history = [h["status"] for h in sb.lineage_store().history(node["id"])]
        assert sorted(history) == ["Completed", "InProgress"], (label, history)
        assert sorted(outcome.results) in (["recorded", "recorded"], ["recorded", "stale"]), (
            label,
            outcome.results,
        )


def _race(sb: Sandbox, name: str, seed: int | None, order: Any) -> Any:
    completed = _job(name, "training_job/completed.json")
    running = _job(name, "training_job/in_progress_training.json")
    outcome = explore([lambda: _record(completed), lambda: _record(running)], seed=seed, choose=order)
    outcome.name = name  # type: ignore[attr-defined]
    return outcome


def test_the_same_event_delivered_twice_at_once_is_recorded_once(sb):
    names = iter(range(10_000))
    for label, outcome in _interleavings(lambda seed, order: _twice(sb, f"twice-{next(names)}", seed, order)):
        recorded = [r for r in outcome.results if r == "recorded"]
        others = [
            r if e is None else type(e).__name__ for r, e in zip(outcome.results, outcome.errors, strict=True)
        ]
        # one invocation records it; the other finds its marker (a duplicate), in every interleaving
        assert len(recorded) == 1, (label, others)
        assert sorted(others) in (["duplicate", "recorded"], ["DuplicateEventError", "recorded"]), (
            label,
            others,
        )
        node = _node(sb, f"{ACC}:training-job/{outcome.name.lower()}")
        history = [h["status"] for h in sb.lineage_store().history(node["id"])]
        assert history == ["Completed"], (label, history)


def _twice(sb: Sandbox, name: str, seed: int | None, order: Any) -> Any:
    event = _job(name, "training_job/completed.json")
    outcome = explore(
        [lambda: _record(event), lambda: _record(copy.deepcopy(event))], seed=seed, choose=order
    )
    outcome.name = name  # type: ignore[attr-defined]
    return outcome
