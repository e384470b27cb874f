"""Pydantic models of the SageMaker and CloudWatch events Steward consumes.

Envelopes extend `EventBridgeModel` (the fields and types of Powertools Parser's model of that name);
each detail model names the fields Steward reads, tolerates the rest (`extra="allow"`), and normalises
quirks through the annotated types of `normalize`. Field names are snake_case; aliases are SageMaker's
PascalCase or the camelCase of pipeline and CloudWatch events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal

from steward.events.normalize import (
    EndpointStatus,
    ListOrNull,
    MapOrNull,
    Tags,
    Timestamp,
    normalize_s3_uri,
)


class EventBridgeModel(BaseModel):
    """The EventBridge envelope, as Powertools Parser declares it. Declared here: importing Parser's
    model imports every model Parser ships, about 100 ms of each function's cold start."""

    # Validators are built on first use, for the event types a function receives (defer_build).
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(None, alias="replay-name")


class Pascal(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="allow", frozen=True, defer_build=True
    )


class Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True, defer_build=True
    )


def _s3(uri: str | None) -> str | None:
    return normalize_s3_uri(uri) if uri else None


# --- shared pieces ---------------------------------------------------------------------------------


class S3DataSource(Pascal):
    s3_uri: str | None = Field(None, alias="S3Uri")


class DataSource(Pascal):
    s3_data_source: S3DataSource | None = Field(None, alias="S3DataSource")


class Channel(Pascal):
    channel_name: str | None = None
    data_source: DataSource | None = None

    @property
    def s3_uri(self) -> str | None:
        ds = self.data_source
        return _s3(ds.s3_data_source.s3_uri) if ds and ds.s3_data_source else None


class AlgorithmSpecification(Pascal):
    training_image: str | None = None
    algorithm_name: str | None = None


class OutputDataConfig(Pascal):
    s3_output_path: str | None = None


class ModelArtifacts(Pascal):
    s3_model_artifacts: str | None = None


class RuleEvaluationStatus(Pascal):
    """One entry of DebugRuleEvaluationStatuses / ProfilerRuleEvaluationStatuses: InProgress, then
    NoIssuesFound | IssuesFound | Error | Stopping | Stopped. The rule runs as its own processing job
    (RuleEvaluationJobArn) and often ends after the training job did."""

    rule_configuration_name: str | None = None
    rule_evaluation_status: str | None = None
    status_details: str | None = None
    rule_evaluation_job_arn: str | None = None
    last_modified_time: Timestamp = None


class RuleConfiguration(Pascal):
    """One of DebugRuleConfigurations / ProfilerRuleConfigurations (only its name is read)."""

    rule_configuration_name: str | None = None


class JobTimes(Pascal):
    creation_time: Timestamp = None
    last_modified_time: Timestamp = None


# --- jobs ------------------------------------------------------------------------------------------


class TrainingJobDetail(JobTimes):
    training_job_name: str
    training_job_arn: str
    training_job_status: str
    secondary_status: str | None = None
    failure_reason: str | None = None
    algorithm_specification: AlgorithmSpecification | None = None
    input_data_config: ListOrNull[Channel] = Field(default_factory=list)
    output_data_config: OutputDataConfig | None = None
    model_artifacts: ModelArtifacts | None = None
    training_start_time: Timestamp = None
    training_end_time: Timestamp = None
    tuning_job_arn: str | None = None
    role_arn: str | None = None
    tags: Tags = Field(default_factory=dict)
    debug_rule_evaluation_statuses: ListOrNull[RuleEvaluationStatus] = Field(default_factory=list)
    profiler_rule_evaluation_statuses: ListOrNull[RuleEvaluationStatus] = Field(default_factory=list)
    debug_rule_configurations: ListOrNull[RuleConfiguration] = Field(default_factory=list)
    profiler_rule_configurations: ListOrNull[RuleConfiguration] = Field(default_factory=list)


class S3Input(Pascal):
    s3_uri: str | None = Field(None, alias="S3Uri")


class ProcessingInput(Pascal):
    input_name: str | None = None
    s3_input: S3Input | None = Field(None, alias="S3Input")


class S3Output(Pascal):
    s3_uri: str | None = Field(None, alias="S3Uri")


class ProcessingOutput(Pascal):
    output_name: str | None = None
    s3_output: S3Output | None = Field(None, alias="S3Output")


class ProcessingOutputConfig(Pascal):
    outputs: ListOrNull[ProcessingOutput] = Field(default_factory=list)


class AppSpecification(Pascal):
    image_uri: str | None = None


class ProcessingJobDetail(JobTimes):
    processing_job_name: str
    processing_job_arn: str
    processing_job_status: str
    processing_inputs: ListOrNull[ProcessingInput] = Field(default_factory=list)
    processing_output_config: ProcessingOutputConfig | None = None
    app_specification: AppSpecification | None = None
    environment: MapOrNull[str] = Field(default_factory=dict)
    exit_message: str | None = None
    failure_reason: str | None = None
    monitoring_schedule_arn: str | None = None
    training_job_arn: str | None = None
    processing_start_time: Timestamp = None
    processing_end_time: Timestamp = None
    tags: Tags = Field(default_factory=dict)

    @property
    def is_monitoring_execution(self) -> bool:
        """Model Monitor executions are processing jobs of a monitoring schedule."""
        return bool(
            self.monitoring_schedule_arn or self.environment.get("sagemaker_monitoring_schedule_name")
        )

    @property
    def monitored_endpoint_name(self) -> str | None:
        return self.environment.get("sagemaker_endpoint_name")

    @property
    def monitoring_schedule_name(self) -> str | None:
        if self.monitoring_schedule_arn:
            return self.monitoring_schedule_arn.rsplit("/", 1)[-1]
        return self.environment.get("sagemaker_monitoring_schedule_name")

    @property
    def violations_reported(self) -> bool:
        return (self.exit_message or "").startswith("CompletedWithViolations")


class TransformInput(Pascal):
    data_source: DataSource | None = None


class TransformOutput(Pascal):
    s3_output_path: str | None = None


class TransformJobDetail(JobTimes):
    transform_job_name: str
    transform_job_arn: str
    transform_job_status: str
    model_name: str | None = None
    failure_reason: str | None = None
    transform_input: TransformInput | None = None
    transform_output: TransformOutput | None = None
    transform_start_time: Timestamp = None
    transform_end_time: Timestamp = None
    tags: Tags = Field(default_factory=dict)


class TrainingJobRef(Pascal):
    training_job_name: str | None = None
    training_job_arn: str | None = None
    training_job_status: str | None = None


class TrainingJobDefinition(Pascal):
    algorithm_specification: AlgorithmSpecification | None = None
    input_data_config: ListOrNull[Channel] = Field(default_factory=list)
    output_data_config: OutputDataConfig | None = None


class TuningJobDetail(JobTimes):
    hyper_parameter_tuning_job_name: str
    hyper_parameter_tuning_job_arn: str
    hyper_parameter_tuning_job_status: str
    best_training_job: TrainingJobRef | None = None
    training_job_definition: TrainingJobDefinition | None = None
    training_job_status_counters: dict[str, int] | None = None
    failure_reason: str | None = None
    hyper_parameter_tuning_end_time: Timestamp = None
    tags: Tags = Field(default_factory=dict)


# --- pipelines (camelCase) -------------------------------------------------------------------------


class PipelineExecutionDetail(Camel):
    pipeline_arn: str
    pipeline_execution_arn: str
    current_pipeline_execution_status: str
    previous_pipeline_execution_status: str | None = None
    pipeline_execution_display_name: str | None = None
    pipeline_execution_description: str | None = None
    execution_start_time: Timestamp = None
    execution_end_time: Timestamp = None


class CacheHitResult(Camel):
    source_pipeline_execution_arn: str | None = None


# Step metadata keys naming the resource a step ran or produced (camelCase of
# ListPipelineExecutionSteps' Metadata), with the node kind each one is.
STEP_METADATA_KINDS = {
    "processingJob": "processing-job",
    "trainingJob": "training-job",
    "transformJob": "transform-job",
    "tuningJob": "tuning-job",
    "registerModel": "model-package",
    "model": "model",
}


class PipelineStepDetail(Camel):
    pipeline_arn: str
    pipeline_execution_arn: str
    step_name: str
    current_step_status: str
    step_type: str | None = None
    previous_step_status: str | None = None
    step_start_time: Timestamp = None
    step_end_time: Timestamp = None
    failure_reason: str | None = None
    metadata: MapOrNull[Any] = Field(default_factory=dict)
    cache_hit_result: CacheHitResult | None = None

    def step_resources(self) -> list[tuple[str, str]]:
        """(kind, arn) of each resource the step's metadata names."""
        found = []
        for key, kind in STEP_METADATA_KINDS.items():
            entry = self.metadata.get(key)
            if isinstance(entry, dict) and isinstance(entry.get("arn"), str) and entry["arn"]:
                found.append((kind, entry["arn"]))
        return found


# --- model registry --------------------------------------------------------------------------------


class PackageContainer(Pascal):
    image: str | None = None
    image_digest: str | None = None
    model_data_url: str | None = None


class InferenceSpecification(Pascal):
    containers: ListOrNull[PackageContainer] = Field(default_factory=list)


class MetadataProperties(Pascal):
    generated_by: str | None = None
    repository: str | None = None
    commit_id: str | None = None
    project_id: str | None = None


class UserContext(Pascal):
    user_profile_name: str | None = None
    user_profile_arn: str | None = None
    iam_identity: dict[str, Any] | None = None

    @property
    def who(self) -> str | None:
        arn = (self.iam_identity or {}).get("Arn")
        return self.user_profile_name or (arn if isinstance(arn, str) else None)

    @property
    def identities(self) -> list[str]:
        """Every identity SageMaker reports for the caller: a Studio profile and an IAM identity can come
        together, and each is the same person (separation of duties checks them all). An assumed-role
        session's name and a SourceIdentity are usually the person's own name or email."""
        iam = self.iam_identity or {}
        found = [self.user_profile_name, self.user_profile_arn, iam.get("Arn"), iam.get("SourceIdentity")]
        arn = iam.get("Arn")
        if isinstance(arn, str) and ":assumed-role/" in arn:
            found.append(arn.rsplit("/", 1)[-1])  # arn:aws:sts::…:assumed-role/Role/<session name>
        unique: dict[str, None] = {}
        for value in found:
            if isinstance(value, str) and value.strip():
                unique.setdefault(value.strip(), None)
        return list(unique)


class ModelLifeCycle(Pascal):
    stage: str | None = None
    stage_status: str | None = None
    stage_description: str | None = None


class ModelPackageDetail(JobTimes):
    model_package_arn: str
    model_package_group_name: str | None = None
    model_package_version: int | None = None
    model_package_description: str | None = None
    model_approval_status: str | None = None
    model_package_status: str | None = None
    approval_description: str | None = None
    inference_specification: InferenceSpecification | None = None
    metadata_properties: MetadataProperties | None = None
    model_metrics: MapOrNull[Any] = Field(default_factory=dict)
    drift_check_baselines: MapOrNull[Any] = Field(default_factory=dict)
    customer_metadata_properties: MapOrNull[str] = Field(default_factory=dict)
    updated_model_package_fields: list[str] | None = None
    created_by: UserContext | None = None
    last_modified_by: UserContext | None = None
    model_life_cycle: ModelLifeCycle | None = None
    tags: Tags = Field(default_factory=dict)

    @property
    def group_name(self) -> str:
        """The group, from the field or (older shapes) the ARN `.../model-package/<group>/<version>`."""
        if self.model_package_group_name:
            return self.model_package_group_name
        return self.model_package_arn.split(":model-package/", 1)[-1].split("/", 1)[0]

    @property
    def version(self) -> int | None:
        if self.model_package_version is not None:
            return self.model_package_version
        tail = self.model_package_arn.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def metric_report_uris(self) -> dict[str, str]:
        """`ModelMetrics` report S3 URIs by their path, e.g. {"ModelQuality.Statistics": "s3://..."}."""
        uris: dict[str, str] = {}

        def walk(node: Any, path: str) -> None:
            if isinstance(node, dict):
                uri = node.get("S3Uri")
                if isinstance(uri, str) and uri.startswith("s3://"):
                    uris[path] = normalize_s3_uri(uri)
                for key, child in node.items():
                    walk(child, f"{path}.{key}" if path else key)

        walk(self.model_metrics, "")
        return uris


# --- endpoints -------------------------------------------------------------------------------------


class PendingDeploymentSummary(Pascal):
    endpoint_config_name: str | None = None
    start_time: Timestamp = None
    production_variants: list[dict[str, Any]] = Field(default_factory=list)


class EndpointDetail(JobTimes):
    endpoint_name: str
    endpoint_arn: str | None = None
    endpoint_config_name: str | None = None
    endpoint_status: EndpointStatus
    failure_reason: str | None = None
    production_variants: ListOrNull[dict[str, Any]] = Field(default_factory=list)
    pending_deployment_summary: PendingDeploymentSummary | None = None
    tags: Tags = Field(default_factory=dict)


# --- CloudWatch alarms (camelCase) -----------------------------------------------------------------


class AlarmState(Camel):
    value: str
    reason: str | None = None
    reason_data: str | None = None
    timestamp: Timestamp = None


class AlarmDetail(Camel):
    alarm_name: str
    state: AlarmState
    previous_state: AlarmState | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)

    def dimensions(self) -> dict[str, str]:
        """Every metric dimension of the alarm (metric-math alarms have several metrics)."""
        dims: dict[str, str] = {}
        for metric in self.configuration.get("metrics") or []:
            stat = (metric or {}).get("metricStat") or {}
            for key, value in ((stat.get("metric") or {}).get("dimensions") or {}).items():
                dims[str(key)] = str(value)
        return dims

    def metric_names(self) -> list[str]:
        names = []
        for metric in self.configuration.get("metrics") or []:
            name = (((metric or {}).get("metricStat") or {}).get("metric") or {}).get("name")
            if isinstance(name, str):
                names.append(name)
        return names


# --- envelopes -------------------------------------------------------------------------------------


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
