"""SageMaker Debugger / Profiler findings: a training job whose rules found issues is alerted, naming the
rule and where its report is, and recorded on the job's lineage node."""

from __future__ import annotations

import copy
import uuid

from sandbox import Sandbox
from tests.conftest import load

POLICY = {"default": {"notifications": {"warning": {"email": ["ml-team@example.com"]}}}}


def _completed(rules: list[dict]) -> dict:
    event = copy.deepcopy(load("training_job/completed.json"))
    event["id"] = str(uuid.uuid4())
    event["detail"]["DebugRuleEvaluationStatuses"] = rules
    return event


def test_a_rule_that_found_issues_is_alerted_with_its_report_and_recorded():
    with Sandbox(policy=POLICY, serve_api=False) as sb:
        # Given a completed training job whose vanishing-gradient rule found issues
        event = _completed(
            [
                {"RuleConfigurationName": "VanishingGradient", "RuleEvaluationStatus": "IssuesFound",
                 "StatusDetails": "RuleEvaluationConditionMet: Evaluation of the rule VanishingGradient at step 500 resulted in the condition being met"},
                {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluationStatus": "NoIssuesFound"},
            ]
        )  # fmt: skip
        # When it is delivered
        result = sb.put_events([event])[0]
        # Then the failure reporter alerts the team, once, naming the rule and its report location
        assert {t["function"] for t in result["targets"]} >= {"record_lineage", "report_job_failure"}
        assert all(t["ok"] for t in result["targets"])
        mails = [m for m in sb.outbox if m["channel"] == "email" and "VanishingGradient" in m["subject"]]
        assert len(mails) == 1 and mails[0]["to"] == "ml-team@example.com"
        assert "found issues" in mails[0]["subject"] and "LossNotDecreasing" not in mails[0]["subject"]
        output = event["detail"]["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        assert (
            f"{output}/{event['detail']['TrainingJobName']}/rule-output/VanishingGradient/"
            in mails[0]["text"]
        )
        # and the job's node keeps the rule evaluations
        arn = event["detail"]["TrainingJobArn"].lower()
        node = next(n for n in sb.lineage()["nodes"] if n["id"] == arn)
        assert {r["RuleConfigurationName"]: r["RuleEvaluationStatus"] for r in node["ruleEvaluations"]} == {
            "VanishingGradient": "IssuesFound",
            "LossNotDecreasing": "NoIssuesFound",
        }
        # A redelivery alerts no one again
        sb.put_events([{**event, "id": str(uuid.uuid4())}])
        assert len([m for m in sb.outbox if "VanishingGradient" in str(m.get("subject"))]) == 1


def test_rules_without_findings_reach_no_reporter():
    with Sandbox(policy=POLICY, serve_api=False) as sb:
        event = _completed([{"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "NoIssuesFound"}])
        result = sb.put_events([event])[0]
        assert "report_job_failure" not in {t["function"] for t in result["targets"]}
        assert sb.outbox == []


def _story_with_findings(sb: Sandbox) -> str:
    """A training job whose Debugger rule found issues produced the artifact a version then registers."""
    from tests.integration.test_approvals import register

    event = _completed([{"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "IssuesFound"}])
    event["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": "s3://b/m.tar.gz"}  # what register() packages
    sb.put_events([event])
    return register(sb)


def _policy(mode: str, on_pass: str = "approve") -> dict:
    approval = {
        "approvers": [{"email": "alice@example.com"}],
        "gate": {"thresholds": {}, "on_pass": on_pass, "training_rules": mode},
    }
    return {"default": {"notifications": POLICY["default"]["notifications"], "approval": approval}}


def _registry_status(sb: Sandbox, arn: str) -> str:
    return sb.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def test_a_policy_rejects_a_version_whose_training_job_found_issues():
    with Sandbox(policy=_policy("reject")) as sb:
        arn = _story_with_findings(sb)
        assert _registry_status(sb, arn) == "Rejected"
        described = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert "rule Overfit found issues, FAILED" in described["ApprovalDescription"]


def test_a_policy_holds_it_for_people_instead_of_auto_approving():
    with Sandbox(policy=_policy("hold")) as sb:
        arn = _story_with_findings(sb)
        assert _registry_status(sb, arn) == "PendingManualApproval"  # on_pass approve, but held
        asked = [m for m in sb.outbox if "Approval requested" in str(m.get("subject"))]
        assert asked and "rule Overfit found issues" in asked[0]["text"]


def test_by_default_the_findings_are_shown_and_change_nothing():
    with Sandbox(policy=_policy("ignore")) as sb:
        arn = _story_with_findings(sb)
        assert _registry_status(sb, arn) == "Approved"  # on_pass approve: the gate passed on its numbers
