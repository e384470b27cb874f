"""Pipeline executions as SageMaker runs them: StartPipelineExecution's idempotency and start event,
ListPipelineExecutions' filters and pages, ListPipelineExecutionSteps, and an execution ended with its
steps' events."""

from __future__ import annotations

from typing import Any

from sandbox.sagemaker.registry import iso


def pipeline_starts(start: Any, emit: Any) -> Any:
    """StartPipelineExecution with SageMaker's token idempotency and its Executing event."""

    def start_pipeline_execution(response: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.core.utils import utcnow

        pipeline = response.sagemaker_backend.pipelines.get(response._get_param("PipelineName"))
        token = response._get_param("ClientRequestToken")
        if pipeline is not None and token:
            for arn, execution in pipeline.pipeline_executions.items():
                if execution.client_request_token == token:
                    return ActionResult({"PipelineExecutionArn": arn})
        result = start(response)
        if pipeline is None:
            return result
        arn = result.result["PipelineExecutionArn"]
        execution = pipeline.pipeline_executions[arn]
        execution.pipeline_execution_status = "Executing"
        now = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        emit(
            {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
                "account": response.current_account,
                "region": response.region,
                "resources": [pipeline.arn, arn],
                "detail": {
                    "pipelineArn": pipeline.arn,
                    "pipelineExecutionArn": arn,
                    "pipelineExecutionDisplayName": execution.pipeline_execution_display_name,
                    "pipelineExecutionDescription": execution.pipeline_execution_description,
                    "currentPipelineExecutionStatus": "Executing",
                    "executionStartTime": now,
                },
            }
        )
        return result

    return start_pipeline_execution


def _camel_keys(value: Any) -> Any:
    """ListPipelineExecutionSteps' PascalCase keys as the step events spell them (`TrainingJob.Arn` →
    `trainingJob.arn`)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _page(items: list[Any], response: Any, limit: int = 100) -> tuple[list[Any], str | None]:
    """One page of `items` by the call's MaxResults / NextToken (a position, as moto's own tokens are)."""
    from moto.sagemaker.exceptions import ValidationError

    token = response._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValidationError(message=f"Invalid pagination token {token!r}.") from None
    size = int(response._get_param("MaxResults") or limit)
    end = start + size
    return items[start:end], str(end) if end < len(items) else None


def _when_param(response: Any, name: str) -> Any:
    from steward.events.normalize import parse_timestamp

    return parse_timestamp(response._get_param(name))


def list_pipeline_executions(response: Any) -> Any:
    """ListPipelineExecutions with SageMaker's filters, order and pages (moto lists everything)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.utils import get_pipeline_from_name

    from steward.events.normalize import parse_timestamp

    pipeline = get_pipeline_from_name(
        response.sagemaker_backend.pipelines, response._get_param("PipelineName")
    )
    after, before = _when_param(response, "CreatedAfter"), _when_param(response, "CreatedBefore")

    def started(e: Any) -> Any:  # moto's times are naive UTC
        return parse_timestamp(e.start_time)

    executions = [
        (arn, e)
        for arn, e in pipeline.pipeline_executions.items()
        if (after is None or started(e) > after) and (before is None or started(e) < before)
    ]
    executions.sort(
        key=lambda item: item[1].start_time, reverse=response._get_param("SortOrder") != "Ascending"
    )
    page, token = _page(executions, response)
    summaries = [
        {
            "PipelineExecutionArn": arn,
            "StartTime": e.start_time,
            "PipelineExecutionStatus": e.pipeline_execution_status,
            "PipelineExecutionDescription": e.pipeline_execution_description,
            "PipelineExecutionDisplayName": e.pipeline_execution_display_name,
            "PipelineExecutionFailureReason": e.pipeline_execution_failure_reason,
        }
        for arn, e in page
    ]
    return ActionResult({"PipelineExecutionSummaries": summaries, "NextToken": token})


def list_pipeline_execution_steps(response: Any) -> Any:
    """ListPipelineExecutionSteps (moto has none): the steps `finish_pipeline_execution` recorded."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.utils import get_pipeline_execution_from_arn

    execution = get_pipeline_execution_from_arn(
        response.sagemaker_backend.pipelines, response._get_param("PipelineExecutionArn")
    )
    steps = list(getattr(execution, "sandbox_steps", []))
    steps.sort(key=lambda s: s["StartTime"], reverse=response._get_param("SortOrder") != "Ascending")
    page, token = _page(steps, response, limit=50)
    return ActionResult({"PipelineExecutionSteps": page, "NextToken": token})


def _step_event(pipeline_arn: str, execution_arn: str, step: dict[str, Any], when: str) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "pipelineArn": pipeline_arn,
        "pipelineExecutionArn": execution_arn,
        "stepName": step["StepName"],
        "currentStepStatus": step["StepStatus"],
        "stepStartTime": iso(step["StartTime"]),
        "stepEndTime": iso(step.get("EndTime")),
        "metadata": _camel_keys(step.get("Metadata") or {}),
    }
    if step.get("StepType"):
        detail["stepType"] = step["StepType"]
    if step.get("FailureReason"):
        detail["failureReason"] = step["FailureReason"]
    if step.get("CacheHitResult"):
        detail["cacheHitResult"] = _camel_keys(step["CacheHitResult"])
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Building Pipeline Execution Step Status Change",
        "time": when,
        "account": execution_arn.split(":")[4],
        "region": execution_arn.split(":")[3],
        "resources": [pipeline_arn, execution_arn],
        "detail": {k: v for k, v in detail.items() if v is not None},
    }


_STEP_MEMBERS = (
    "StepName",
    "StepDisplayName",
    "StepDescription",
    "StartTime",
    "EndTime",
    "StepStatus",
    "CacheHitResult",
    "FailureReason",
    "Metadata",
    "AttemptCount",
)


def finish_pipeline_execution(
    backend: Any,
    arn: str,
    status: str,
    steps: list[dict[str, Any]],
    emit: Any,
    failure_reason: str | None = None,
) -> None:
    """End execution `arn` in `status` after `steps` ran (ListPipelineExecutionSteps' shape; a
    "StepType" is said in the step's event only, as the API has none), one after the other. `emit`
    (None: quietly) receives each step's status change, then the execution's."""
    from datetime import timedelta

    from moto.core.utils import utcnow
    from moto.sagemaker.utils import get_pipeline_execution_from_arn, get_pipeline_from_name

    execution = get_pipeline_execution_from_arn(backend.pipelines, arn)
    pipeline = get_pipeline_from_name(backend.pipelines, arn.split(":pipeline/", 1)[1].split("/", 1)[0])
    clock = max(utcnow(), execution.start_time)
    recorded, events = [], []
    for given in steps:
        step = {k: v for k, v in given.items() if k in _STEP_MEMBERS}
        step.setdefault("StepStatus", "Succeeded")
        step.setdefault("StartTime", clock)
        clock = max(clock, step["StartTime"]) + timedelta(milliseconds=1)
        if step["StepStatus"] not in ("Starting", "Executing"):
            step.setdefault("EndTime", clock)
        recorded.append(step)
        events.append(_step_event(pipeline.arn, arn, {**step, "StepType": given.get("StepType")}, iso(clock)))
    previous = execution.pipeline_execution_status
    execution.sandbox_steps = getattr(execution, "sandbox_steps", []) + recorded
    execution.pipeline_execution_status = status
    execution.pipeline_execution_failure_reason = failure_reason
    execution.last_modified_time = clock + timedelta(milliseconds=1)
    if emit is None:
        return
    for event in events:
        emit(event)
    detail = {
        "pipelineArn": pipeline.arn,
        "pipelineExecutionArn": arn,
        "pipelineExecutionDisplayName": execution.pipeline_execution_display_name,
        "pipelineExecutionDescription": execution.pipeline_execution_description,
        "currentPipelineExecutionStatus": status,
        "previousPipelineExecutionStatus": previous,
        "executionStartTime": iso(execution.start_time),
        "executionEndTime": iso(execution.last_modified_time) if status != "Executing" else None,
    }
    emit(
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
            "time": iso(execution.last_modified_time),
            "account": arn.split(":")[4],
            "region": arn.split(":")[3],
            "resources": [pipeline.arn, arn],
            "detail": {k: v for k, v in detail.items() if v is not None},
        }
    )
