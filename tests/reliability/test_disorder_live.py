"""(b) Disorder, the live part: what SageMaker emits arrives in seeded random orders.

During the live part every event the embedded SageMaker emits (the registry's Model Package State
Change events, the endpoint lifecycle's Endpoint and Endpoint Deployment State Change events) is held
back and delivered in a seeded shuffle of everything emitted so far; what that delivery sets off is
shuffled into the next round. So an endpoint's IN_SERVICE can arrive before its CREATING or its
deployment steps, and a version's Approved before other versions' events. Each run must end as the
clean run does.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from sandbox import Sandbox
from tests.reliability import scenario

SEEDS = (11, 12)


@pytest.mark.parametrize("seed", SEEDS)
def test_sagemakers_events_in_seeded_random_orders_end_as_the_clean_run(baseline, seed):
    rng = random.Random(seed)
    since = datetime.now(UTC)
    reordered = 0
    with Sandbox() as sb:
        scenario.setup(sb)
        sb.put_events(scenario.story_events())
        with scenario.hold_sagemaker_events(sb) as held:

            def deliver_shuffled(sb: Sandbox) -> None:
                nonlocal reordered
                while held:
                    batch = list(held)
                    held.clear()
                    shuffled = rng.sample(batch, len(batch))
                    reordered += shuffled != batch
                    sb.put_events(shuffled)  # what these set off is held again: the next round

            scenario.Live(after=deliver_shuffled).run(sb)
        got = scenario.observe(sb, since)
    assert reordered >= 3  # the shuffles did change the order (the rounds are not all of one event)
    assert scenario.compare(got, baseline) == []
    assert scenario.invariants(got) == []
