"""The sandbox's pipeline runs end as SageMaker's do: ListPipelineExecutionSteps (moto has none), the step
and execution events, and ListPipelineExecutions' filters and pages (moto lists everything)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sandbox import Sandbox

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20260115T101500"
JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/train-1"


def _pipeline(sb):
    sm = sb.client("sagemaker")
    sm.create_pipeline(PipelineName="churn-train", PipelineDefinition='{"Steps": []}', RoleArn=ROLE)
    return sm


def test_a_finished_run_lists_its_steps_and_announces_them_then_itself():
    with Sandbox(serve_api=False) as sb:
        sm = _pipeline(sb)
        arn = sm.start_pipeline_execution(PipelineName="churn-train")["PipelineExecutionArn"]
        sent = []
        emit = sb.emit
        sb.emit = lambda event: (sent.append(event), emit(event))  # type: ignore[method-assign]
        # When the run ends after two steps
        sb.finish_pipeline_execution(
            arn,
            steps=[
                {"StepName": "Train", "StepType": "Training", "Metadata": {"TrainingJob": {"Arn": JOB}}},
                {"StepName": "Check", "StepStatus": "Failed", "FailureReason": "auc too low"},
            ],
            status="Failed",
            failure_reason="step Check failed",
        )
        sb.drain()
        # Then SageMaker lists the steps (newest first by default), without the event-only StepType
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
        assert [s["StepName"] for s in steps] == ["Check", "Train"]
        assert steps[1]["Metadata"] == {"TrainingJob": {"Arn": JOB}} and "StepType" not in steps[1]
        assert steps[0]["StartTime"] > steps[1]["StartTime"]
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        assert described["PipelineExecutionStatus"] == "Failed"
        # And it announced each step, then the run, as SageMaker's events spell them
        assert [e["detail-type"].rsplit(" ", 3)[-3] for e in sent] == ["Step", "Step", "Execution"]
        assert sent[0]["detail"]["metadata"] == {"trainingJob": {"arn": JOB}}
        assert sent[0]["detail"]["stepType"] == "Training"
        assert sent[2]["detail"]["currentPipelineExecutionStatus"] == "Failed"
        node = sb.lineage_store().get_nodes([arn.lower()])[arn.lower()]
        assert node["status"] == "Failed"


def test_quietly_a_run_starts_and_ends_without_a_word():
    with Sandbox(serve_api=False) as sb:
        sm = _pipeline(sb)
        with sb.quietly():
            arn = sm.start_pipeline_execution(PipelineName="churn-train")["PipelineExecutionArn"]
            sb.finish_pipeline_execution(arn, steps=[{"StepName": "Train"}])
        sb.drain()
        assert sb.lineage()["nodes"] == []
        assert len(sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]) == 1


def test_executions_are_listed_by_time_filtered_and_paged():
    with Sandbox(serve_api=False) as sb:
        sm = _pipeline(sb)
        first = sm.start_pipeline_execution(PipelineName="churn-train")["PipelineExecutionArn"]
        time.sleep(0.01)
        cut = datetime.now(UTC)
        time.sleep(0.01)
        later = [
            sm.start_pipeline_execution(PipelineName="churn-train")["PipelineExecutionArn"] for _ in range(3)
        ]
        listed = sm.list_pipeline_executions(PipelineName="churn-train", SortOrder="Ascending", MaxResults=2)
        assert [s["PipelineExecutionArn"] for s in listed["PipelineExecutionSummaries"]] == [first, later[0]]
        assert "PipelineExecutionFailureReason" not in listed["PipelineExecutionSummaries"][0]
        rest = sm.list_pipeline_executions(
            PipelineName="churn-train", SortOrder="Ascending", NextToken=listed["NextToken"]
        )
        assert [s["PipelineExecutionArn"] for s in rest["PipelineExecutionSummaries"]] == later[1:]
        assert "NextToken" not in rest
        recent = sm.list_pipeline_executions(PipelineName="churn-train", CreatedAfter=cut)
        assert [s["PipelineExecutionArn"] for s in recent["PipelineExecutionSummaries"]] == later[::-1]
