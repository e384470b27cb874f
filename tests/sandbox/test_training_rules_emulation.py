"""The sandbox's Debugger/Profiler rule evaluations (moto reports none): DescribeTrainingJob shows the
configured rules InProgress until `finish_training_rules` ends them, as SageMaker reports them."""

from __future__ import annotations

import pytest

from sandbox import Sandbox


def _create(sb: Sandbox, name: str = "job-with-rules", **rules) -> None:
    sb.client("sagemaker").create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/r",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        **rules,
    )


def test_configured_rules_are_in_progress_with_their_evaluation_job_then_end_as_told():
    with Sandbox(serve_api=False) as sb:
        sm = sb.client("sagemaker")
        _create(
            sb,
            DebugRuleConfigurations=[{"RuleConfigurationName": "Overfit", "RuleEvaluatorImage": "img"}],
            ProfilerRuleConfigurations=[
                {"RuleConfigurationName": "ProfilerReport", "RuleEvaluatorImage": "img"}
            ],
        )
        described = sm.describe_training_job(TrainingJobName="job-with-rules")
        assert described["TrainingJobStatus"] == "Completed"  # moto's jobs end at once; the rules do not
        debug, profiler = (
            described["DebugRuleEvaluationStatuses"],
            described["ProfilerRuleEvaluationStatuses"],
        )
        assert [(r["RuleConfigurationName"], r["RuleEvaluationStatus"]) for r in debug] == [
            ("Overfit", "InProgress")
        ]
        assert [r["RuleConfigurationName"] for r in profiler] == ["ProfilerReport"]
        assert described["ProfilerRuleConfigurations"][0]["RuleConfigurationName"] == "ProfilerReport"
        assert debug[0]["RuleEvaluationJobArn"].startswith(
            "arn:aws:sagemaker:us-east-1:123456789012:processing-job/"
        )
        # When the rule ends
        sb.finish_training_rules("job-with-rules", {"Overfit": "IssuesFound"}, {"Overfit": "condition met"})
        after = sm.describe_training_job(TrainingJobName="job-with-rules")["DebugRuleEvaluationStatuses"][0]
        assert (after["RuleEvaluationStatus"], after["StatusDetails"]) == ("IssuesFound", "condition met")
        assert after["LastModifiedTime"] >= debug[0]["LastModifiedTime"]
        assert after["RuleEvaluationJobArn"] == debug[0]["RuleEvaluationJobArn"]
        # and the event SageMaker sends for the job carries what Describe says, in the event's shape
        event = sb.training_job_event("job-with-rules")
        assert event["detail-type"] == "SageMaker Training Job State Change"
        assert event["detail"]["DebugRuleEvaluationStatuses"][0]["RuleEvaluationStatus"] == "IssuesFound"
        assert event["detail"]["CreationTime"].isdigit() and event["detail"]["Tags"] == {}


def test_a_job_without_rules_reports_none():
    with Sandbox(serve_api=False) as sb:
        _create(sb, name="plain")
        described = sb.client("sagemaker").describe_training_job(TrainingJobName="plain")
        assert "DebugRuleEvaluationStatuses" not in described
        assert "ProfilerRuleEvaluationStatuses" not in described


def test_a_rule_ends_once_and_only_rules_and_statuses_that_exist():
    with Sandbox(serve_api=False) as sb:
        _create(
            sb, DebugRuleConfigurations=[{"RuleConfigurationName": "Overfit", "RuleEvaluatorImage": "img"}]
        )
        with pytest.raises(ValueError, match="no rule 'Loss'"):
            sb.finish_training_rules("job-with-rules", {"Loss": "IssuesFound"})
        with pytest.raises(ValueError, match="not a RuleEvaluationStatus"):
            sb.finish_training_rules("job-with-rules", {"Overfit": "Done"})
        with pytest.raises(ValueError, match="no training job"):
            sb.finish_training_rules("nope", {"Overfit": "IssuesFound"})
        sb.finish_training_rules("job-with-rules", {"Overfit": "Stopping"})
        sb.finish_training_rules("job-with-rules", {"Overfit": "Stopped"})
        with pytest.raises(ValueError, match="already ended"):
            sb.finish_training_rules("job-with-rules", {"Overfit": "IssuesFound"})
