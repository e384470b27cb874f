"""Detail models of job and pipeline events (training, processing, transform, tuning; pipeline executions
and steps), with the pieces they share."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from steward.events.base import Camel, Pascal
from steward.events.normalize import (
    ListOrNull,
    MapOrNull,
    Tags,
    Timestamp,
    normalize_s3_uri,
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
