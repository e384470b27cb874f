"""What the interleaving explorer found in promotion (tests/reliability/test_interleavings_promotion.py),
as deterministic tests: the same Approved event delivered twice at once starts the deployment once (the
second delivery, refused by SageMaker as the endpoint exists, must neither fail the deployment nor free
the endpoint the first one holds), so is a queued version the endpoint's event and the sweep start at
once (UpdateEndpoint refused: the update is under way), and an older version's refusal delivered again
is recorded once."""

from __future__ import annotations

import copy

from sandbox import Sandbox
from tests.integration.test_promotion import approve, deployments, ours, policy, register
from tests.reliability.explorer import holding, package_event


def test_the_same_approved_event_delivered_twice_at_once_starts_the_deployment_once():
    from steward.promotion.adapters.store import DeploymentStore

    with Sandbox(policy=policy()) as sb:
        with holding(sb, package_event("Approved")) as held:
            approve(sb, register(sb))
        approved = held[0]  # ModelApprovalStatus changed (a metadata-only update may follow)
        acquire, inside = DeploymentStore.acquire, []

        def acquire_then_the_duplicate_runs(self, *args):
            taken = acquire(self, *args)
            if not inside:  # the first delivery holds the endpoint; the second runs whole before it goes on
                inside.append(None)
                inside[0] = sb.invoke("promote_model", copy.deepcopy(approved))
            return taken

        DeploymentStore.acquire = acquire_then_the_duplicate_runs
        try:
            creates = sb.aws_calls["sagemaker.CreateEndpoint"]
            first = sb.invoke("promote_model", approved)
        finally:
            DeploymentStore.acquire = acquire
        # Then both deliveries succeed, one started the deployment; the other's CreateEndpoint was refused
        # (the endpoint exists) and it recognised its own deployment instead of failing it
        (second,) = inside
        assert first["ok"] and second["ok"], (first, second)
        assert sorted([first["result"]["outcome"], second["result"]["outcome"]]) == ["duplicate", "started"]
        assert sb.aws_calls["sagemaker.CreateEndpoint"] - creates == 2
        (deployment,) = _store(sb).for_endpoint(_arn("fraud-staging"))
        assert deployment.status == "started"
        described = sb.client("sagemaker").describe_endpoint(EndpointName="fraud-staging")
        assert described["EndpointConfigName"] == deployment.config_name
        # and the endpoint stays held by its deployment until it ends
        holder = _store(sb).holder(_arn("fraud-staging"))
        assert holder is not None and holder[0] == deployment.id, holder
        sb.drain()
        assert [d["status"] for d in ours(deployments(sb, "fraud-staging"))] == ["succeeded"]


def test_an_older_versions_refusal_delivered_again_is_recorded_once():
    with Sandbox(policy=policy()) as sb:
        with holding(sb, package_event("Approved")) as held:
            approve(sb, register(sb))
        old = held[0]
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))  # deployed: v2 serves
        sb.put_events([old])  # v1's Approved event, late: refused (it would downgrade)
        sb.put_events([dict(old, id="redelivered-later")])  # and delivered again
        (refused,) = [d for d in _store(sb).for_endpoint(_arn("fraud-staging")) if d.version == 1]
        assert refused.status == "refused" and "older" in str(refused.failure_reason)
        history = sb.lineage_store().history(refused.node_id)
        assert [h["status"] for h in history] == ["Refused"], history


def _sweep(sb: Sandbox) -> dict:
    """The promotion sweep's scheduled event, as its rule delivers it."""
    rule = next(r for r in sb.inventory.rules if r.schedule and "promotion-sweep" in r.name)
    return sb._envelope(
        {
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "detail": {},
            "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule.name}"],
        }
    )


def _store(sb: Sandbox):
    from steward.promotion.adapters.store import DeploymentStore

    return DeploymentStore(sb.output("LineageTableName"))


def _arn(endpoint: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}"


def test_a_queued_version_started_by_the_endpoint_event_and_the_sweep_at_once_is_started_once():
    from steward.promotion.adapters.store import DeploymentStore

    with Sandbox(policy=policy()) as sb:
        # Given v1 creating its endpoint, v2 approved meanwhile (queued), and v1's endpoint now InService
        # with its IN_SERVICE event still on its way
        sb.endpoint_outcome("fraud-staging", "hold")
        approve(sb, register(sb))
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
        ending = lambda e: e.get("detail-type") == "SageMaker Endpoint State Change"  # noqa: E731
        with holding(sb, ending) as held:
            sb.complete_endpoint("fraud-staging", "succeed")
        (in_service,) = held
        v2 = next(d for d in _store(sb).for_endpoint(_arn("fraud-staging")) if d.version == 2)
        assert v2.status == "queued"
        acquire, inside = DeploymentStore.acquire, []

        def acquire_then_the_sweep_runs(self, endpoint_arn, deployment_id, *args):
            taken = acquire(self, endpoint_arn, deployment_id, *args)
            if deployment_id == v2.id and not inside:  # the event's invocation starts v2: the sweep too
                inside.append(None)
                inside[0] = sb.invoke("promote_model", _sweep(sb))
            return taken

        DeploymentStore.acquire = acquire_then_the_sweep_runs
        try:
            updates = sb.aws_calls["sagemaker.UpdateEndpoint"]
            event = sb.invoke("promote_model", in_service)
        finally:
            DeploymentStore.acquire = acquire
        # Then v2 was started once (the second UpdateEndpoint was refused: the update was under way) and
        # still holds the endpoint, so its own events end it
        assert event["ok"] and inside[0]["ok"], (event, inside)
        assert sb.aws_calls["sagemaker.UpdateEndpoint"] - updates == 2
        started = next(d for d in _store(sb).for_endpoint(_arn("fraud-staging")) if d.version == 2)
        assert started.status == "started"
        holder = _store(sb).holder(_arn("fraud-staging"))
        assert holder is not None and holder[0] == v2.id, holder  # not freed by the refused update
        sb.drain()
        assert [d["status"] for d in ours(deployments(sb, "fraud-staging"))] == ["succeeded", "succeeded"]
