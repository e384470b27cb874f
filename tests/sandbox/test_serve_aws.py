"""The served embedded AWS behaves like SageMaker for code that only talks to it over HTTP: Steward
reacts by itself (no drain), and endpoints reach InService so boto3's waiters work."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from sandbox import Sandbox
from tests.integration.test_approvals import policy


@pytest.fixture(scope="module")
def sb():
    with Sandbox(policy=policy(), serve_aws=True, react=True) as sandbox:
        yield sandbox


def _client(sb: Sandbox, service: str):
    # What a user's own code does: fake credentials, the endpoint URL, nothing of the sandbox's API
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=sb.aws_endpoint_url)


def _eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("did not happen in time")


def test_a_version_registered_over_http_gets_its_approval_request_without_a_drain(sb):
    # Given a user's own boto3 code, talking only to the served endpoint
    sm, s3 = _client(sb, "sagemaker"), _client(sb, "s3")
    s3.create_bucket(Bucket="sagemaker-user-reports")
    s3.put_object(
        Bucket="sagemaker-user-reports",
        Key="eval.json",
        Body=json.dumps({"metrics": {"auc": {"value": 0.93}}}),
    )
    sm.create_model_package_group(ModelPackageGroupName="served")
    # When it registers a version
    arn = sm.create_model_package(
        ModelPackageGroupName="served",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://user-models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": "s3://sagemaker-user-reports/eval.json",
                }
            }
        },
    )["ModelPackageArn"]
    # Then Steward reacts by itself: the approvers are asked, the version is in the lineage
    _eventually(
        lambda: [m for m in sb.outbox if "Approval requested: served version 1" in str(m.get("subject"))]
    )
    assert any(n["id"] == arn.lower() for n in sb.lineage()["nodes"])


def test_an_endpoint_created_over_http_reaches_in_service_for_the_waiter(sb):
    sm = _client(sb, "sagemaker")
    sm.create_model(
        ModelName="served-model",
        PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://user-models/m.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
    )
    sm.create_endpoint_config(
        EndpointConfigName="served-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "served-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="served-endpoint", EndpointConfigName="served-config")
    # boto3's own waiter polls DescribeEndpoint until InService
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="served-endpoint", WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    assert sm.describe_endpoint(EndpointName="served-endpoint")["EndpointStatus"] == "InService"
    # and Steward recorded the endpoint's lifecycle from the events SageMaker sent
    _eventually(
        lambda: any(
            n["kind"] == "endpoint" and n["name"] == "served-endpoint" and n["status"] == "InService"
            for n in sb.lineage()["nodes"]
        )
    )


def test_sandbox_stays_synchronous_by_default():
    assert Sandbox().react is False and Sandbox(serve_aws=True).react is False
