"""(a) Duplicates: the story with every event delivered three times ends as the clean run does.

EventBridge delivers at least once: each recorded event is put three times in a row (same event id),
every event the embedded SageMaker emits during the live part (registry changes, the endpoint
lifecycle) is delivered three times, and the operator posts each decision three times.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime

from sandbox import Sandbox
from tests.reliability import scenario


def test_every_event_three_times_ends_as_the_clean_run(baseline):
    since = datetime.now(UTC)
    with Sandbox() as sb:
        scenario.setup(sb)
        outcomes: Counter[str] = Counter()
        for event in scenario.story_events():
            results = sb.put_events([event, event, event])
            for result in results[1:]:  # the copies: recognised, nothing written twice
                for target in result["targets"]:
                    assert target["ok"], target
                    if target["function"] == "record_lineage":
                        outcomes[target["result"]["outcome"]] += 1
        with scenario.tripled_sagemaker_events(sb):
            live = scenario.Live(posts=3)
            live.run(sb)
        got = scenario.observe(sb, since)
    assert set(outcomes) == {"duplicate"}, outcomes
    # The first post decides; the repeats are refused as already decided and change nothing.
    assert [status for status, _ in live.answers] == [200, 409, 409, 200, 409, 409]
    assert scenario.compare(got, baseline) == []
    assert scenario.invariants(got) == []


def test_two_clean_runs_differ_only_in_the_volatile_times(baseline):
    """Pins scenario.VOLATILE_TIMES: a second clean run is equal once the run's own clock is masked,
    and without masking it differs in those attributes and no others."""
    again, _, _ = scenario.clean_run()
    assert scenario.compare(again, baseline) == []
    differing = set()
    for node_id, node in again["raw_lineage"]["nodes"].items():
        other = baseline["raw_lineage"]["nodes"][node_id]
        differing |= {k for k in set(node) | set(other) if node.get(k) != other.get(k)}
    assert differing, "nothing differs between runs: the masking is untested"
    # the endpoint summaries differ only in their nested times (NESTED_TIMES, masked by lineage_view)
    summaries = {"serving", "lastDeployment"}
    assert differing <= scenario.VOLATILE_TIMES | summaries, differing - scenario.VOLATILE_TIMES - summaries
    for node_id, node in again["raw_lineage"]["nodes"].items():
        other = baseline["raw_lineage"]["nodes"][node_id]
        for key in summaries & set(node):
            inner = {k for k in node[key] if node[key].get(k) != other.get(key, {}).get(k)}
            assert inner <= scenario.NESTED_TIMES, (node_id, key, inner)


def test_the_comparison_and_the_invariants_catch_violations(baseline):
    """Each check can fail: a mutated copy of the clean run is reported for what was changed."""
    package = f"{scenario.ARN}:model-package/churn-models/5"

    def mutated(change):
        copied = copy.deepcopy(baseline)
        change(copied)
        return copied

    def status_moved_back(o):
        o["lineage"]["nodes"][package]["status"] = "PendingManualApproval"

    def story_time_moved_back(o):
        endpoint = f"{scenario.ARN}:model-package/churn-models/3"
        o["lineage"]["nodes"][endpoint]["statusTime"] = "2026-11-02T02:33:50Z"

    def edge_lost(o):
        o["lineage"]["edges"] = o["lineage"]["edges"][1:]

    def second_request(o):
        o["approvals_per_version"][package.lower()] = 2

    def deployed_twice(o):
        o["deployments"].append(o["deployments"][0])

    def sent_twice(o):
        key = next(iter(o["sent"]))
        o["sent"][key] = 2

    def received_twice(o):
        key = next(iter(o["outbox"]))
        o["outbox"][key] = 2

    def dead_letter(o):
        o["dead_letters"] = {"record_lineage": 1}

    def extra_model(o):
        o["models"].append("churn-models-v5-ffffff")

    for change in (
        status_moved_back,
        story_time_moved_back,
        edge_lost,
        second_request,
        deployed_twice,
        sent_twice,
        received_twice,
        dead_letter,
        extra_model,
    ):
        assert scenario.compare(mutated(change), baseline), change.__name__
    for change in (second_request, deployed_twice, sent_twice, received_twice, dead_letter):
        assert scenario.invariants(mutated(change)), change.__name__
