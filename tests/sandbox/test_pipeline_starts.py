"""The sandbox's StartPipelineExecution: SageMaker's token idempotency and its Executing event."""

from __future__ import annotations

from sandbox import Sandbox

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20260115T101500"


def test_a_repeated_token_returns_the_same_run_and_each_new_run_is_announced_executing():
    with Sandbox(serve_api=False) as sb:
        sm = sb.client("sagemaker")
        sm.create_pipeline(PipelineName="churn-train", PipelineDefinition='{"Steps": []}', RoleArn=ROLE)
        # Given a run started with a token
        first = sm.start_pipeline_execution(PipelineName="churn-train", ClientRequestToken="a" * 40)
        # When the same token is used again, and another token once
        again = sm.start_pipeline_execution(PipelineName="churn-train", ClientRequestToken="a" * 40)
        other = sm.start_pipeline_execution(PipelineName="churn-train", ClientRequestToken="b" * 40)
        sb.drain()
        # Then the repeat is the same run, and the two runs are Executing, in SageMaker and in the lineage
        assert again["PipelineExecutionArn"] == first["PipelineExecutionArn"]
        assert other["PipelineExecutionArn"] != first["PipelineExecutionArn"]
        runs = sm.list_pipeline_executions(PipelineName="churn-train")["PipelineExecutionSummaries"]
        assert len(runs) == 2
        for arn in (first["PipelineExecutionArn"], other["PipelineExecutionArn"]):
            assert (
                sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
                == "Executing"
            )
            node = sb.lineage_store().get_nodes([arn.lower()])[arn.lower()]
            assert (node["kind"], node["status"]) == ("pipeline-execution", "Executing")
