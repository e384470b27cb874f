"""The AWS calls monitoring makes besides storage: StartPipelineExecution and an alarm's tags."""

from __future__ import annotations

from typing import Any

from steward.kernel.aws.clients import RETRYABLE_CODES, client, error_code
from steward.kernel.errors import DependencyError
from steward.monitoring.retraining import PipelineStartError


class SageMakerPipelines:
    def start_pipeline(
        self, pipeline: str, parameters: dict[str, str], token: str, display_name: str, description: str
    ) -> str:
        """StartPipelineExecution; `token` makes a repeated call return the same execution."""
        try:
            response: dict[str, Any] = client("sagemaker").start_pipeline_execution(
                PipelineName=pipeline,
                PipelineExecutionDisplayName=display_name,
                PipelineExecutionDescription=description,
                PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
                ClientRequestToken=token,
            )
        except Exception as exc:
            code = error_code(exc)
            if not code:
                raise
            if code in RETRYABLE_CODES or code.startswith("5"):
                raise DependencyError(f"StartPipelineExecution: {code}") from exc
            raise PipelineStartError(f"{code}: {str(exc)[:300]}") from exc
        return str(response["PipelineExecutionArn"])


class CloudWatchAlarmTags:
    def alarm_tags(self, alarm_arn: str) -> dict[str, str]:
        """The alarm's tags; none when it cannot be read (deleted, no access): mapping goes on without."""
        try:
            response = client("cloudwatch").list_tags_for_resource(ResourceARN=alarm_arn)
        except Exception as exc:
            code = error_code(exc)
            if code in RETRYABLE_CODES:
                raise DependencyError(f"ListTagsForResource: {code}") from exc
            if code:
                return {}
            raise
        return {str(t["Key"]): str(t["Value"]) for t in response.get("Tags", [])}
