"""What a backfill walks: SageMaker's listings and Describe calls (the Catalog port), the job types
and the phases in their order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from steward.backfill import events as build
from steward.kernel.graph import NodeKind
from steward.lineage.record import SageMakerLookup


class Catalog(SageMakerLookup, Protocol):
    """SageMaker's List and Describe calls, each counted in `calls`."""

    calls: int

    def list_page(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...
    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Jobs:
    """A job type: its listing, the summary keys the known-check reads, its Describe, its event."""

    phase: str
    listing: str
    items: str
    arn: str
    name: str
    status: str
    describe: str
    parameter: str
    detail_type: str
    kind: NodeKind


JOBS = (
    Jobs(
        "processing-jobs",
        "list_processing_jobs",
        "ProcessingJobSummaries",
        "ProcessingJobArn",
        "ProcessingJobName",
        "ProcessingJobStatus",
        "describe_processing_job",
        "ProcessingJobName",
        build.PROCESSING,
        NodeKind.PROCESSING_JOB,
    ),
    Jobs(
        "training-jobs",
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobArn",
        "TrainingJobName",
        "TrainingJobStatus",
        "describe_training_job",
        "TrainingJobName",
        build.TRAINING,
        NodeKind.TRAINING_JOB,
    ),
    Jobs(
        "tuning-jobs",
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobArn",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        build.TUNING,
        NodeKind.TUNING_JOB,
    ),
    Jobs(
        "transform-jobs",
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobArn",
        "TransformJobName",
        "TransformJobStatus",
        "describe_transform_job",
        "TransformJobName",
        build.TRANSFORM,
        NodeKind.TRANSFORM_JOB,
    ),
)

# Endpoints before transform jobs: the models an endpoint's configs name are then recorded, and a
# transform job with one of them needs no DescribeModel.
PHASES = (
    "pipeline-executions",
    "processing-jobs",
    "training-jobs",
    "tuning-jobs",
    "model-packages",
    "endpoints",
    "transform-jobs",
    "endpoint-configs",
    "models",
)
TYPES = ("pipeline-executions", "pipeline-steps", *PHASES[1:])
