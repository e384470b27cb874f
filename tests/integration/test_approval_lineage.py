"""The approval page's lineage: what the version was trained on, the pipeline run, the code, the commit."""

from __future__ import annotations

import json

from sandbox import Sandbox
from sandbox.demo.replay import create_sagemaker_resources
from tests.conftest import EVENTS, story
from tests.integration.test_approvals import http, link_of, policy

RAW = "s3://churn-datalake-123456789012/raw/customers/dt=2026-11-01"
RUN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn-train/execution/8xq2n4vd1k7m"


def test_the_page_says_what_the_version_was_trained_on_and_by_which_run():
    # Given the churn story up to version 3's registration, under a policy that asks people
    document = policy(gate={"thresholds": {}})
    document["groups"] = {"churn-models": document["default"]}
    with Sandbox(policy=document) as sb:
        create_sagemaker_resources(
            sb.client("sagemaker"), json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        events = story()
        registration = next(
            i for i, e in enumerate(events) if e["detail-type"] == "SageMaker Model Package State Change"
        )
        sb.put_events(events[: registration + 1])
        # When an approver opens the link
        status, page, _ = http(link_of(sb, "alice@example.com"))
        # Then the lineage section names the raw data (not the intermediate splits), the training job, the
        # preprocessing code and the pipeline run
        assert status == 200
        section = page.split("<h2>Lineage</h2>", 1)[1].split("</section>", 1)[0]
        assert f"trained on {RAW}" in section
        assert (
            "trained on s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/train"
            not in section
        )
        assert "training job pipelines-8xq2n4vd1k7m-TrainChurnModel-Hq7mW2xZ4n (Completed)" in section
        assert "code s3://sagemaker-us-east-1-123456789012/churn-train/code/" in section
        assert f"pipeline run {RUN}" in section


def test_a_version_whose_lineage_is_unknown_says_so():
    from tests.integration.test_approvals import register

    with Sandbox(policy=policy()) as sb:
        register(sb)
        _, page, _ = http(link_of(sb, "alice@example.com"))
        assert "training data: not recorded" in page.split("<h2>Lineage</h2>", 1)[1]


def test_the_page_shows_every_debugger_rule_result_of_the_training_job():
    from tests.integration.test_approvals import register
    from tests.integration.test_training_rules import _completed

    with Sandbox(policy=policy()) as sb:
        # Given the training job that wrote the artifact: one rule found issues, two found none, one erred
        event = _completed(
            [
                {"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "IssuesFound"},
                {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluationStatus": "NoIssuesFound"},
                {"RuleConfigurationName": "VanishingGradient", "RuleEvaluationStatus": "NoIssuesFound"},
                {"RuleConfigurationName": "ProfilerReport", "RuleEvaluationStatus": "Error"},
            ]
        )
        event["detail"]["ModelArtifacts"] = {
            "S3ModelArtifacts": "s3://b/m.tar.gz"
        }  # what register() packages
        sb.put_events([event])
        register(sb)
        # When an approver opens the link
        _, page, _ = http(link_of(sb, "alice@example.com"))
        # Then the lineage section gives each rule's result, not only the findings
        section = page.split("<h2>Lineage</h2>", 1)[1].split("</section>", 1)[0]
        job = event["detail"]["TrainingJobName"]
        assert f"training job {job}: rule Overfit found issues" in section
        assert f"training job {job}: rules LossNotDecreasing, VanishingGradient found no issues" in section
        assert f"training job {job}: rule ProfilerReport ended Error" in section
