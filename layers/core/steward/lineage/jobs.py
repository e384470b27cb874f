"""Extraction of jobs and pipelines (training, processing, transform, tuning; pipeline executions and
steps): pure translation of one parsed event into the lineage it states (steward.lineage.extract)."""

from __future__ import annotations

from steward.events import models as ev
from steward.kernel.arns import arn_name, canonical_arn, s3_id, sagemaker_arn
from steward.kernel.graph import LineageChange, NodeKind, Relation
from steward.lineage.builder import (
    PIPELINE_TAG,
    ChangeBuilder,
    ModelFacts,
    model_node,
    pipeline_execution_node,
    resource_location,
    state_time,
)


def training_job(event: ev.TrainingJobStateChange) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    algo = d.algorithm_specification
    # The rule evaluations (`ruleEvaluations`) are merged rule by rule after the change (record_lineage,
    # lineage.rules): a rule moves on its own, often after the job has ended.
    job = b.primary(
        canonical_arn(d.training_job_arn),
        NodeKind.TRAINING_JOB,
        d.training_job_name,
        d.training_job_status,
        state_time(event, d.last_modified_time),
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
    b.edge(pipeline_execution_node(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def processing_job(event: ev.ProcessingJobStateChange) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    monitoring = d.is_monitoring_execution
    kind = NodeKind.MONITORING_EXECUTION if monitoring else NodeKind.PROCESSING_JOB
    job = b.primary(
        canonical_arn(d.processing_job_arn),
        kind,
        d.processing_job_name,
        d.processing_job_status,
        state_time(event, d.last_modified_time),
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
    b.edge(pipeline_execution_node(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def transform_job(event: ev.TransformJobStateChange, model: ModelFacts | None = None) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    job = b.primary(
        canonical_arn(d.transform_job_arn),
        NodeKind.TRANSFORM_JOB,
        d.transform_job_name,
        d.transform_job_status,
        state_time(
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
            model_node(b, model)
            if model
            else b.node(
                sagemaker_arn(region, account, "model", d.model_name, partition), NodeKind.MODEL, d.model_name
            )
        )
        b.edge(model_id, job, Relation.INPUT)
    b.edge(pipeline_execution_node(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def tuning_job(event: ev.TuningJobStateChange) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    definition = d.training_job_definition
    best = d.best_training_job
    job = b.primary(
        canonical_arn(d.hyper_parameter_tuning_job_arn),
        NodeKind.TUNING_JOB,
        d.hyper_parameter_tuning_job_name,
        d.hyper_parameter_tuning_job_status,
        state_time(event, d.last_modified_time),
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
    b.edge(pipeline_execution_node(b, d.tags.get(PIPELINE_TAG)), job, Relation.GENERATED)
    return b.change()


def pipeline_execution(event: ev.PipelineExecutionStatusChange) -> LineageChange:
    d, b = event.detail, ChangeBuilder(event)
    node_id = canonical_arn(d.pipeline_execution_arn)
    pipeline = node_id.split(":pipeline/", 1)[-1].split("/", 1)[0]
    b.primary(
        node_id,
        NodeKind.PIPELINE_EXECUTION,
        f"{pipeline}/{arn_name(node_id)}",
        d.current_pipeline_execution_status,
        state_time(
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
    d, b = event.detail, ChangeBuilder(event)
    execution = pipeline_execution_node(b, d.pipeline_execution_arn)
    step_id = f"{canonical_arn(d.pipeline_execution_arn)}/step/{d.step_name}"
    cache_source = d.cache_hit_result.source_pipeline_execution_arn if d.cache_hit_result else None
    step = b.primary(
        step_id,
        NodeKind.PIPELINE_STEP,
        d.step_name,
        d.current_step_status,
        state_time(
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
