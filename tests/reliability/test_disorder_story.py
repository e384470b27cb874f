"""(b) Disorder, the recorded story: each resource's events in up to 50 seeded orders end in one state.

EventBridge does not keep order. For each resource with three or more events (the endpoint churn-prod
with its deployment steps, the training job), every other event is replayed in recorded order first,
then that resource's events in 50 distinct seeded orders, each on the same restored tables; each must
end exactly where the recorded order ends. A resource with two events has one other order: all of them
are swapped at once, in place, in one replay of the whole story. One sandbox serves the module: its
DynamoDB tables are snapshotted and restored between orders (SageMaker's side is only read here).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox import Sandbox
from tests.reliability import scenario

ORDERS_PER_RESOURCE = 50


def resource_of(event: dict[str, Any]) -> str:
    d = event["detail"]
    for key in ("TrainingJobArn", "ProcessingJobArn", "TransformJobArn", "HyperParameterTuningJobArn"):
        if d.get(key):
            return str(d[key]).lower()
    if d.get("stepName"):
        return f"{d['pipelineExecutionArn']}/step/{d['stepName']}"
    for key in ("pipelineExecutionArn", "ModelPackageArn"):
        if d.get(key):
            return str(d[key])
    if d.get("EndpointName"):  # Endpoint and Endpoint Deployment State Change: one endpoint
        return f"endpoint/{d['EndpointName']}"
    return f"alarm/{d.get('alarmName')}"


def by_resource() -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in scenario.story_events():
        grouped[resource_of(event)].append(event)
    return dict(grouped)


RESOURCES = by_resource()
LARGE = sorted(r for r, events in RESOURCES.items() if len(events) >= 3)
PAIRS = sorted(r for r, events in RESOURCES.items() if len(events) == 2)


def orders(events: list[dict[str, Any]], count: int, seed: int) -> list[list[dict[str, Any]]]:
    """Up to `count` distinct orders other than the recorded one (all of them when there are fewer)."""
    n = len(events)
    identity = tuple(range(n))
    if math.factorial(n) - 1 <= count:
        chosen = [p for p in itertools.permutations(range(n)) if p != identity]
    else:
        rng, seen = random.Random(seed), {identity}
        chosen = []
        while len(chosen) < count:
            p = list(range(n))
            rng.shuffle(p)
            if tuple(p) not in seen:
                seen.add(tuple(p))
                chosen.append(tuple(p))
    return [[events[i] for i in p] for p in chosen]


@pytest.fixture(scope="module")
def story():
    since = datetime.now(UTC)
    with Sandbox(serve_api=False) as sb:
        scenario.setup(sb)
        empty = scenario.tables_snapshot(sb)
        before = scenario.outbox(sb)
        sb.put_events(scenario.story_events())
        full = scenario.observe(sb, since, before)
        assert scenario.invariants(full) == []
        yield SimpleNamespace(sb=sb, empty=empty, full=full, since=since)


def test_the_resources_are_what_the_story_holds():
    assert LARGE == ["arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-8xq2n4vd1k7m-trainchurnmodel-hq7mw2xz4n", "endpoint/churn-prod"]  # fmt: skip
    assert len(RESOURCES["endpoint/churn-prod"]) == 8 and len(PAIRS) == 7


def test_every_two_event_resource_in_its_other_order(story):
    swapped = scenario.story_events()
    for resource in PAIRS:
        first, second = (i for i, e in enumerate(swapped) if resource_of(e) == resource)
        swapped[first], swapped[second] = swapped[second], swapped[first]
    assert swapped != scenario.story_events()
    sb = story.sb
    scenario.tables_restore(sb, story.empty)
    before = scenario.outbox(sb)
    sb.put_events(swapped)
    got = scenario.observe(sb, story.since, before)
    assert scenario.compare(got, story.full) == []


@pytest.mark.parametrize("resource", LARGE, ids=lambda r: r.rsplit("/", 1)[-1])
def test_a_resources_events_in_50_seeded_orders(story, resource):
    sb = story.sb
    mine = RESOURCES[resource]
    others = [e for e in scenario.story_events() if resource_of(e) != resource]
    scenario.tables_restore(sb, story.empty)
    before_all = scenario.outbox(sb)
    sb.put_events(others)
    prefix = scenario.tables_snapshot(sb)
    before = scenario.outbox(sb)
    sb.put_events(mine)
    # Arriving after everything else ends where arriving in place does (monitoring attribution aside:
    # it follows the endpoint history recorded when the reaction runs, see scenario.REACTION_ATTRIBUTES).
    whole = scenario.observe(sb, story.since, before_all)
    assert scenario.compare(whole, story.full, order_dependent=True) == []
    reference = scenario.observe(
        sb, story.since, before, sagemaker=False
    )  # what `mine` delivered, for the orders below
    tried = orders(mine, ORDERS_PER_RESOURCE, seed=len(resource))
    assert len(tried) == min(ORDERS_PER_RESOURCE, math.factorial(len(mine)) - 1)
    for number, order in enumerate(tried):
        scenario.tables_restore(sb, prefix)
        before = scenario.outbox(sb)
        sb.put_events(order)
        got = scenario.observe(sb, story.since, before, sagemaker=False)
        problems = scenario.compare(got, reference)
        assert not problems, (number, [e["id"] for e in order], problems[:5])
