"""Promotion under interleavings of its AWS calls, and with either invocation dying between two calls and
delivered again: two versions approved at once, the endpoint's event against the promotion sweep, a
rollback against a promotion in flight, the same Approved event twice at once. Each run has a group and
an endpoint of its own (the policy gives each new group one stage). Seeded sample in `make test`;
`make explore` (STEWARD_EXPLORE=all) for every order and every crash point."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.interleave import CRASHES, SAMPLE, Outcome, Race, check
from tests.integration.test_promotion import register
from tests.reliability.explorer import emails, holding, one_at_a_time, package_event

ACCOUNT, REGION = "123456789012", "us-east-1"
# Each run here deploys (registers, gates, approves, creates an endpoint): half the sample of the others
# in `make test`, the same with STEWARD_EXPLORE=all (every order and crash point whatever the sample).
HALF = {"sample": max(4, SAMPLE // 2), "crashes": max(2, CRASHES // 2)}
APPROVERS = [{"email": "alice@example.com"}]


def _policy(group: str) -> dict[str, Any]:
    """Versions the gate approves by itself, one stage per group (runs never share an endpoint)."""
    routes = {"email": ["ops@example.com"]}
    return {
        "default": {
            "notifications": {"info": routes, "warning": routes, "critical": routes},
            "approval": {
                "approvers": APPROVERS,
                "gate": {"thresholds": {"auc": {"min": 0.5}}, "on_pass": "approve"},
            },
        },
        "groups": {
            group: {
                "stages": [
                    {
                        "name": "staging",
                        "endpoint": f"{group}-ep",
                        "strategy": "all-at-once",
                        "bake_seconds": 0,
                    }
                ]
            }
        },
    }


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(policy=_policy("promo-first"), serve_api=False, parallel=True) as sandbox:
        yield sandbox


class Group:
    numbers = count()

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.name = f"promo{next(self.numbers)}"
        self.endpoint = f"{self.name}-ep"
        self.endpoint_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{self.endpoint}"
        sb.set_policy(_policy(self.name))
        self.versions = 0

    def approved(self) -> dict[str, Any]:
        """A new version the gate approves; its Approved event is kept back: what the operations deliver."""
        self.versions += 1
        with one_at_a_time(self.sb), holding(self.sb, package_event("Approved")) as held:
            register(self.sb, group=self.name, artifact=f"s3://models/{self.name}/v{self.versions}.tar.gz")
        (event,) = held
        return event

    def deployed(self) -> None:
        """A new version approved and deployed (its endpoint InService on it)."""
        event = self.approved()
        with one_at_a_time(self.sb):
            self.sb.emit(event)
            self.sb.drain()

    def settle(self) -> None:
        with one_at_a_time(self.sb):
            self.sb.drain()

    def deployments(self) -> list[Any]:
        from steward.promotion.adapters.store import DeploymentStore

        store = DeploymentStore(self.sb.output("LineageTableName"))
        return sorted(store.for_endpoint(self.endpoint_arn.lower()), key=lambda d: d.created_at)

    def holder(self) -> Any:
        from steward.promotion.adapters.store import DeploymentStore

        return DeploymentStore(self.sb.output("LineageTableName")).holder(self.endpoint_arn.lower())

    def serving(self) -> tuple[str, str]:
        d = self.sb.client("sagemaker").describe_endpoint(EndpointName=self.endpoint)
        return d["EndpointStatus"], d["EndpointConfigName"]

    def told(self, version: int, word: str) -> int:
        """How many emails said the deployment of `version` `word` (started, succeeded, ...)."""
        return len(emails(f"of {self.name} v{version} to {self.endpoint} {word}"))

    def recorded(self, deployment: Any, status: str) -> int:
        """How many times the deployment's lineage node recorded `status` (once each)."""
        history = self.sb.lineage_store().history(deployment.node_id)
        return sum(1 for h in history if h["status"] == status)

    def check_settled(self) -> None:
        """What every run ends in: nothing left in flight, the endpoint free and serving what the
        deployment that succeeded last deployed, each deployment's ending recorded and told once."""
        done = self.deployments()
        assert all(d.status not in ("queued", "started") for d in done), [(d.version, d.status) for d in done]
        assert self.holder() is None, self.holder()
        succeeded = [d for d in done if d.status == "succeeded"]
        assert succeeded, [(d.version, d.status, d.failure_reason) for d in done]
        last = max(succeeded, key=lambda d: d.ended_at)
        assert self.serving() == ("InService", last.config_name), (self.serving(), last.config_name)
        for d in done:
            assert (
                self.recorded(d, {"succeeded": "Succeeded", "refused": "Refused"}.get(d.status, "?")) == 1
            ), (
                d.version,
                d.status,
                self.sb.lineage_store().history(d.node_id),
            )


def _promote(sb: Sandbox, event: dict[str, Any]) -> dict[str, Any]:
    outcome = sb.invoke("promote_model", event)
    assert outcome["ok"], outcome  # inside the operation: a failed invocation would be retried by Lambda
    return outcome


def _ok(outcome: Outcome) -> None:
    assert outcome.errors == [None] * len(outcome.errors), outcome.errors


def test_two_versions_approved_at_once_end_with_the_newer_serving_and_none_lost(sb):
    def race() -> Race:
        group = Group(sb)
        first, second = group.approved(), group.approved()
        return Race([lambda: _promote(sb, first), lambda: _promote(sb, second)], group)

    def invariant(group: Group, outcome: Outcome) -> None:
        _ok(outcome)
        group.settle()
        done = group.deployments()
        # One deployment per version, none lost: the newer serves; the older either served first and
        # was replaced, or came second and was refused (it would downgrade the endpoint)
        assert sorted(d.version for d in done) == [1, 2], [(d.version, d.status) for d in done]
        v1, v2 = sorted(done, key=lambda d: d.version)
        assert v2.status == "succeeded", (v2.status, v2.failure_reason)
        assert v1.status == "succeeded" or (v1.status == "refused" and "older" in str(v1.failure_reason)), (
            v1.status,
            v1.failure_reason,
        )
        assert group.serving()[1].startswith(f"{group.name}-v2-")
        group.check_settled()
        assert (group.told(2, "started"), group.told(2, "succeeded")) == (1, 1)

    check("two versions approved at once", race, invariant, **HALF)


def _held_in_service(group: Group) -> dict[str, Any]:
    """A deployment whose endpoint is InService while its IN_SERVICE event is still on its way, and the
    next version queued behind it (approved while the endpoint was being created)."""
    group.sb.endpoint_outcome(group.endpoint, "hold")
    group.deployed()
    queued = group.approved()
    with one_at_a_time(group.sb):
        group.sb.emit(queued)
        group.sb.drain()
    endpoint_events = lambda e: e.get("detail-type") == "SageMaker Endpoint State Change"  # noqa: E731
    with one_at_a_time(group.sb), holding(group.sb, endpoint_events) as held:
        group.sb.complete_endpoint(group.endpoint, "succeed")
    (in_service,) = held
    return in_service


def _sweep_event(sb: Sandbox) -> dict[str, Any]:
    rule = next(r for r in sb.inventory.rules if r.schedule and "romot" in r.name)
    return sb._envelope(
        {
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "detail": {},
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule.name}"],
        }
    )


def test_the_endpoint_event_and_the_sweep_end_a_deployment_once_and_start_the_queued_one_once(sb):
    def race() -> Race:
        group = Group(sb)
        in_service = _held_in_service(group)
        sweep = _sweep_event(sb)
        return Race([lambda: _promote(sb, in_service), lambda: _promote(sb, sweep)], group)

    def invariant(group: Group, outcome: Outcome) -> None:
        _ok(outcome)
        first, queued = group.deployments()
        assert first.status == "succeeded", (first.status, first.failure_reason)
        assert queued.status in ("queued", "started"), queued.status  # not failed by the other's start
        group.settle()
        group.check_settled()
        first, queued = group.deployments()
        assert (first.version, queued.version, queued.status) == (1, 2, "succeeded"), queued.failure_reason
        assert group.serving()[1].startswith(f"{group.name}-v2-")
        assert group.told(1, "succeeded") == 1
        assert (group.told(2, "started"), group.told(2, "succeeded")) == (1, 1)

    check("the endpoint's event and the promotion sweep", race, invariant, **HALF)


def _rollback_command(group: Group, to_version: int) -> dict[str, Any]:
    from steward.promotion.models import RollbackCommand

    command = RollbackCommand(
        request_id=uuid.uuid4().hex,
        endpoint_arn=group.endpoint_arn,
        to_version=to_version,
        requested_by="arn:aws:iam::123456789012:user/operator",
        reason="explorer",
        at=datetime.now(UTC),
    )
    queue = group.sb.output("PromotionQueueUrl") if "PromotionQueueUrl" in group.sb.inventory.outputs else ""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue.rsplit('/', 1)[-1] or 'promotion'}"
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": command.model_dump_json(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
        ]
    }


def test_a_rollback_racing_a_promotion_in_flight_ends_with_both_recorded_and_one_serving(sb):
    def race() -> Race:
        group = Group(sb)
        group.deployed()  # v1 serves
        second = group.approved()
        rollback = _rollback_command(group, to_version=1)
        return Race([lambda: _promote(sb, second), lambda: _promote(sb, rollback)], group)

    def invariant(group: Group, outcome: Outcome) -> None:
        _ok(outcome)
        for answer in outcome.results:  # the command's batch reported no failed item
            assert not (answer["result"] or {}).get("batchItemFailures"), answer
        group.settle()
        done = group.deployments()
        kinds = sorted((d.kind, d.version) for d in done)
        assert kinds == [("promotion", 1), ("promotion", 2), ("rollback", 1)], [
            (d.kind, d.version, d.status, d.failure_reason) for d in done
        ]
        group.check_settled()

    check("a rollback and a promotion in flight", race, invariant, **HALF)


def test_the_same_approved_event_delivered_twice_at_once_deploys_once(sb):
    def race() -> Race:
        group = Group(sb)
        event = group.approved()
        group.calls = sb.aws_calls["sagemaker.CreateEndpoint"]  # type: ignore[attr-defined]
        return Race([lambda: _promote(sb, event), lambda: _promote(sb, json.loads(json.dumps(event)))], group)

    def invariant(group: Group, outcome: Outcome) -> None:
        _ok(outcome)
        # SageMaker made one endpoint: the other delivery either saw this one's start and called nothing,
        # or its CreateEndpoint was refused (the endpoint exists) and it recognised its own deployment
        assert sb.aws_calls["sagemaker.CreateEndpoint"] - group.calls in (1, 2)  # type: ignore[attr-defined]
        answers = sorted(str(o["result"].get("outcome")) for o in outcome.results)
        if not any(outcome.crashed):
            assert answers == ["duplicate", "started"], answers
        group.settle()
        (deployment,) = group.deployments()
        assert deployment.status == "succeeded", (deployment.status, deployment.failure_reason)
        group.check_settled()
        assert (group.told(1, "started"), group.told(1, "succeeded")) == (1, 1)

    check("the same Approved event twice at once", race, invariant, **HALF)


def test_a_rollback_asked_for_as_the_deployment_in_flight_ends_runs_after_it(sb):
    def race() -> Race:
        group = Group(sb)
        group.deployed()  # v1 serves
        in_service = _held_in_service_of_the_next(group)  # v2 updating; its IN_SERVICE event on its way
        rollback = _rollback_command(group, to_version=1)
        return Race([lambda: _promote(sb, in_service), lambda: _promote(sb, rollback)], group)

    def invariant(group: Group, outcome: Outcome) -> None:
        _ok(outcome)
        group.settle()  # what the operations set off, without the sweep: nothing may wait for it
        done = group.deployments()
        assert sorted((d.kind, d.version, d.status) for d in done) == [
            ("promotion", 1, "succeeded"),
            ("promotion", 2, "succeeded"),
            ("rollback", 1, "succeeded"),
        ], [(d.kind, d.version, d.status, d.failure_reason) for d in done]
        group.check_settled()
        assert group.serving()[1].startswith(f"{group.name}-v1-")  # the rollback ended last

    check("a rollback and the end of the deployment in flight", race, invariant, **HALF)


def _held_in_service_of_the_next(group: Group) -> dict[str, Any]:
    """The next version's update under way, its endpoint InService on it, its IN_SERVICE event held."""
    group.sb.endpoint_outcome(group.endpoint, "hold")
    group.deployed()
    endpoint_events = lambda e: e.get("detail-type") == "SageMaker Endpoint State Change"  # noqa: E731
    with one_at_a_time(group.sb), holding(group.sb, endpoint_events) as held:
        group.sb.complete_endpoint(group.endpoint, "succeed")
    (in_service,) = held
    return in_service
