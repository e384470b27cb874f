"""Data checks as evidence, on the sandbox: a version's Clarify bias and explainability reports and its
drift-check baselines are read by the gate, bounded by the policy, shown on the approval page and in
the audit report."""

from __future__ import annotations

import contextlib
import json
import urllib.request

from sandbox import Sandbox
from tests.integration.test_approvals import http, link_of
from tests.integration.test_approvals import policy as approval_policy
from tests.unit.test_approval_evidence import BIAS, SHAP

BUCKET = "sagemaker-clarify-reports"  # in ReportsBucketPattern (default sagemaker-*): the gate may read it


def register(sb: Sandbox, *, with_shap: bool = True) -> str:
    sm, s3 = sb.client("sagemaker"), sb.client("s3")
    with contextlib.suppress(s3.exceptions.ClientError):
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="eval.json", Body=json.dumps({"metrics": {"auc": {"value": 0.93}}}))
    s3.put_object(Bucket=BUCKET, Key="bias/analysis.json", Body=json.dumps(BIAS))
    if with_shap:
        s3.put_object(Bucket=BUCKET, Key="shap/analysis.json", Body=json.dumps(SHAP))
    report = {"ContentType": "application/json"}
    with contextlib.suppress(sm.exceptions.ClientError):
        sm.create_model_package_group(ModelPackageGroupName="fraud")
    arn = sm.create_model_package(
        ModelPackageGroupName="fraud",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {"Statistics": {**report, "S3Uri": f"s3://{BUCKET}/eval.json"}},
            "Bias": {"Report": {**report, "S3Uri": f"s3://{BUCKET}/bias/analysis.json"}},
            "Explainability": {"Report": {**report, "S3Uri": f"s3://{BUCKET}/shap/analysis.json"}},
        },
        DriftCheckBaselines={
            "ModelQuality": {"Constraints": {**report, "S3Uri": f"s3://{BUCKET}/baselines/constraints.json"}},
            "Bias": {"PostTrainingConstraints": {**report, "S3Uri": f"s3://{BUCKET}/baselines/bias.json"}},
        },
    )["ModelPackageArn"]
    sb.drain()
    return arn


def checked_policy(**data_checks) -> dict:
    doc = approval_policy()
    doc["default"]["approval"]["gate"]["data_checks"] = data_checks
    return doc


def registry(sb: Sandbox, arn: str) -> dict:
    return sb.client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_bounds_that_hold_let_people_decide_and_the_page_shows_the_evidence() -> None:
    doc = checked_policy(
        bias={"DPPL": {"max_abs": 0.2}, "pre_training.CI": {"max_abs": 0.5}},
        max_top_feature_share=0.7,
        require_drift_baselines=["ModelQuality", "Bias"],
    )
    with Sandbox(policy=doc) as sb:
        arn = register(sb)
        assert registry(sb, arn)["ModelApprovalStatus"] == "PendingManualApproval"
        status, page, _ = http(link_of(sb, "alice@example.com"))
        assert status == 200 and "<h2>Data checks</h2>" in page
        for shown in (
            "bias (post-training) DPPL for gender=male: -0.13",
            "top features by mean |SHAP|: id 60%, tenure 30%, charges 10%",
            f"drift-check baseline ModelQuality.Constraints: s3://{BUCKET}/baselines/constraints.json",
            "bias DPPL",  # the gate's check, in the metrics table
            "top feature share",
        ):
            assert shown.replace("|", "|") in page, shown
        # the audit report has the same evidence
        with urllib.request.urlopen(f"{sb.api_url}/report?package={arn}&format=json") as response:
            report = json.loads(response.read())
        assert "bias (pre-training) CI for gender=female: -0.31" in report["dataChecks"]
        assert {c["metric"] for c in report["gate"]["checks"]} >= {"bias DPPL", "top feature share"}


def test_a_bias_bound_broken_rejects_the_version_by_its_numbers() -> None:
    with Sandbox(policy=checked_policy(bias={"DPPL": {"max_abs": 0.1}})) as sb:
        arn = register(sb)
        described = registry(sb, arn)
        assert described["ModelApprovalStatus"] == "Rejected"
        assert (
            "bias DPPL=-0.13 (|x| <= 0.1 for every facet (worst gender=male), FAILED)"
            in described["ApprovalDescription"]
        )


def test_a_report_that_cannot_be_read_is_said_and_fails_a_bound_on_it() -> None:
    with Sandbox(policy=checked_policy(max_top_feature_share=0.9)) as sb:
        arn = register(sb, with_shap=False)
        described = registry(sb, arn)
        assert described["ModelApprovalStatus"] == "Rejected"
        assert "top feature share=missing" in described["ApprovalDescription"]
        with urllib.request.urlopen(f"{sb.api_url}/report?package={arn}&format=json") as response:
            lines = json.loads(response.read())["dataChecks"]
        assert any(line.startswith("not read: Explainability.Report") for line in lines), lines


def test_without_data_checks_the_reports_are_still_shown_and_not_taken_as_metrics() -> None:
    with Sandbox(policy=approval_policy()) as sb:
        arn = register(sb)
        assert registry(sb, arn)["ModelApprovalStatus"] == "PendingManualApproval"
        _, page, _ = http(link_of(sb, "alice@example.com"))
        assert "bias (post-training) DI for gender=male: 1.3" in page
        from steward.approvals.models import ApprovalRequest

        with urllib.request.urlopen(f"{sb.api_url}/approval-requests") as response:
            [request] = [
                r for r in json.loads(response.read())["items"] if r["id"] == ApprovalRequest.id_for(arn)
            ]
        assert "tenure" not in request["metrics"] and "DPPL" not in request["metrics"]
