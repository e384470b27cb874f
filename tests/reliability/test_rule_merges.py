"""Rule evaluations under interleavings of their AWS calls (issue 20, item 2): two reports of one job's
Debugger rules recorded at once (the Completed event and the reconciler's read of DescribeTrainingJob,
or a duplicate delivery) end as the sequential result in every interleaving: each rule at its latest
status, none moved back, and the job watched exactly while a rule is unfinished. Seeded sample in
`make test`; STEWARD_EXPLORE=all for every order."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from sandbox import Sandbox
from sandbox.interleave import SAMPLE, all_orders, exhaustive, explore, replay_order
from tests.conftest import load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    from steward.kernel.settings import get_settings

    with Sandbox(serve_api=False) as sandbox:
        with mock.patch.dict(os.environ, sandbox._function("record_lineage").environment):
            get_settings.cache_clear()
            yield sandbox
        get_settings.cache_clear()


def _record(event: dict[str, Any]) -> Any:
    from steward.events import parse_event
    from steward.kernel.settings import get_settings
    from steward.lineage.adapters.sagemaker import SageMakerReader
    from steward.lineage.adapters.store import LineageStore
    from steward.lineage.record import record_lineage

    s = get_settings()
    store = LineageStore(s.lineage_table, s.idempotency_table, s.event_id_ttl_seconds)
    return record_lineage(parse_event(event), store, SageMakerReader(), home=("us-east-1", "123456789012"))


def _completed(name: str, rules: dict[str, str]) -> dict[str, Any]:
    event = copy.deepcopy(load("training_job/completed.json"))
    event["id"] = str(uuid.uuid4())
    arn = f"{ACC}:training-job/{name}"
    event["resources"] = [arn]
    event["detail"].update(TrainingJobName=name, TrainingJobArn=arn)
    event["detail"]["DebugRuleEvaluationStatuses"] = [
        {"RuleConfigurationName": rule, "RuleEvaluationStatus": status} for rule, status in rules.items()
    ]
    return event


def _orders(run: Any) -> Iterator[tuple[str, Any]]:
    if not exhaustive():
        for seed in range(SAMPLE):
            yield f"seed {seed}", run(seed, None)
        return
    first = run(0, None)
    yield "seed 0", first
    for order in all_orders([first.calls(i) for i in range(len(first.results))]):
        yield f"order {order}", run(None, replay_order(order))


def _state(sb: Sandbox, name: str) -> tuple[dict[str, str], bool]:
    node_id = f"{ACC}:training-job/{name}"
    node = sb.lineage_store().get_nodes([node_id])[node_id]
    rules = {r["RuleConfigurationName"]: r["RuleEvaluationStatus"] for r in node["ruleEvaluations"]}
    watched = node_id in {n["id"] for n in sb.lineage_store().rules_watched(limit=1000)}
    return rules, watched


def test_two_reports_of_one_job_s_rules_at_once_merge_each_rule_forward(sb):
    names = iter(range(10_000))

    def run(seed: int | None, order: Any) -> Any:
        name = f"rules-{next(names)}"
        # the event: Overfit ended, Loss still running; DescribeTrainingJob later: both ended
        early = _completed(name, {"Overfit": "IssuesFound", "Loss": "InProgress"})
        later = _completed(name, {"Overfit": "IssuesFound", "Loss": "NoIssuesFound"})
        outcome = explore([lambda: _record(early), lambda: _record(later)], seed=seed, choose=order)
        outcome.name = name  # type: ignore[attr-defined]
        return outcome

    for label, outcome in _orders(run):
        assert all(e is None for e in outcome.errors), (label, outcome.errors)
        assert _state(sb, outcome.name) == ({"Overfit": "IssuesFound", "Loss": "NoIssuesFound"}, False), label
        moved = [
            (r["RuleConfigurationName"], r["RuleEvaluationStatus"]) for o in outcome.results for r in o.rules
        ]
        # each rule's step forward is reported once, by whichever merge made it
        assert sorted(set(moved)) == sorted(moved), (label, moved)
        assert ("Loss", "NoIssuesFound") in moved and ("Overfit", "IssuesFound") in moved, (label, moved)


def test_the_same_report_delivered_twice_at_once_moves_each_rule_once(sb):
    names = iter(range(10_000))

    def run(seed: int | None, order: Any) -> Any:
        name = f"twice-{next(names)}"
        event = _completed(name, {"Overfit": "InProgress"})
        outcome = explore(
            [lambda: _record(event), lambda: _record({**copy.deepcopy(event), "id": str(uuid.uuid4())})],
            seed=seed,
            choose=order,
        )
        outcome.name = name  # type: ignore[attr-defined]
        return outcome

    for label, outcome in _orders(run):
        assert all(e is None for e in outcome.errors), (label, outcome.errors)
        assert _state(sb, outcome.name) == ({"Overfit": "InProgress"}, True), label
        assert sorted(len(o.rules) for o in outcome.results) == [0, 1], label
