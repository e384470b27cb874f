"""Pure translation of one parsed event into the lineage it states (no I/O).

Links come from facts the events carry (README "Lineage recording"): equal S3 URIs are one dataset node;
`ModelArtifacts.S3ModelArtifacts` is the package container's `ModelDataUrl`; a pipeline execution ARN
in step events, `MetadataProperties.GeneratedBy` or the `sagemaker:pipeline-execution-arn` tag ties
what it generated. Endpoint → config → model → package links come from SageMaker and are passed in as
`EndpointConfigFacts` by the use case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.events import models as ev
from steward.kernel.arns import arn_name, arn_parts, canonical_arn, s3_id, sagemaker_arn
from steward.kernel.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation

PIPELINE_TAG = "sagemaker:pipeline-execution-arn"
_MAX_TEXT = 1024


class ModelFacts(BaseModel):
    """What DescribeModel says about one model of an endpoint config."""

    model_config = ConfigDict(defer_build=True)

    name: str
    arn: str
    model_package_arn: str | None = None
    model_data_urls: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)


class EndpointConfigFacts(BaseModel):
    """What DescribeEndpointConfig (+ DescribeModel) says; configs and models are immutable in SageMaker."""

    model_config = ConfigDict(defer_build=True)

    name: str
    arn: str
    models: list[ModelFacts] = Field(default_factory=list)
    data_capture_uri: str | None = None
    resolved: bool = True  # False when SageMaker could not be asked (degraded: recorded by name only)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values and clip long free text (FailureReason/ExitMessage are ≤ 1 KB on AWS anyway)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None or value in ("", {}, []):
            continue
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str) and len(value) > _MAX_TEXT:
            out[key] = value[: _MAX_TEXT - 1] + "…"
        else:
            out[key] = value
    return out


class _Builder:
    def __init__(self, event: Any) -> None:
        self.event = event
        self.nodes: dict[str, NodeUpdate] = {}
        self.edges: dict[tuple[str, str, str], EdgeUpdate] = {}

    def node(self, node_id: str, kind: NodeKind, name: str | None = None, **attributes: Any) -> str:
        existing = self.nodes.get(node_id)
        if existing is None or existing.status is None:
            merged = {**(existing.attributes if existing else {}), **_clean(attributes)}
            self.nodes[node_id] = NodeUpdate(
                id=node_id, kind=kind, name=name or arn_name(node_id), attributes=merged
            )
        return node_id

    def primary(
        self,
        node_id: str,
        kind: NodeKind,
        name: str,
        status: str,
        when: datetime,
        history: dict[str, Any] | None = None,
        clear: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
        **attributes: Any,
    ) -> str:
        self.nodes[node_id] = NodeUpdate(
            id=node_id,
            kind=kind,
            name=name,
            status=status,
            status_time=when,
            attributes=_clean(attributes),
            history=_clean(history or {}),
            clear=clear,
            keep=keep,
        )
        return node_id

    def dataset(self, uri: str | None, **attributes: Any) -> str | None:
        if not uri or not uri.startswith("s3://"):
            return None
        node_id = s3_id(uri)
        return self.node(
            node_id, NodeKind.DATASET, node_id.rsplit("/", 1)[-1] or node_id, uri=node_id, **attributes
        )

    def edge(self, source: str | None, target: str | None, relation: Relation) -> None:
        if source and target and source != target:
            self.edges[(source, target, relation.value)] = EdgeUpdate(
                source=source, target=target, relation=relation
            )

    def change(self) -> LineageChange:
        return LineageChange(
            event_id=self.event.id,
            event_time=self.event.time,
            detail_type=self.event.detail_type,
            replay_name=self.event.replay_name,
            nodes=list(self.nodes.values()),
            edges=list(self.edges.values()),
        )


def _when(event: Any, *candidates: datetime | None) -> datetime:
    """The time that orders this resource's states: the detail's own time, else the envelope's."""
    return next((c for c in candidates if c is not None), event.time)


def _pipeline_execution(b: _Builder, arn: str | None) -> str | None:
    if not arn or ":pipeline/" not in arn:
        return None
    node_id = canonical_arn(arn)
    pipeline = node_id.split(":pipeline/", 1)[1].split("/", 1)[0]
    return b.node(node_id, NodeKind.PIPELINE_EXECUTION, f"{pipeline}/{arn_name(node_id)}", pipeline=pipeline)


def training_job(event: ev.TrainingJobStateChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
    algo = d.algorithm_specification
    # The rule evaluations (`ruleEvaluations`) are merged rule by rule after the change (record_lineage,
    # lineage.rules): a rule moves on its own, often after the job has ended.
    job = b.primary(
        canonical_arn(d.training_job_arn),
        NodeKind.TRAINING_JOB,
        d.training_job_name,
        d.training_job_status,
        _when(event, d.last_modified_time),
        history={"secondaryStatus": d.secondary_status},
        secondaryStatus=d.secondary_status,
        failureReason=d.failure_reason,
        image=algo.training_image if algo else None,
        algorithm=algo.algorithm_name if algo else None,
        createdAt=d.creation_time,
        startedAt=d.training_start_time,
        endedAt=d.training_end_time,
        outputPath=d.output_data_config.s3_output_path if d.output_data_config else None,
        tags=d.tags,
        region=event.region,
        account=event.account,
    )
    for channel in d.input_data_config:
        b.edge(b.dataset(channel.s3_uri), job, Relation.INPUT)
    if d.model_artifacts and d.model_artifacts.s3_model_artifacts:
        artifact = s3_id(d.model_artifacts.s3_model_artifacts)
        b.node(artifact, NodeKind.MODEL_ARTIFACT, artifact.rsplit("/", 1)[-1], uri=artifact)
        b.edge(job, artifact, Relation.PRODUCED)
    if d.tuning_job_arn:
        tuning = b.node(canonical_arn(d.tuning_job_arn), NodeKind.TUNING_JOB)
        b.edge(tuning, job, Relation.LAUNCHED)
    b.edge(_pipeline_execution(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def processing_job(event: ev.ProcessingJobStateChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
    monitoring = d.is_monitoring_execution
    kind = NodeKind.MONITORING_EXECUTION if monitoring else NodeKind.PROCESSING_JOB
    job = b.primary(
        canonical_arn(d.processing_job_arn),
        kind,
        d.processing_job_name,
        d.processing_job_status,
        _when(event, d.last_modified_time),
        history={"exitMessage": d.exit_message},
        failureReason=d.failure_reason,
        exitMessage=d.exit_message,
        image=d.app_specification.image_uri if d.app_specification else None,
        createdAt=d.creation_time,
        startedAt=d.processing_start_time,
        endedAt=d.processing_end_time,
        monitoringSchedule=d.monitoring_schedule_name if monitoring else None,
        violationsReported=d.violations_reported if monitoring else None,
        tags=d.tags,
        region=event.region,
        account=event.account,
    )
    for item in d.processing_inputs:
        uri = item.s3_input.s3_uri if item.s3_input else None
        relation = Relation.CODE if (item.input_name or "").lower() == "code" else Relation.INPUT
        b.edge(b.dataset(uri, role="code" if relation is Relation.CODE else None), job, relation)
    for out in d.processing_output_config.outputs if d.processing_output_config else []:
        b.edge(job, b.dataset(out.s3_output.s3_uri if out.s3_output else None), Relation.OUTPUT)
    if monitoring and d.monitored_endpoint_name:
        region, account, partition = resource_location(event, d.processing_job_arn)
        endpoint = b.node(
            sagemaker_arn(region, account, "endpoint", d.monitored_endpoint_name, partition),
            NodeKind.ENDPOINT,
            d.monitored_endpoint_name,
        )
        b.edge(endpoint, job, Relation.MONITORED_BY)
    if d.training_job_arn:
        b.edge(b.node(canonical_arn(d.training_job_arn), NodeKind.TRAINING_JOB), job, Relation.INPUT)
    b.edge(_pipeline_execution(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def transform_job(event: ev.TransformJobStateChange, model: ModelFacts | None = None) -> LineageChange:
    d, b = event.detail, _Builder(event)
    job = b.primary(
        canonical_arn(d.transform_job_arn),
        NodeKind.TRANSFORM_JOB,
        d.transform_job_name,
        d.transform_job_status,
        _when(
            event,
            d.last_modified_time,
            d.transform_end_time if d.transform_job_status != "InProgress" else None,
            d.transform_start_time,
            d.creation_time,
        ),
        failureReason=d.failure_reason,
        modelName=d.model_name,
        createdAt=d.creation_time,
        startedAt=d.transform_start_time,
        endedAt=d.transform_end_time,
        tags=d.tags,
        region=event.region,
        account=event.account,
    )
    ds = d.transform_input.data_source if d.transform_input else None
    b.edge(b.dataset(ds.s3_data_source.s3_uri if ds and ds.s3_data_source else None), job, Relation.INPUT)
    b.edge(job, b.dataset(d.transform_output.s3_output_path if d.transform_output else None), Relation.OUTPUT)
    if d.model_name:
        region, account, partition = resource_location(event, d.transform_job_arn)
        model_id = (
            _model_node(b, model)
            if model
            else b.node(
                sagemaker_arn(region, account, "model", d.model_name, partition), NodeKind.MODEL, d.model_name
            )
        )
        b.edge(model_id, job, Relation.INPUT)
    b.edge(_pipeline_execution(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def tuning_job(event: ev.TuningJobStateChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
    definition = d.training_job_definition
    best = d.best_training_job
    job = b.primary(
        canonical_arn(d.hyper_parameter_tuning_job_arn),
        NodeKind.TUNING_JOB,
        d.hyper_parameter_tuning_job_name,
        d.hyper_parameter_tuning_job_status,
        _when(event, d.last_modified_time),
        failureReason=d.failure_reason,
        counters=d.training_job_status_counters,
        bestTrainingJob=canonical_arn(best.training_job_arn) if best and best.training_job_arn else None,
        image=definition.algorithm_specification.training_image
        if definition and definition.algorithm_specification
        else None,
        createdAt=d.creation_time,
        endedAt=d.hyper_parameter_tuning_end_time,
        tags=d.tags,
        region=event.region,
        account=event.account,
    )
    for channel in definition.input_data_config if definition else []:
        b.edge(b.dataset(channel.s3_uri), job, Relation.INPUT)
    if best and best.training_job_arn:
        training = b.node(canonical_arn(best.training_job_arn), NodeKind.TRAINING_JOB, best.training_job_name)
        b.edge(job, training, Relation.LAUNCHED)
    b.edge(_pipeline_execution(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def pipeline_execution(event: ev.PipelineExecutionStatusChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
    node_id = canonical_arn(d.pipeline_execution_arn)
    pipeline = node_id.split(":pipeline/", 1)[-1].split("/", 1)[0]
    b.primary(
        node_id,
        NodeKind.PIPELINE_EXECUTION,
        f"{pipeline}/{arn_name(node_id)}",
        d.current_pipeline_execution_status,
        _when(
            event,
            d.execution_end_time,
            d.execution_start_time if d.current_pipeline_execution_status == "Executing" else None,
        ),
        pipeline=pipeline,
        pipelineArn=canonical_arn(d.pipeline_arn),
        displayName=d.pipeline_execution_display_name,
        description=d.pipeline_execution_description,
        startedAt=d.execution_start_time,
        endedAt=d.execution_end_time,
        region=event.region,
        account=event.account,
    )
    return b.change()


def pipeline_step(event: ev.PipelineStepStatusChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
    execution = _pipeline_execution(b, d.pipeline_execution_arn)
    step_id = f"{canonical_arn(d.pipeline_execution_arn)}/step/{d.step_name}"
    cache_source = d.cache_hit_result.source_pipeline_execution_arn if d.cache_hit_result else None
    step = b.primary(
        step_id,
        NodeKind.PIPELINE_STEP,
        d.step_name,
        d.current_step_status,
        _when(
            event,
            d.step_end_time if d.current_step_status not in ("Starting", "Executing") else None,
            d.step_start_time,
        ),
        stepType=d.step_type,
        failureReason=d.failure_reason,
        startedAt=d.step_start_time,
        endedAt=d.step_end_time,
        cacheHitSource=canonical_arn(cache_source) if cache_source else None,
        conditionOutcome=(d.metadata.get("condition") or {}).get("outcome")
        if isinstance(d.metadata.get("condition"), dict)
        else None,
    )
    b.edge(execution, step, Relation.HAS_STEP)
    for kind, arn in d.step_resources():
        resource = b.node(canonical_arn(arn), NodeKind(kind))
        b.edge(step, resource, Relation.RAN)
        if not cache_source:  # a cache hit reuses another execution's job: that one generated it
            b.edge(execution, resource, Relation.GENERATED)
    return b.change()


def model_package(event: ev.ModelPackageStateChange) -> LineageChange:
    d, b = event.detail, _Builder(event)
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
        _when(event, d.last_modified_time),  # no LastModifiedTime: the event's own time, never CreationTime
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
    b.edge(_pipeline_execution(b, meta.generated_by if meta else None), package, Relation.GENERATED)
    return b.change()


def _model_node(b: _Builder, model: ModelFacts) -> str:
    model_id = b.node(canonical_arn(model.arn), NodeKind.MODEL, model.name, images=model.images)
    if model.model_package_arn:
        b.edge(
            b.node(canonical_arn(model.model_package_arn), NodeKind.MODEL_PACKAGE),
            model_id,
            Relation.INSTANTIATED_AS,
        )
    elif model.model_data_urls:
        for url in model.model_data_urls:
            artifact = s3_id(url)
            b.node(artifact, NodeKind.MODEL_ARTIFACT, artifact.rsplit("/", 1)[-1], uri=artifact)
            b.edge(artifact, model_id, Relation.INSTANTIATED_AS)
    return model_id


def _config_node(b: _Builder, config: EndpointConfigFacts) -> str:
    config_id = b.node(
        canonical_arn(config.arn),
        NodeKind.ENDPOINT_CONFIG,
        config.name,
        resolved=config.resolved,
        dataCapture=config.data_capture_uri,
    )
    for model in config.models:
        b.edge(_model_node(b, model), config_id, Relation.USED_BY)
    return config_id


def endpoint(
    event: ev.EndpointStateChange | ev.EndpointDeploymentStateChange,
    configs: dict[str, EndpointConfigFacts] | None = None,
) -> LineageChange:
    """Endpoint and Endpoint Deployment State Change. `configs` maps config names to what SageMaker says."""
    d, b = event.detail, _Builder(event)
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
        _when(event, d.last_modified_time),
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


def resource_location(event: Any, arn: str | None) -> tuple[str, str, str]:
    """(region, account, partition) of the resource: its ARN's when known (events may be forwarded)."""
    parts = arn_parts(arn) if arn else None
    if parts:
        partition, region, account = parts
        return region or event.region, account or event.account, partition
    return event.region, event.account, "aws"


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
