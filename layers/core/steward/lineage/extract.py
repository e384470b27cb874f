"""Pure translation of one parsed event into the lineage it states (no I/O).

Links come from facts the events carry (README "Lineage recording"): equal S3 URIs are one dataset node;
`ModelArtifacts.S3ModelArtifacts` is the package container's `ModelDataUrl`; a pipeline execution ARN
in step events, `MetadataProperties.GeneratedBy` or the `sagemaker:pipeline-execution-arn` tag ties
what it generated. Endpoint → config → model → package links come from SageMaker and are passed in as
`EndpointConfigFacts` by the use case.
"""

from __future__ import annotations

from typing import Any

from steward.events import models as ev
from steward.kernel.arns import arn_name, canonical_arn, s3_id, sagemaker_arn
from steward.kernel.graph import LineageChange, NodeKind, Relation
from steward.lineage.builder import (
    PIPELINE_TAG,
    ChangeBuilder,
    EndpointConfigFacts,
    ModelFacts,
    model_node,
    pipeline_execution_node,
    resource_location,
    state_time,
)
from steward.lineage.jobs import (
    pipeline_execution,
    pipeline_step,
    processing_job,
    training_job,
    transform_job,
    tuning_job,
)

__all__ = [
    "PIPELINE_TAG",
    "EndpointConfigFacts",
    "ModelFacts",
    "config_names",
    "endpoint",
    "extract",
    "model_package",
    "pipeline_execution",
    "pipeline_step",
    "processing_job",
    "resource_location",
    "training_job",
    "transform_job",
    "tuning_job",
]


def model_package(event: ev.ModelPackageStateChange) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    package = canonical_arn(d.model_package_arn)
    region, account, partition = resource_location(event, d.model_package_arn)
    group_name = d.group_name
    containers = d.inference_specification.containers if d.inference_specification else []
    meta = d.metadata_properties
    status = d.model_approval_status or "PendingManualApproval"
    b.primary(
        package,
        NodeKind.MODEL_PACKAGE,
        f"{group_name}/{d.version}" if d.version is not None else arn_name(package),
        status,
        state_time(
            event, d.last_modified_time
        ),  # no LastModifiedTime: the event's own time, never CreationTime
        # Older shapes lack ModelPackageGroupName: the ARN's lower-cased group never renames a known one.
        keep=() if d.model_package_group_name else ("name", "group"),
        history={
            "updatedFields": d.updated_model_package_fields,
            "approvalDescription": d.approval_description,
            "modifiedBy": d.last_modified_by.who if d.last_modified_by else None,
        },
        group=group_name,
        version=d.version,
        description=d.model_package_description,
        packageStatus=d.model_package_status,
        approvalDescription=d.approval_description,
        registeredBy=d.created_by.who if d.created_by else None,
        images=[c.image for c in containers if c.image],
        imageDigests=[c.image_digest for c in containers if c.image_digest],
        repository=meta.repository if meta else None,
        commitId=meta.commit_id if meta else None,
        customerMetadata=d.customer_metadata_properties,
        lifecycleStage=d.model_life_cycle.stage if d.model_life_cycle else None,
        lifecycleStageStatus=d.model_life_cycle.stage_status if d.model_life_cycle else None,
        createdAt=d.creation_time,
        tags=d.tags,
        region=region,
        account=account,
    )
    group = b.node(
        sagemaker_arn(region, account, "model-package-group", group_name, partition),
        NodeKind.MODEL_PACKAGE_GROUP,
        group_name,
    )
    b.edge(group, package, Relation.CONTAINS)
    for container in containers:
        if container.model_data_url and container.model_data_url.startswith("s3://"):
            artifact = s3_id(container.model_data_url)
            b.node(artifact, NodeKind.MODEL_ARTIFACT, artifact.rsplit("/", 1)[-1], uri=artifact)
            b.edge(artifact, package, Relation.PACKAGED_AS)
    for path, uri in d.metric_report_uris().items():
        b.edge(b.dataset(uri, report=path), package, Relation.METRICS)
    b.edge(pipeline_execution_node(b, meta.generated_by if meta else None), package, Relation.GENERATED)
    return b.change()


def _config_node(b: ChangeBuilder, config: EndpointConfigFacts) -> str:
    config_id = b.node(
        canonical_arn(config.arn),
        NodeKind.ENDPOINT_CONFIG,
        config.name,
        resolved=config.resolved,
        dataCapture=config.data_capture_uri,
    )
    for model in config.models:
        b.edge(model_node(b, model), config_id, Relation.USED_BY)
    return config_id


def endpoint(
    event: ev.EndpointStateChange | ev.EndpointDeploymentStateChange,
    configs: dict[str, EndpointConfigFacts] | None = None,
) -> LineageChange:
    """Endpoint and Endpoint Deployment State Change. `configs` maps config names to what SageMaker says."""
    d, b = event.detail, ChangeBuilder(event)
    configs = configs or {}
    region, account, partition = resource_location(event, d.endpoint_arn)
    endpoint_id = (
        canonical_arn(d.endpoint_arn)
        if d.endpoint_arn
        else sagemaker_arn(region, account, "endpoint", d.endpoint_name, partition)
    )
    pending = d.pending_deployment_summary.endpoint_config_name if d.pending_deployment_summary else None
    b.primary(
        endpoint_id,
        NodeKind.ENDPOINT,
        d.endpoint_name,
        d.endpoint_status,
        state_time(event, d.last_modified_time),
        clear=("pendingEndpointConfigName", "failureReason"),  # gone once the endpoint moves on
        history={
            "endpointConfigName": d.endpoint_config_name,
            "pendingEndpointConfigName": pending,
            "failureReason": d.failure_reason,
            "detailType": event.detail_type,
        },
        endpointConfigName=d.endpoint_config_name,
        pendingEndpointConfigName=pending,
        failureReason=d.failure_reason,
        createdAt=d.creation_time,
        tags=d.tags,
        region=region,
        account=account,
    )
    for name in (d.endpoint_config_name, pending):
        if not name:
            continue
        facts = configs.get(name) or EndpointConfigFacts(
            name=name, arn=sagemaker_arn(region, account, "endpoint-config", name, partition), resolved=False
        )
        config_id = _config_node(b, facts)
        # Only the config the endpoint reports at top level has served; a pending one may never serve.
        if name == d.endpoint_config_name and d.endpoint_status in (
            "InService",
            "Updating",
            "SystemUpdating",
            "UpdateRollbackFailed",
        ):
            b.edge(config_id, endpoint_id, Relation.CONFIGURES)
    return b.change()


def config_names(event: ev.EndpointStateChange | ev.EndpointDeploymentStateChange) -> list[str]:
    d = event.detail
    pending = d.pending_deployment_summary.endpoint_config_name if d.pending_deployment_summary else None
    return [n for n in (d.endpoint_config_name, pending) if n]


def extract(
    event: Any, configs: dict[str, EndpointConfigFacts] | None = None, model: ModelFacts | None = None
) -> LineageChange | None:
    """The lineage an event states, or None for event types that carry no lineage (alarms)."""
    if isinstance(event, ev.TrainingJobStateChange):
        return training_job(event)
    if isinstance(event, ev.ProcessingJobStateChange):
        return processing_job(event)
    if isinstance(event, ev.TransformJobStateChange):
        return transform_job(event, model)
    if isinstance(event, ev.TuningJobStateChange):
        return tuning_job(event)
    if isinstance(event, ev.PipelineExecutionStatusChange):
        return pipeline_execution(event)
    if isinstance(event, ev.PipelineStepStatusChange):
        return pipeline_step(event)
    if isinstance(event, ev.ModelPackageStateChange):
        return model_package(event)
    if isinstance(event, ev.EndpointStateChange | ev.EndpointDeploymentStateChange):
        return endpoint(event, configs)
    return None
