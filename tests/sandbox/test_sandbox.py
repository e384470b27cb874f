"""The sandbox's public API: resources from the template, routing, retries and DLQ, HTTP."""

from __future__ import annotations

import copy
import json
import urllib.request

import pytest

from sandbox import Sandbox
from tests.conftest import load


@pytest.fixture
def sb():
    with Sandbox() as sandbox:
        yield sandbox


def test_tables_and_queues_come_from_the_template(sb):
    tables = sb.client("dynamodb").list_tables()["TableNames"]
    assert {"steward-local-lineage", "steward-local-idempotency"} <= set(tables)
    ttl = sb.client("dynamodb").describe_time_to_live(TableName="steward-local-idempotency")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"
    indexes = {
        i["IndexName"]
        for i in sb.client("dynamodb").describe_table(TableName="steward-local-lineage")["Table"][
            "GlobalSecondaryIndexes"
        ]
    }
    assert indexes == {"gsi1", "gsi2"}
    queues = sb.client("sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("steward-local-async-events-dlq") for q in queues)


def test_functions_get_their_template_environment(sb):
    assert "record_lineage" in sb.function_names()
    outcome = sb.invoke(
        "api",
        {
            "resource": "/health",
            "path": "/health",
            "httpMethod": "GET",
            "headers": {},
            "requestContext": {"stage": "local", "requestId": "r1"},
        },
    )
    assert outcome["ok"]
    assert json.loads(outcome["result"]["body"])["stage"] == "local"


def test_put_events_reports_one_result_per_event_and_target(sb):
    results = sb.put_events(
        [load("training_job/in_progress_starting.json"), load("cloudwatch_alarm/drift_alarm.json")]
    )
    assert [r["event_id"] for r in results] == [
        load("training_job/in_progress_starting.json")["id"],
        load("cloudwatch_alarm/drift_alarm.json")["id"],
    ]
    assert [t["function"] for t in results[0]["targets"]] == ["record_lineage"]
    assert results[0]["targets"][0]["ok"] is True
    assert [(t["function"], t["ok"]) for t in results[1]["targets"]] == [("react_to_monitoring", True)]


def test_envelope_fields_are_filled_like_put_events():
    with Sandbox(serve_api=False) as sandbox:
        raw = copy.deepcopy(load("training_job/completed.json"))
        for key in ("id", "time", "account", "region", "version"):
            raw.pop(key)
        result = sandbox.put_events([raw])[0]
        assert result["event_id"]
        assert result["targets"][0]["ok"]


def test_a_failing_handler_is_retried_then_dead_lettered():
    with Sandbox(serve_api=False) as sandbox:
        raw = copy.deepcopy(load("endpoint/updating.json"))
        raw["detail"]["EndpointStatus"] = {"not": "a status"}
        target = sandbox.put_events([raw])[0]["targets"][0]
        assert (target["ok"], target["attempts"]) == (False, 3)
        assert target["dead_letter"].endswith("steward-local-async-events-dlq")
        dead = sandbox.dlq_messages("record_lineage")
        assert dead[0]["body"]["requestContext"]["condition"] == "RetriesExhausted"
        assert dead[0]["body"]["responsePayload"]["errorType"] == "InvalidEventError"


def test_health_route_over_real_http(sb):
    with urllib.request.urlopen(f"{sb.api_url}/health", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
    assert sb.api_url.startswith("http://127.0.0.1:")


def test_aws_calls_are_counted(sb):
    sb.aws_calls.clear()
    sb.client("sqs").list_queues()
    assert sb.aws_calls["sqs.ListQueues"] == 1


def test_embedded_aws_can_be_served_on_loopback():
    import boto3

    with Sandbox(serve_api=False, serve_aws=True) as sandbox:
        assert sandbox.aws_endpoint_url.startswith("http://127.0.0.1:")
        remote = boto3.client("dynamodb", endpoint_url=sandbox.aws_endpoint_url, region_name="us-east-1")
        assert "steward-local-lineage" in remote.list_tables()["TableNames"]


def test_custom_template_and_stage():
    with Sandbox(serve_api=False, stage="qa") as sandbox:
        assert sandbox.output("LineageTableName") == "steward-qa-lineage"


def test_environment_is_restored_after_the_sandbox():
    import os

    before = dict(os.environ)
    with Sandbox(serve_api=False):
        pass
    assert dict(os.environ) == before


def test_model_registry_calls_emit_the_events_sagemaker_would():
    with Sandbox(serve_api=False) as sandbox:
        sm = sandbox.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="fraud")
        arn = sm.create_model_package(
            ModelPackageGroupName="fraud",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/fraud/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
        sandbox.drain()
        node = {n["id"]: n for n in sandbox.lineage()["nodes"]}[arn.lower()]
        assert node["status"] == "Approved"
        history = sandbox.lineage_store().history(arn.lower())
        assert [h["status"] for h in history] == ["PendingManualApproval", "Approved"]
        assert history[-1]["updatedFields"] == ["ModelApprovalStatus", "ApprovalDescription"]
