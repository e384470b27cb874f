"""What SageMaker would have sent, built from what its APIs say now (pure: no I/O).

Each builder turns one Describe (or ListPipelineExecutionSteps) answer into the EventBridge event of
that resource's current state, so the backfill records it through the same parse + record path as
record_lineage. A job, package or endpoint event's `detail` is the Describe shape (that is what
SageMaker puts in it); pipeline events are camelCase. The event id is derived from the resource, its
status and that status's time: a rerun builds the same event, whose marker the store already holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

REPLAY_NAME = "steward-backfill"
_NAMESPACE = uuid.UUID("0b5c7f1e-7d0a-4f5e-9c1e-5ac6b2f1d4a7")

TRAINING = "SageMaker Training Job State Change"
PROCESSING = "SageMaker Processing Job State Change"
TRANSFORM = "SageMaker Transform Job State Change"
TUNING = "SageMaker HyperParameter Tuning Job State Change"
PIPELINE = "SageMaker Model Building Pipeline Execution Status Change"
STEP = "SageMaker Model Building Pipeline Execution Step Status Change"
PACKAGE = "SageMaker Model Package State Change"
ENDPOINT = "SageMaker Endpoint State Change"

# ListPipelineExecutionSteps has no StepType; the step events do. The metadata key names it.
_STEP_TYPES = {
    "TrainingJob": "Training",
    "ProcessingJob": "Processing",
    "TransformJob": "Transform",
    "TuningJob": "Tuning",
    "RegisterModel": "RegisterModel",
    "Model": "Model",
    "Condition": "Condition",
    "Callback": "Callback",
    "Lambda": "Lambda",
    "QualityCheck": "QualityCheck",
    "ClarifyCheck": "ClarifyCheck",
    "EMR": "EMR",
    "Fail": "Fail",
    "AutoMLJob": "AutoML",
}


def json_shaped(value: Any) -> Any:
    """An API answer as an event carries it: datetimes as ISO-8601, no ResponseMetadata."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_shaped(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [json_shaped(v) for v in value]
    return value


def camel_keys(value: Any) -> Any:
    """PascalCase keys as the pipeline events spell them (`TrainingJob.Arn` → `trainingJob.arn`)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def event_id(arn: str, status: str, when: str) -> str:
    """Deterministic per resource, status and the time of that status."""
    return str(uuid.uuid5(_NAMESPACE, f"{arn.lower()}|{status}|{when}"))


def _envelope(
    detail_type: str, arn: str, status: str, when: Any, detail: dict[str, Any], resources: list[str]
) -> dict[str, Any]:
    parts = arn.split(":")
    when_text = str(json_shaped(when))
    return {
        "version": "0",
        "id": event_id(arn, status, when_text),
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": parts[4],
        "time": when_text,
        "region": parts[3],
        "resources": resources,
        "detail": detail,
        "replay-name": REPLAY_NAME,
    }


def _first(described: dict[str, Any], *keys: str) -> Any:
    return next((described[k] for k in keys if described.get(k) is not None), None)


def described_event(
    detail_type: str, arn_key: str, status_key: str, described: dict[str, Any]
) -> dict[str, Any]:
    """A job, model package or endpoint: the event's detail is the Describe answer itself."""
    detail = json_shaped(described)
    arn = detail[arn_key]
    status = str(detail.get(status_key) or "")
    when = _first(
        detail, "LastModifiedTime", "TransformEndTime", "HyperParameterTuningEndTime", "CreationTime"
    )
    return _envelope(detail_type, arn, status, when, detail, [arn])


def pipeline_execution_event(described: dict[str, Any]) -> dict[str, Any]:
    """DescribePipelineExecution → Pipeline Execution Status Change (camelCase, start and end times)."""
    d = json_shaped(described)
    arn, status = d["PipelineExecutionArn"], d["PipelineExecutionStatus"]
    pipeline_arn = d.get("PipelineArn") or arn.split("/execution/", 1)[0]
    end = d.get("LastModifiedTime") if status != "Executing" else None
    detail = {
        "pipelineArn": pipeline_arn,
        "pipelineExecutionArn": arn,
        "currentPipelineExecutionStatus": status,
        "pipelineExecutionDisplayName": d.get("PipelineExecutionDisplayName"),
        "pipelineExecutionDescription": d.get("PipelineExecutionDescription"),
        "executionStartTime": d.get("CreationTime"),
        "executionEndTime": end,
    }
    when = end or d.get("CreationTime")
    return _envelope(
        PIPELINE, arn, status, when, {k: v for k, v in detail.items() if v is not None}, [pipeline_arn, arn]
    )


def pipeline_step_event(execution_arn: str, step: dict[str, Any]) -> dict[str, Any]:
    """One entry of ListPipelineExecutionSteps → Pipeline Execution Step Status Change."""
    s = json_shaped(step)
    status = s["StepStatus"]
    pipeline_arn = execution_arn.split("/execution/", 1)[0]
    metadata = s.get("Metadata") or {}
    step_type = next((_STEP_TYPES[k] for k in metadata if k in _STEP_TYPES), None)
    detail = {
        "pipelineArn": pipeline_arn,
        "pipelineExecutionArn": execution_arn,
        "stepName": s["StepName"],
        "stepType": step_type,
        "currentStepStatus": status,
        "stepStartTime": s.get("StartTime"),
        "stepEndTime": s.get("EndTime"),
        "failureReason": s.get("FailureReason"),
        "metadata": camel_keys(metadata),
        "cacheHitResult": camel_keys(s["CacheHitResult"]) if s.get("CacheHitResult") else None,
    }
    when = s.get("EndTime") or s.get("StartTime")
    step_id = f"{execution_arn}/step/{s['StepName']}"
    return _envelope(
        STEP,
        step_id,
        status,
        when,
        {k: v for k, v in detail.items() if v is not None},
        [pipeline_arn, execution_arn],
    )
