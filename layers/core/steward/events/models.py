"""Pydantic models of the SageMaker and CloudWatch events Steward consumes.

Envelopes extend `EventBridgeModel` (the fields and types of Powertools Parser's model of that name);
each detail model names the fields Steward reads, tolerates the rest (`extra="allow"`), and normalises
quirks through the annotated types of `normalize`. Field names are snake_case; aliases are SageMaker's
PascalCase or the camelCase of pipeline and CloudWatch events. The detail models live in `jobs` (jobs and
pipelines) and `resources` (registry, endpoints, alarms); this module is the one to import (`ev.*`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from steward.events.base import Camel, EventBridgeModel, Pascal
from steward.events.jobs import (
    STEP_METADATA_KINDS,
    AlgorithmSpecification,
    AppSpecification,
    CacheHitResult,
    Channel,
    DataSource,
    JobTimes,
    ModelArtifacts,
    OutputDataConfig,
    PipelineExecutionDetail,
    PipelineStepDetail,
    ProcessingInput,
    ProcessingJobDetail,
    ProcessingOutput,
    ProcessingOutputConfig,
    RuleConfiguration,
    RuleEvaluationStatus,
    S3DataSource,
    S3Input,
    S3Output,
    TrainingJobDefinition,
    TrainingJobDetail,
    TrainingJobRef,
    TransformInput,
    TransformJobDetail,
    TransformOutput,
    TuningJobDetail,
)
from steward.events.resources import (
    AlarmDetail,
    AlarmState,
    EndpointDetail,
    InferenceSpecification,
    MetadataProperties,
    ModelLifeCycle,
    ModelPackageDetail,
    PackageContainer,
    PendingDeploymentSummary,
    UserContext,
)

# --- envelopes -------------------------------------------------------------------------------------


# A flat table, one envelope per detail-type (alike by design: each binds a detail-type to its detail
# model, which is what parse_event dispatches on and what Powertools Parser users would write).


class SageMakerEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]


class TrainingJobStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Training Job State Change"] = Field(alias="detail-type")
    detail: TrainingJobDetail


class ProcessingJobStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Processing Job State Change"] = Field(alias="detail-type")
    detail: ProcessingJobDetail


class TransformJobStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Transform Job State Change"] = Field(alias="detail-type")
    detail: TransformJobDetail


class TuningJobStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker HyperParameter Tuning Job State Change"] = Field(alias="detail-type")
    detail: TuningJobDetail


class PipelineExecutionStatusChange(SageMakerEvent):
    detail_type: Literal["SageMaker Model Building Pipeline Execution Status Change"] = Field(
        alias="detail-type"
    )
    detail: PipelineExecutionDetail


class PipelineStepStatusChange(SageMakerEvent):
    detail_type: Literal["SageMaker Model Building Pipeline Execution Step Status Change"] = Field(
        alias="detail-type"
    )
    detail: PipelineStepDetail


class ModelPackageStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageDetail


class EndpointStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    detail: EndpointDetail


class EndpointDeploymentStateChange(SageMakerEvent):
    detail_type: Literal["SageMaker Endpoint Deployment State Change"] = Field(alias="detail-type")
    detail: EndpointDetail


class AlarmStateChange(EventBridgeModel):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmDetail


EVENT_MODELS: dict[str, type[EventBridgeModel]] = {
    model.model_fields["detail_type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        TrainingJobStateChange,
        ProcessingJobStateChange,
        TransformJobStateChange,
        TuningJobStateChange,
        PipelineExecutionStatusChange,
        PipelineStepStatusChange,
        ModelPackageStateChange,
        EndpointStateChange,
        EndpointDeploymentStateChange,
        AlarmStateChange,
    )
}

StewardEvent = (
    TrainingJobStateChange
    | ProcessingJobStateChange
    | TransformJobStateChange
    | TuningJobStateChange
    | PipelineExecutionStatusChange
    | PipelineStepStatusChange
    | ModelPackageStateChange
    | EndpointStateChange
    | EndpointDeploymentStateChange
    | AlarmStateChange
)


__all__ = [
    "EVENT_MODELS",
    "STEP_METADATA_KINDS",
    "AlarmDetail",
    "AlarmState",
    "AlarmStateChange",
    "AlgorithmSpecification",
    "AppSpecification",
    "CacheHitResult",
    "Camel",
    "Channel",
    "DataSource",
    "EndpointDeploymentStateChange",
    "EndpointDetail",
    "EndpointStateChange",
    "EventBridgeModel",
    "InferenceSpecification",
    "JobTimes",
    "MetadataProperties",
    "ModelArtifacts",
    "ModelLifeCycle",
    "ModelPackageDetail",
    "ModelPackageStateChange",
    "OutputDataConfig",
    "PackageContainer",
    "Pascal",
    "PendingDeploymentSummary",
    "PipelineExecutionDetail",
    "PipelineExecutionStatusChange",
    "PipelineStepDetail",
    "PipelineStepStatusChange",
    "ProcessingInput",
    "ProcessingJobDetail",
    "ProcessingJobStateChange",
    "ProcessingOutput",
    "ProcessingOutputConfig",
    "RuleConfiguration",
    "RuleEvaluationStatus",
    "S3DataSource",
    "S3Input",
    "S3Output",
    "SageMakerEvent",
    "StewardEvent",
    "TrainingJobDefinition",
    "TrainingJobDetail",
    "TrainingJobRef",
    "TrainingJobStateChange",
    "TransformInput",
    "TransformJobDetail",
    "TransformJobStateChange",
    "TransformOutput",
    "TuningJobDetail",
    "TuningJobStateChange",
    "UserContext",
]
