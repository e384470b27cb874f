"""(c) Faults: throttling and 5xx in 20% of the AWS calls handlers make, then `steward redrive`.

Every handler call to AWS goes through `Sandbox.faults`, two seeded hooks at once: 10% throttling
(ThrottlingException, 400) and about 10% more InternalFailure (500). The error reaches the code as it
would once botocore's own retries are spent, so each one exercises Lambda's retries, the DLQs and the
code's idempotency between any two of its AWS calls. The story runs under faults, then every DLQ is
redriven until empty (as an operator would after the alarm); the live part runs step by step under
faults (the operator retries a decision answered with a 5xx), each step followed by a redrive. The
test's own calls (registering versions, reading state back) never fail.

Each run must end as the clean run does: same lineage (monitoring attribution aside: redrives deliver
late, see scenario.REACTION_ATTRIBUTES), one approval request per version, one deployment per
(version, endpoint), each notification delivered once per target, and every DLQ empty.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import Sandbox
from tests.reliability import scenario


def _faulty(
    sb: Sandbox, rng: random.Random, injected: Counter[str]
) -> contextlib.AbstractContextManager[Any]:
    @contextlib.contextmanager
    def block():
        with (
            sb.faults(
                rate=0.1, code="ThrottlingException", status=400, seed=rng.randrange(2**32)
            ) as throttled,
            sb.faults(rate=0.112, code="InternalFailure", status=500, seed=rng.randrange(2**32)) as failed,
        ):
            yield
        injected.update(throttled)
        injected.update(failed)

    return block()


def run_with_faults(seed: int, stages: bool) -> tuple[dict[str, Any], Counter[str], list[dict[str, Any]]]:
    rng, injected, redriven = random.Random(seed), Counter(), []
    since = datetime.now(UTC)

    def redrive(sb: Sandbox) -> None:
        redriven.extend(scenario.redrive_until_empty(sb))

    with Sandbox() as sb:
        scenario.setup(sb)
        with _faulty(sb, rng, injected):
            sb.put_events(scenario.story_events())
        redrive(sb)
        live = scenario.Live(
            during=lambda sb: _faulty(sb, rng, injected), after=redrive, retry_5xx=8, stages=stages
        )
        live.run(sb)
        got = scenario.observe(sb, since)
    return got, injected, redriven


def _check(got, injected, redriven, want):
    assert sum(injected.values()) >= 30, injected  # faults did happen, in many operations
    assert len(injected) >= 10, injected
    assert any(r["redriven"] for r in redriven)  # some work failed past its retries and was redriven
    assert scenario.compare(got, want, order_dependent=True) == []
    assert scenario.invariants(got) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_story_and_approvals_under_faults_end_as_the_clean_run(baseline_without_stages, seed):
    _check(*run_with_faults(seed, stages=False), baseline_without_stages)


# --- one failure at a chosen place: what the random runs found, pinned ----------------------------------


def _live_v5(sb: Sandbox, stages: bool = True) -> tuple[scenario.Live, str]:
    scenario.setup(sb)
    sb.put_events(scenario.story_events())
    live = scenario.Live(stages=stages)
    sb.set_policy(scenario.live_policy(stages))
    return live, live.register(sb, "live5run", 0.934)


def _status(sb: Sandbox, package: str) -> str:
    return str(sb.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"])


def test_a_decision_whose_registry_write_fails_is_completed_by_the_operators_retry():
    with Sandbox() as sb:
        live, v5 = _live_v5(sb, stages=False)
        with sb.faults("sagemaker.UpdateModelPackage", rate=1.0) as injected:
            live.decide(sb, v5, "bob@example.com")  # saved, then the write-back to the registry fails
        assert injected["sagemaker.UpdateModelPackage"] >= 1 and live.answers[-1][0] == 503  # retry it
        assert _status(sb, v5) == "PendingManualApproval"
        live.decide(sb, v5, "bob@example.com")  # the operator tries again
        assert live.answers[-1] == (409, {"error": "decided", "message": "refused: decided"})
        assert _status(sb, v5) == "Approved"
        subjects = scenario.outbox(sb)
        assert (
            subjects[
                ("slack", "#churn-ml", ":information_source: churn-models v5 approved by bob@example.com")
            ]
            == 1
        )
        approval = sb.lineage(f"{v5.lower()}/approval", "upstream", 0)["nodes"][0]
        assert approval["status"] == "Approved" and approval["approvedBy"] == ["bob@example.com"]


def test_a_decision_left_half_done_is_completed_by_the_sweep():
    with Sandbox() as sb:
        live, v5 = _live_v5(sb, stages=False)
        with sb.faults("sqs.SendMessage", rate=1.0):
            live.decide(sb, v5, "bob@example.com")  # registry written; the outcome's notification fails
        assert live.answers[-1][0] == 503 and _status(sb, v5) == "Approved"
        assert sb.lineage(f"{v5.lower()}/approval", "upstream", 0)["nodes"][0]["status"] == "Pending"
        sb.run_schedules("sweep-approvals")  # nobody retries: the sweep finishes it
        assert sb.lineage(f"{v5.lower()}/approval", "upstream", 0)["nodes"][0]["status"] == "Approved"
        assert (
            scenario.outbox(sb)[
                ("slack", "#churn-ml", ":information_source: churn-models v5 approved by bob@example.com")
            ]
            == 1
        )


def test_promotion_loses_nothing_when_enqueueing_its_notifications_fails():
    with Sandbox() as sb:
        live, v5 = _live_v5(sb)
        with scenario.hold_sagemaker_events(sb) as held:
            live.decide(sb, v5, "bob@example.com")
        with sb.faults("sqs.SendMessage", rate=1.0):
            # promote_model saves the staging deployment, then enqueueing "started" fails (and, when the
            # endpoint is InService, enqueueing "succeeded" after the outcome is saved)
            sb.put_events(held)
        scenario.redrive_until_empty(sb)
        delivered = scenario.outbox(sb)
        for endpoint in ("churn-staging", "churn-prod"):
            for outcome in ("started", "succeeded"):
                subject = f":information_source: Deployment of churn-models v5 to {endpoint} {outcome}"
                assert delivered[("slack", "#churn-ml", subject)] == 1, subject
        assert sb.client("sagemaker").describe_endpoint(EndpointName="churn-prod")["EndpointConfigName"] == (
            "churn-models-v5-cefd60"
        )
