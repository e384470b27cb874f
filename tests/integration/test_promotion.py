"""Promotion on the sandbox: approved versions through their stages with the emulated endpoint lifecycle,
tracked to their end, queued behind updates, refused when they should be, rolled back on command."""

from __future__ import annotations

import contextlib
import json
import random
import urllib.request

import pytest

from sandbox import Sandbox
from steward.policy import Stage
from steward.promotion import plan

APPROVERS = [{"email": "alice@example.com"}, {"email": "bob@example.com"}]
ROLE = "arn:aws:iam::123456789012:role/steward-sandbox-sagemaker-execution"


def policy(**promotion):
    doc = {
        "default": {
            "notifications": {
                "info": {"email": ["ops@example.com"]},
                "warning": {"email": ["ops@example.com"]},
                "critical": {"email": ["oncall@example.com"]},
            },
            "approval": {"approvers": APPROVERS, "quorum": 1, "gate": {"thresholds": {"auc": {"min": 0.5}}}},
            "stages": [
                {
                    "name": "staging",
                    "endpoint": "fraud-staging",
                    "strategy": "all-at-once",
                    "bake_seconds": 0,
                },
                {
                    "name": "prod",
                    "endpoint": "fraud-prod",
                    "strategy": "canary",
                    "canary_percent": 25,
                    "rollback_alarms": ["fraud-prod-5xx"],
                },
            ],
        }
    }
    if promotion:
        doc["default"]["promotion"] = promotion
    return doc


def register(sb, group="fraud", artifact="s3://models/fraud/model.tar.gz"):
    sm = sb.client("sagemaker")
    with contextlib.suppress(sm.exceptions.ClientError):
        sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:1", "ModelDataUrl": artifact}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"auc": "0.9"},
    )["ModelPackageArn"]
    sb.drain()  # SageMaker's registration event reaches the gate
    return arn


def http(sb, method, path, body=None):
    request = urllib.request.Request(
        f"{sb.api_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def approve(sb, package_arn, who="alice@example.com"):
    from steward.approvals.models import ApprovalRequest

    status, body = http(
        sb,
        "POST",
        f"/approval-requests/{ApprovalRequest.id_for(package_arn)}/decisions",
        {"decision": "approve", "as": who, "comment": "ship it"},
    )
    assert status == 200, body
    return body


def serving(sb, endpoint):
    d = sb.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return d["EndpointStatus"], d["EndpointConfigName"]


def deployments(sb, endpoint):
    status, body = http(sb, "GET", f"/endpoints/{endpoint}/deployments")
    assert status == 200, body
    return body


def ours(body):
    """Steward's deployments of the endpoint, oldest first."""
    mine = [e["steward"] for e in body["items"] if e.get("steward")] + body["requests"]
    return sorted(mine, key=lambda d: d["createdAt"])


def subjects(sb):
    return [m["subject"] for m in sb.outbox]


@pytest.fixture
def sb():
    with Sandbox(policy=policy()) as sandbox:
        yield sandbox


# --- planning (pure) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "routing"),
    [
        ("all-at-once", {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 120}),
        (
            "canary",
            {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 120,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
        ),
        (
            "linear",
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 120,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            },
        ),
    ],
)
def test_deployment_config_per_strategy(strategy, routing):
    stage = Stage(
        name="prod",
        endpoint="x-prod",
        strategy=strategy,
        bake_seconds=120,
        linear_step_percent=25,
        rollback_alarms=["x-5xx", "x-latency"],
    )
    config = plan.deployment_config(stage)
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    assert config["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 120
    assert config["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "x-5xx"}, {"AlarmName": "x-latency"}]
    }
    assert plan.warnings_for(stage) == []


def test_auto_rollback_without_alarms_is_a_warning_and_can_be_turned_off():
    stage = Stage(name="prod", endpoint="x-prod")
    assert "AutoRollbackConfiguration" not in plan.deployment_config(stage)
    assert "rollback_alarms" in plan.warnings_for(stage)[0]
    assert plan.warnings_for(Stage(name="prod", endpoint="x-prod", auto_rollback=False)) == []


def test_resource_names_fit_sagemaker_limits():
    name = plan.resource_name("a" * 80 + "_group", 123, "abcdef")
    assert len(name) <= 63 and name.endswith("-v123-abcdef")
    assert plan.resource_name("churn-models", 4, "0a1b2c") == "churn-models-v4-0a1b2c"


# --- the whole path ---------------------------------------------------------------------------------


def test_approved_version_goes_to_staging_then_prod(sb):
    arn = register(sb)
    approve(sb, arn)
    sm = sb.client("sagemaker")
    for endpoint in ("fraud-staging", "fraud-prod"):
        status, config = serving(sb, endpoint)
        assert status == "InService" and config.startswith("fraud-v1-")
        model = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
        described = sm.describe_model(ModelName=model)
        assert described["PrimaryContainer"]["ModelPackageName"] == arn  # exactly that version
        assert described["ExecutionRoleArn"] == ROLE
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=described["ModelArn"])["Tags"]}
        assert tags["steward:model-package"] == arn and tags["steward:approval-request"] != "none"
    prod = ours(deployments(sb, "fraud-prod"))
    assert [(d["stage"], d["status"], d["approvedBy"]) for d in prod] == [
        ("prod", "succeeded", ["alice@example.com"])
    ]
    assert prod[0]["strategy"] is None  # a new endpoint is created, not updated
    assert "Deployment of fraud v1 to fraud-staging succeeded" in " ".join(subjects(sb))
    assert "Deployment of fraud v1 to fraud-prod succeeded" in " ".join(subjects(sb))
    # the lineage of the version shows its deployments, linked to the endpoints
    graph = sb.lineage(arn.lower(), "downstream", 3)
    kinds = {(n["kind"], n.get("status")) for n in graph["nodes"]}
    assert ("deployment", "Succeeded") in kinds and ("endpoint", "InService") in kinds


def test_second_version_updates_with_the_stage_strategy(sb):
    approve(sb, register(sb))
    v2 = register(sb, artifact="s3://models/fraud/v2.tar.gz")
    approve(sb, v2)
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v2-")
    latest = ours(deployments(sb, "fraud-prod"))[-1]
    assert latest["version"] == 2 and latest["previousVersion"] == 1
    assert latest["strategy"] == "canary" and latest["status"] == "succeeded"
    assert latest["previousEndpointConfigName"].startswith("fraud-v1-")


def test_a_failed_deployment_is_reported_and_stops_the_stages(sb):
    sb.endpoint_outcome("fraud-staging", "fail")
    approve(sb, register(sb))
    assert serving(sb, "fraud-staging")[0] == "Failed"
    with pytest.raises(sb.client("sagemaker").exceptions.ClientError):
        serving(sb, "fraud-prod")  # never started
    (staging,) = ours(deployments(sb, "fraud-staging"))
    assert staging["status"] == "failed" and "ping health check" in staging["failureReason"]
    failed = [m for m in sb.outbox if "fraud-staging failed" in str(m["subject"])]
    assert failed and failed[0]["to"] == "oncall@example.com"  # critical route


@pytest.mark.parametrize("outcome", ["rollback", "silent-rollback"])
def test_rollback_is_detected_even_when_nothing_says_so(sb, outcome):
    approve(sb, register(sb))
    sb.endpoint_outcome("fraud-staging", outcome)
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    status, config = serving(sb, "fraud-staging")
    assert status == "InService" and config.startswith("fraud-v1-")
    latest = ours(deployments(sb, "fraud-staging"))[-1]
    assert latest["version"] == 2 and latest["status"] == "rolled-back"
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v1-")  # v2 never reached prod
    assert any("fraud-staging rolled back" in str(s) for s in subjects(sb))


def test_a_deployment_asked_for_while_the_endpoint_updates_is_queued(sb):
    approve(sb, register(sb))
    sb.endpoint_outcome("fraud-staging", "hold")
    v2 = register(sb, artifact="s3://models/fraud/v2.tar.gz")
    approve(sb, v2)
    assert serving(sb, "fraud-staging")[0] == "Updating"
    v3 = register(sb, artifact="s3://models/fraud/v3.tar.gz")
    approve(sb, v3)  # the endpoint is busy: v3 waits
    body = deployments(sb, "fraud-staging")
    assert [(r["version"], r["status"]) for r in body["requests"]] == [(3, "queued")]
    sb.complete_endpoint("fraud-staging", "succeed")
    # v2 finished on staging and went on to prod; v3 then started on staging, and followed to prod
    staging = {d["version"]: d["status"] for d in ours(deployments(sb, "fraud-staging"))}
    assert staging == {1: "succeeded", 2: "succeeded", 3: "succeeded"}
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v3-")


def test_an_older_version_approved_late_does_not_downgrade(sb):
    v1 = register(sb)
    v2 = register(sb, artifact="s3://models/fraud/v2.tar.gz")
    approve(sb, v2)
    approve(sb, v1)
    assert serving(sb, "fraud-staging")[1].startswith("fraud-v2-")
    refused = [d for d in ours(deployments(sb, "fraud-staging")) if d["version"] == 1]
    assert refused[0]["status"] == "refused" and "older than version 2" in refused[0]["failureReason"]


def test_duplicate_and_replayed_events_start_nothing_twice(sb):
    arn = register(sb)
    approve(sb, arn)
    sm = sb.client("sagemaker")
    configs = sm.list_endpoint_configs()["EndpointConfigs"]
    # SageMaker re-announces the approved package (with and without the changed fields), twice
    package = sm.describe_model_package(ModelPackageName=arn)
    detail = json.loads(json.dumps(package, default=str))
    event = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": detail,
    }
    sb.put_events(
        [event, event, {**event, "detail": {**detail, "UpdatedModelPackageFields": ["ModelApprovalStatus"]}}]
    )
    sb.put_events(
        [{**event, "detail": {**detail, "UpdatedModelPackageFields": ["CustomerMetadataProperties"]}}]
    )
    assert sm.list_endpoint_configs()["EndpointConfigs"] == configs
    assert len(ours(deployments(sb, "fraud-prod"))) == 1
    started = [s for s in subjects(sb) if "started" in str(s)]
    assert len(started) == 2  # staging and prod, once each


def test_endpoint_events_in_any_order_and_repeated_end_in_the_same_record():
    with Sandbox(policy=policy()) as sb:
        sb.endpoint_outcome("fraud-staging", "hold")
        approve(sb, register(sb))
        captured = []
        original = sb.emit

        def capture(event):
            captured.append(event)
            original(event)

        sb.emit = capture
        sb._sagemaker.endpoints.emit = capture
        sb.complete_endpoint("fraud-staging", "succeed")
        first = ours(deployments(sb, "fraud-staging"))
        lifecycle = [e for e in captured if e["detail-type"].startswith("SageMaker Endpoint")]
        assert lifecycle
        shuffled = lifecycle * 3
        random.Random(7).shuffle(shuffled)
        sb.put_events(shuffled)  # late, repeated and shuffled copies change nothing
        assert [(d["stage"], d["status"]) for d in ours(deployments(sb, "fraud-staging"))] == [
            (d["stage"], d["status"]) for d in first
        ]


def test_rollback_command_redeploys_the_previous_version(sb):
    approve(sb, register(sb))
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v2-")
    status, asked = http(sb, "POST", "/endpoints/fraud-prod/rollback", {"reason": "v2 scores drift"})
    assert status == 202 and asked["status"] == "queued"
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v1-")
    assert serving(sb, "fraud-staging")[1].startswith("fraud-v2-")  # a rollback is for that endpoint only
    rollback = ours(deployments(sb, "fraud-prod"))[-1]
    assert rollback["kind"] == "rollback" and rollback["status"] == "succeeded"
    assert rollback["version"] == 1 and rollback["previousVersion"] == 2
    assert rollback["reason"] == "v2 scores drift" and rollback["rollbackRequest"] == asked["request_id"]
    assert any("Rollback of fraud v1 to fraud-prod succeeded" in str(s) for s in subjects(sb))
    # a named version, and one that does not exist
    status, _ = http(sb, "POST", "/endpoints/fraud-prod/rollback", {"reason": "back again", "toVersion": 2})
    assert status == 202 and serving(sb, "fraud-prod")[1].startswith("fraud-v2-")
    status, asked = http(sb, "POST", "/endpoints/fraud-prod/rollback", {"reason": "typo", "toVersion": 9})
    refused = [
        r for r in deployments(sb, "fraud-prod")["requests"] if r["rollbackRequest"] == asked["request_id"]
    ]
    assert refused[0]["status"] == "refused"
    assert not sb.dlq_messages("promote_model")  # refused, recorded, not retried into the DLQ


def test_rollback_requests_are_validated(sb):
    status, body = http(sb, "POST", "/endpoints/fraud-prod/rollback", {"toVersion": 1})
    assert status == 400 and "reason" in body["message"]
    status, body = http(sb, "POST", "/endpoints/not_a_name!/rollback", {"reason": "x" * 5})
    assert status == 400


def test_rollback_cli(sb, capsys):
    from steward_cli import main

    approve(sb, register(sb))
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    code = main(["rollback", "fraud-prod", "--reason", "latency regression", "--api-url", sb.api_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "rollback of fraud-prod to v1 (from v2): succeeded" in out
    assert main(["deployments", "fraud-prod", "--api-url", sb.api_url]) == 0
    assert "rollback" in capsys.readouterr().out


def test_a_package_approved_outside_steward_is_refused_by_default(sb):
    arn = register(sb)
    sm = sb.client("sagemaker")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")  # console, no record
    sb.drain()
    # the gate's own request was pending, so its record is not an approval
    (refused,) = ours(deployments_or_empty(sb, "fraud-staging"))
    assert refused["status"] == "refused" and "pending" in refused["failureReason"]
    assert any("refused" in str(s) for s in subjects(sb))


def deployments_or_empty(sb, endpoint):
    """An endpoint Steward only ever refused to deploy to never existed, yet its deployments are
    Steward's own: listed under `requests`, a 200 (not a 404 "no endpoint in the lineage store")."""
    status, body = http(sb, "GET", f"/endpoints/{endpoint}/deployments")
    assert status == 200, body
    return body


def test_a_package_approved_outside_steward_deploys_with_a_warning_when_the_policy_says_so():
    doc = policy(unapproved="deploy-with-warning")
    del doc["default"]["approval"]  # no gate at all: packages are approved in the console
    with Sandbox(policy=doc) as sb:
        arn = register(sb)
        sb.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        sb.drain()
        assert serving(sb, "fraud-prod")[1].startswith("fraud-v1-")
        prod = ours(deployments(sb, "fraud-prod"))[0]
        assert prod["status"] == "succeeded" and "without a valid approval" in prod["warnings"][0]


def test_the_artifact_must_be_the_one_approved(sb):
    from steward.approvals.adapters.store import ApprovalStore
    from steward.approvals.models import ApprovalRequest

    arn = register(sb)
    store = ApprovalStore(sb.output("LineageTableName"), sb.output("IdempotencyTableName"))
    request = store.get(ApprovalRequest.id_for(arn))
    store.save(request.model_copy(update={"artifact_uri": "s3://models/fraud/other.tar.gz"}))
    approve(sb, arn)
    (refused,) = ours(deployments_or_empty(sb, "fraud-staging"))
    assert refused["status"] == "refused" and "artifact changed" in refused["failureReason"]


def test_a_stage_needing_its_own_approval_asks_again_and_deploys_when_approved():
    from steward.approvals.models import ApprovalRequest

    doc = policy()
    doc["default"]["stages"][1]["requires_approval"] = True
    with Sandbox(policy=doc) as sb:
        arn = register(sb)
        approve(sb, arn)
        assert serving(sb, "fraud-staging")[1].startswith("fraud-v1-")
        with pytest.raises(sb.client("sagemaker").exceptions.ClientError):
            serving(sb, "fraud-prod")  # waits for its own approval
        asked = [m for m in sb.outbox if m["subject"].endswith("Approval requested: fraud version 1 to prod")]
        assert {m["to"] for m in asked} == {"alice@example.com", "bob@example.com"}
        stage_request = ApprovalRequest.id_for(arn, "prod")
        status, body = http(
            sb,
            "POST",
            f"/approval-requests/{stage_request}/decisions",
            {"decision": "approve", "as": "bob@example.com", "comment": "prod go"},
        )
        assert status == 200 and body["status"] == "approved"
        assert serving(sb, "fraud-prod")[1].startswith("fraud-v1-")
        (prod,) = ours(deployments(sb, "fraud-prod"))
        assert prod["approvalRequest"] == stage_request and prod["approvedBy"] == ["bob@example.com"]
        # the version's registry status was not touched by the stage decision
        described = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert "alice@example.com" in described["ApprovalDescription"]


@pytest.mark.parametrize("hold", [False, True])
def test_a_retry_after_sagemaker_accepted_the_update_resumes_instead_of_calling_again(sb, monkeypatch, hold):
    """The update was accepted but what followed failed (throttled save): Lambda's retry must not call
    UpdateEndpoint again nor mistake the endpoint's own progress for someone else's."""
    from steward.kernel.errors import DependencyError
    from steward.promotion.adapters.store import DeploymentStore

    approve(sb, register(sb))
    original = DeploymentStore.save
    failed = []

    def flaky(self, deployment):
        if deployment.status == "started" and deployment.version == 2 and not failed:
            failed.append(deployment.id)
            raise DependencyError("DynamoDB PutItem: ThrottlingException")
        return original(self, deployment)

    monkeypatch.setattr(DeploymentStore, "save", flaky)
    if hold:
        sb.endpoint_outcome("fraud-staging", "hold")
    calls = sb.aws_calls["sagemaker.UpdateEndpoint"]
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    if hold:
        sb.complete_endpoint("fraud-staging", "succeed")
    assert failed  # the first attempt failed after UpdateEndpoint
    assert sb.aws_calls["sagemaker.UpdateEndpoint"] - calls == 2  # staging once, prod once: no second call
    staging = [d for d in ours(deployments(sb, "fraud-staging")) if d["version"] == 2]
    assert [d["status"] for d in staging] == ["succeeded"]
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v2-")


def test_the_schedule_ends_a_deployment_whose_last_event_was_lost(sb):
    """EventBridge is best effort: the IN_SERVICE event never arrives; the reconciler asks SageMaker."""
    approve(sb, register(sb))
    sb.endpoint_outcome("fraud-staging", "hold")
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    lost = []
    original = sb.emit

    def drop_endpoint_events(event):
        if event.get("detail-type", "").startswith("SageMaker Endpoint"):
            lost.append(event)
            return
        original(event)

    sb.emit = drop_endpoint_events
    sb.complete_endpoint("fraud-staging", "succeed")
    sb.emit = original
    assert lost and [d["status"] for d in ours(deployments(sb, "fraud-staging"))] == ["succeeded", "started"]
    report = sb.run_schedules("promotion-sweep")[0]["targets"][0]["result"]
    assert len(report["ended"]) == 1
    assert [d["status"] for d in ours(deployments(sb, "fraud-staging"))] == ["succeeded", "succeeded"]
    assert serving(sb, "fraud-prod")[1].startswith("fraud-v2-")  # and the next stage went on
    again = sb.run_schedules("promotion-sweep")[0]["targets"][0]["result"]
    assert again["ended"] == [] and again["started"] == []


def test_with_a_target_account_role_promotion_deploys_with_that_roles_credentials():
    role = "arn:aws:iam::123456789012:role/steward-workload-deployer"
    with Sandbox(policy=policy(), parameters={"TargetAccountRoleArn": role}) as sb:
        approve(sb, register(sb))
        assert serving(sb, "fraud-prod")[1].startswith("fraud-v1-")
        assert sb.aws_calls["sts.AssumeRole"] == 1  # assumed once, reused for every SageMaker call
