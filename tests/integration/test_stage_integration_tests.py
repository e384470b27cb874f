"""Integration tests between stages, on the sandbox: the staging endpoint answers the policy's sample
requests before prod is touched; a failure stops the promotion; a test that cannot run fails."""

from __future__ import annotations

import json

import pytest

from sandbox import ModelReply, Sandbox, Throttled
from tests.integration.test_promotion import approve, deployments, http, ours, policy, register, subjects
from tests.integration.test_status import endpoint_event

CHECKS = {
    "requests": [
        {
            "name": "scores a customer",
            "body": {"features": [1, 2, 3]},
            "expect_content_type": "application/json",
            "expect_schema": {
                "type": "object",
                "required": ["score"],
                "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
            },
        },
        {
            "name": "a known answer",
            "body": {"features": [0, 0, 0]},
            "expect": {"score": 0.1},
            "tolerance": 0.01,
        },
    ],
    "calls_per_request": 3,
    "max_p95_ms": 2000,
}


def policy_with_stage_test(**test) -> dict:
    doc = policy()
    doc["default"]["stages"][0]["integration_test"] = {**CHECKS, **test}
    return doc


def scorer(faulty_package: str | None = None, calls: list | None = None):
    """A model scoring 0.1 for all-zero features and 0.7 otherwise; the faulty version answers 500."""

    def model(invocation):
        if calls is not None:
            calls.append(invocation)
        if faulty_package and invocation.model_package == faulty_package:
            return ModelReply("model crashed: KeyError 'features'", status=500, content_type="text/plain")
        features = invocation.json()["features"]
        return {"score": 0.1 if not any(features) else 0.7}

    return model


def prod_config(sb: Sandbox) -> str | None:
    try:
        return sb.client("sagemaker").describe_endpoint(EndpointName="fraud-prod")["EndpointConfigName"]
    except sb.client("sagemaker").exceptions.ClientError:
        return None


def staging_record(sb: Sandbox, version: int) -> dict:
    return next(d for d in ours(deployments(sb, "fraud-staging")) if d["version"] == version)


def test_a_passing_test_lets_the_next_stage_deploy_and_is_recorded() -> None:
    calls: list = []
    with Sandbox(policy=policy_with_stage_test()) as sb:
        sb.endpoint_model("fraud-staging", scorer(calls=calls))
        arn = register(sb)
        approve(sb, arn)
        assert prod_config(sb).startswith("fraud-v1-")
        assert len(calls) == 6 and {c.model_package for c in calls} == {arn}  # the version just deployed
        record = staging_record(sb, 1)["integrationTest"]
        assert record["passed"] and record["cases"] == 2 and record["calls"] == 6
        assert "Integration test of fraud v1 on fraud-staging passed" in " ".join(subjects(sb))
        # the lineage of the deployment holds the result
        graph = sb.lineage(arn.lower(), "downstream", 1)
        staged = next(n for n in graph["nodes"] if n["kind"] == "deployment" and n.get("stage") == "staging")
        assert staged["integrationTest"]["passed"] is True
        # the test ran once: the staging endpoint's InService event delivered again tests nothing again
        again = endpoint_event("fraud-staging")
        sb.put_events([again, {**again, "id": "another-delivery"}])
        assert len(calls) == 6 and prod_config(sb).startswith("fraud-v1-")
        assert subjects(sb).count("[Steward] Integration test of fraud v1 on fraud-staging passed") == 1


def test_a_failing_test_stops_the_promotion_before_prod_and_says_which_case() -> None:
    with Sandbox(policy=policy_with_stage_test()) as sb:
        sb.endpoint_model("fraud-staging", scorer())
        approve(sb, register(sb))
        v2 = register(sb, artifact="s3://models/fraud/v2.tar.gz")
        sb.endpoint_model("fraud-staging", scorer(faulty_package=v2))
        approve(sb, v2)
        assert prod_config(sb).startswith("fraud-v1-")  # prod never touched
        assert len(ours(deployments(sb, "fraud-prod"))) == 1
        record = staging_record(sb, 2)
        assert record["status"] == "succeeded" and record["integrationTest"]["passed"] is False
        failing = {r["name"]: r["problems"] for r in record["integrationTest"]["results"] if not r["passed"]}
        assert set(failing) == {"scores a customer", "a known answer"}
        assert failing["scores a customer"][0] == "status 500, expected 200"
        [alert] = [
            m
            for m in sb.outbox
            if "Integration test of fraud v2 on fraud-staging failed" in str(m["subject"])
        ]
        assert alert["to"] == "oncall@example.com"  # critical route
        assert "scores a customer" in alert["text"] and "next stage is not touched" in alert["text"]
        _, body = http(sb, "GET", "/status")
        assert "fraud-staging: integration test of fraud/2 failed: promotion stopped" in body["attention"]


def test_a_test_that_cannot_run_is_a_failure() -> None:
    with Sandbox(policy=policy_with_stage_test(requests_s3_uri="s3://sagemaker-models/missing.jsonl")) as sb:
        approve(sb, register(sb))
        record = staging_record(sb, 1)["integrationTest"]
        assert record["passed"] is False and "could not be read" in record["problems"][0]
        assert prod_config(sb) is None


def test_sample_requests_from_s3_json_lines() -> None:
    lines = "\n".join(
        json.dumps(
            {"name": f"from s3 {i}", "body": {"features": [i]}, "expect": {"score": 0.1 if i == 0 else 0.7}}
        )
        for i in range(3)
    )
    with Sandbox(
        policy=policy_with_stage_test(
            requests_s3_uri="s3://sagemaker-models/requests.jsonl", calls_per_request=1
        )
    ) as sb:
        sb.client("s3").create_bucket(Bucket="sagemaker-models")
        sb.client("s3").put_object(Bucket="sagemaker-models", Key="requests.jsonl", Body=lines.encode())
        sb.endpoint_model("fraud-staging", scorer())
        approve(sb, register(sb))
        record = staging_record(sb, 1)["integrationTest"]
        assert record["passed"] and record["cases"] == 5 and prod_config(sb).startswith("fraud-v1-")


def test_throttling_is_retried_and_latency_limits_hold() -> None:
    throttled = {"left": 2, "seen": 0}

    def busy(invocation):
        throttled["seen"] += 1
        if throttled["left"]:
            throttled["left"] -= 1
            raise Throttled("Rate exceeded")
        return ModelReply({"score": 0.1 if not any(invocation.json()["features"]) else 0.7}, latency_ms=30)

    with Sandbox(policy=policy_with_stage_test(max_p50_ms=5)) as sb:
        sb.endpoint_model("fraud-staging", busy)
        approve(sb, register(sb))
        record = staging_record(sb, 1)["integrationTest"]
        assert record["failedCases"] == 0 and throttled["seen"] == 8  # 6 answered, 2 throttled and retried
        assert record["passed"] is False and "latency p50" in record["problems"][0]
        assert prod_config(sb) is None


def test_the_next_stages_approval_page_shows_the_result() -> None:
    doc = policy_with_stage_test()
    doc["default"]["stages"][1]["requires_approval"] = True
    with Sandbox(policy=doc) as sb:
        sb.endpoint_model("fraud-staging", scorer())
        arn = register(sb)
        approve(sb, arn)
        assert prod_config(sb) is None  # prod waits for its own approval
        _, body = http(sb, "GET", "/approval-requests")
        [pending] = [r for r in body["items"] if r.get("stage") == "prod" and r["package_arn"] == arn]
        shown = [line for line in pending["lineage"] if line.startswith("integration test passed: 2 case(s)")]
        assert shown and shown[0].endswith("on staging (fraud-staging)"), pending["lineage"]
        # and the page an approver opens from the stage's email lists it under Lineage
        import re
        import urllib.request

        [mail] = [
            m
            for m in sb.outbox
            if m["channel"] == "email"
            and m["to"] == "alice@example.com"
            and "Approval requested" in m["subject"]
            and "Promote to prod" in m["text"]
        ]
        link = re.search(rf"{re.escape(sb.api_url)}/approvals/[A-Za-z0-9._~-]+", mail["text"]).group(0)
        with urllib.request.urlopen(link) as page:
            html = page.read().decode()
        assert "integration test passed: 2 case(s)" in html and "on staging (fraud-staging)" in html


@pytest.mark.parametrize("name", ["nope", "fraud-staging"])
def test_the_sandbox_answers_invoke_endpoint_as_sagemaker_does(name) -> None:
    with Sandbox() as sb:
        runtime = sb.client("sagemaker-runtime")
        with pytest.raises(runtime.exceptions.ValidationError, match="not found"):
            runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
