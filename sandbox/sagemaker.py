"""SageMaker's side of the loop where moto falls short (README "The sandbox").

- moto has no UpdateEndpoint, and reports every endpoint InService at once. While a Sandbox runs,
  CreateEndpoint and UpdateEndpoint follow SageMaker's lifecycle instead: the endpoint is Creating or
  Updating (still serving the old config, the new one pending) and the events SageMaker sends are
  emitted (Endpoint State Change CREATING/UPDATING, Endpoint Deployment State Change steps for the
  DeploymentConfig's traffic routing), then the endpoint ends, on the sandbox's next drain, per the
  outcome asked with `Sandbox.endpoint_outcome(name, ...)`: "succeed" (InService on the new config),
  "fail" (Failed, with a FailureReason), "rollback" (ROLLING_BACK, then InService on the old config),
  "silent-rollback" (InService on the old config and nothing else), or "hold" (stays Updating until
  `Sandbox.complete_endpoint(name, outcome)`). Event times move forward by at least a millisecond each.
- moto emits no events. CreateModelPackage and UpdateModelPackage here emit the "SageMaker Model
  Package State Change" event SageMaker would send (with UpdatedModelPackageFields naming what the
  call changed), delivered through the template's rules on the sandbox's next drain.
- moto's StartPipelineExecution ignores ClientRequestToken and reports every run Succeeded at once.
  Here a repeated token returns the execution it started (SageMaker's idempotency), and a new run is
  Executing and announced with the Pipeline Execution Status Change SageMaker sends (the sandbox runs
  no pipeline steps: the run stays Executing).
- moto's UpdateModelPackage resets what the call leaves out (a metadata-only update wipes an Approved
  package's ModelApprovalStatus and ApprovalDescription). Here it changes only the fields the call names,
  as SageMaker does: CustomerMetadataProperties are merged key by key, CustomerMetadataPropertiesToRemove
  drops keys, AdditionalInferenceSpecificationsToAdd appends.
- moto answers Describe/List calls with empty objects and strings where SageMaker omits the key
  (DataCaptureConfig, VpcConfig, PipelineExperimentConfig, FailureReason "", an empty Containers or
  PrimaryContainer, ...) and leaves out some members SageMaker always returns. Every SageMaker Describe
  and List answer is shaped here against botocore's service model: optional members that are empty (a
  structure, string or list) and keys that are not members are dropped, and DescribeModelPackage's
  ModelPackageName, DescribeModelPackageGroup's CreatedBy, DescribeProcessingJob's ProcessingResources
  and DescribeEndpoint's DataCaptureConfig summary are filled in as SageMaker returns them.
- moto reports no Debugger/Profiler rule evaluations. Here CreateTrainingJob's DebugRuleConfigurations
  and ProfilerRuleConfigurations show in DescribeTrainingJob as SageMaker reports them while the rules'
  processing jobs run (DebugRuleEvaluationStatuses / ProfilerRuleEvaluationStatuses, each `InProgress`
  with its RuleEvaluationJobArn), and `Sandbox.finish_training_rules(job, {rule: status})` ends them
  later, with no event (SageMaker sends none when a rule ends after its job). `Sandbox.training_job_event
  (job)` is the Training Job State Change SageMaker sends for the job as it is (moto's jobs are Completed
  at once): a test delivers it, e.g. Completed with its rules still InProgress.
- moto has no ListPipelineExecutionSteps, and its ListPipelineExecutions ignores CreatedAfter /
  CreatedBefore, SortBy / SortOrder and MaxResults / NextToken (and reports a FailureReason "None").
  Here both list as SageMaker does. `Sandbox.finish_pipeline_execution(arn, status, steps)` ends an
  execution as SageMaker would after running its steps: the steps are what ListPipelineExecutionSteps
  answers, and (outside `Sandbox.quietly()`) each step's status change and then the execution's are
  emitted, as SageMaker sends them.
"""

from __future__ import annotations

import functools
from typing import Any


def _update_endpoint(response: Any) -> Any:
    """UpdateEndpoint without the lifecycle (no emulation running): the endpoint moves at once."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    endpoint, config = _endpoint_and_config(response)
    _apply_config(endpoint, response._get_param("EndpointConfigName"), config)
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    return ActionResult({"EndpointArn": endpoint.arn})


def _endpoint_and_config(response: Any) -> tuple[Any, dict[str, Any]]:
    from moto.sagemaker.exceptions import ValidationError

    backend = response.sagemaker_backend
    name = response._get_param("EndpointName")
    config_name = response._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint '{name}'.")
    if endpoint.endpoint_status not in ("InService", "Failed"):
        raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint.arn}'.")
    try:
        config = backend.describe_endpoint_config(config_name)
    except Exception:
        raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.") from None
    return endpoint, config


def _create_endpoint_once(create: Any) -> Any:
    """CreateEndpoint refusing a name that exists, as SageMaker does (moto replaces the endpoint)."""

    def create_endpoint(response: Any) -> Any:
        from moto.sagemaker.exceptions import ValidationError

        existing = response.sagemaker_backend.endpoints.get(response._get_param("EndpointName"))
        if existing is not None:
            raise ValidationError(message=f'Cannot create already existing endpoint "{existing.arn}".')
        return create(response)

    return create_endpoint


def _apply_config(endpoint: Any, config_name: str, config: dict[str, Any]) -> None:
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.data_capture_config = config.get("DataCaptureConfig")


OUTCOMES = ("succeed", "fail", "rollback", "silent-rollback", "hold")


class EndpointLifecycle:
    """Creating/Updating → InService | Failed | rolled back, with the events SageMaker would send."""

    def __init__(self, emit: Any, later: Any) -> None:
        self.emit, self.later = emit, later
        # Keyed by (account, endpoint name): the same name may exist in several accounts; an outcome asked
        # for any account is under (None, name).
        self.outcomes: dict[tuple[str | None, str], list[str]] = {}
        self.held: dict[tuple[str, str], Any] = {}
        self._clock = 0.0

    def _tick(self) -> tuple[str, int]:
        import time
        from datetime import UTC, datetime

        self._clock = max(time.time(), self._clock + 0.001)
        when = datetime.fromtimestamp(self._clock, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z", int(
            self._clock * 1000
        )

    def ask(self, name: str, outcome: str, account: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
        self.outcomes.setdefault((account, name), []).append(outcome)

    def _event(
        self,
        endpoint: Any,
        status: str,
        detail_type: str = "SageMaker Endpoint State Change",
        pending: str | None = None,
        steps: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        when, millis = self._tick()
        detail: dict[str, Any] = {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": endpoint.production_variants,
            "EndpointStatus": status,
            "CreationTime": int(endpoint.creation_time.timestamp() * 1000)
            if hasattr(endpoint.creation_time, "timestamp")
            else millis,
            "LastModifiedTime": millis,
            "Tags": {t["Key"]: t["Value"] for t in endpoint.tags or []},
        }
        if reason:
            detail["FailureReason"] = reason
        if pending:
            detail["PendingDeploymentSummary"] = {
                "EndpointConfigName": pending,
                "StartTime": millis,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "VariantStatus": [{"Status": s, "StartTime": millis} for s in steps or []],
                    }
                ],
            }
        self.emit(
            {
                "source": "aws.sagemaker",
                "detail-type": detail_type,
                "time": when,
                "account": endpoint.arn.split(":")[4],
                "region": endpoint.arn.split(":")[3],
                "resources": [endpoint.arn],
                "detail": detail,
            }
        )

    def created(self, endpoint: Any) -> None:
        endpoint.endpoint_status = "Creating"
        self._event(endpoint, "CREATING")
        self.later(lambda: self._end(endpoint, None, None, None))

    def updating(
        self, endpoint: Any, config_name: str, config: dict[str, Any], deployment: dict[str, Any]
    ) -> None:
        endpoint.endpoint_status = "Updating"
        old = endpoint.endpoint_config_name
        # DescribeEndpoint names the config being deployed while a blue/green update runs.
        endpoint.pending_deployment_summary = {"EndpointConfigName": config_name}
        self._event(endpoint, "UPDATING", pending=config_name)
        routing = ((deployment or {}).get("BlueGreenUpdatePolicy") or {}).get(
            "TrafficRoutingConfiguration"
        ) or {}
        steps = {
            "CANARY": ["Creating", "ActivatingTraffic", "Baking", "ActivatingTraffic", "Baking"],
            "LINEAR": ["Creating", "ActivatingTraffic", "Baking", "ActivatingTraffic", "Baking"],
            "ALL_AT_ONCE": ["Creating", "ActivatingTraffic", "Baking"],
        }.get(str(routing.get("Type")), [])
        for i in range(len(steps)):
            self._event(
                endpoint,
                "UPDATING",
                "SageMaker Endpoint Deployment State Change",
                config_name,
                steps[: i + 1],
            )
        self.later(lambda: self._end(endpoint, old, config_name, config))

    def _end(self, endpoint: Any, old: str | None, new: str | None, config: dict[str, Any] | None) -> None:
        account = endpoint.arn.split(":")[4]
        queue = (
            self.outcomes.get((account, endpoint.endpoint_name))
            or self.outcomes.get((None, endpoint.endpoint_name))
            or []
        )
        outcome = queue.pop(0) if queue else "succeed"
        if outcome == "hold":
            self.held[(account, endpoint.endpoint_name)] = (old, new, config)
            return
        self.finish(endpoint, outcome, old, new, config)

    def finish(
        self, endpoint: Any, outcome: str, old: str | None, new: str | None, config: dict[str, Any] | None
    ) -> None:
        from moto.core.utils import utcnow

        endpoint.last_modified_time = utcnow()
        endpoint.pending_deployment_summary = None
        if outcome == "succeed":
            if new and config:
                _apply_config(endpoint, new, config)
            endpoint.endpoint_status, endpoint.failure_reason = "InService", None
            self._event(endpoint, "IN_SERVICE")
        elif outcome == "fail":
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = (
                "The primary container for production variant AllTraffic did not pass the ping health check. "
                "Please check CloudWatch logs for this endpoint."
            )
            self._event(endpoint, "FAILED", reason=endpoint.failure_reason)
        else:  # rollback / silent-rollback: back on the old config, InService
            if outcome == "rollback":
                endpoint.endpoint_status = "RollingBack"
                self._event(endpoint, "ROLLING_BACK", pending=new)
                endpoint.failure_reason = "Auto-rollback: an alarm went into ALARM during the deployment."
            endpoint.endpoint_status = "InService"
            self._event(endpoint, "IN_SERVICE")

    def complete(self, backend: Any, name: str, outcome: str) -> None:
        key = (backend.account_id, name)
        if key not in self.held:
            raise ValueError(f"endpoint {name} of account {backend.account_id} is not held")
        old, new, config = self.held.pop(key)
        self.finish(backend.endpoints[name], outcome, old, new, config)


_UPDATE_FIELDS = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "CustomerMetadataProperties",
    "CustomerMetadataPropertiesToRemove",
    "AdditionalInferenceSpecificationsToAdd",
    "ModelLifeCycle",
)


def _update_model_package(response: Any) -> Any:
    """UpdateModelPackage changing only what the call names (moto resets the rest)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.utils import validate_model_approval_status

    package = response.sagemaker_backend.describe_model_package(response._get_param("ModelPackageArn"))
    status = response._get_param("ModelApprovalStatus")
    if status is not None:
        validate_model_approval_status(status)
        package.model_approval_status = status
    if response._get_param("ApprovalDescription") is not None:
        package.approval_description = response._get_param("ApprovalDescription")
    properties = dict(package.customer_metadata_properties or {})
    properties.update(response._get_param("CustomerMetadataProperties") or {})
    for key in response._get_param("CustomerMetadataPropertiesToRemove") or []:
        properties.pop(key, None)
    package.customer_metadata_properties = properties or None
    if response._get_param("AdditionalInferenceSpecificationsToAdd"):
        package.add_additional_inference_specifications(
            response._get_param("AdditionalInferenceSpecificationsToAdd")
        )
    if response._get_param("InferenceSpecification") is not None:
        package.inference_specification = response._get_param("InferenceSpecification")
    package.modifications_done()
    return ActionResult({"ModelPackageArn": package.arn})


@functools.cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def shaped(shape: Any, value: Any) -> Any:
    """`value` as SageMaker returns it for `shape`: optional members that are empty (a structure, string
    or list; None too) and keys that are not members are left out. A new value; `value` is not changed."""
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for key, raw in value.items():
            member = shape.members.get(key)
            if member is None:
                continue
            member_value = shaped(member, raw)
            if key not in shape.required_members and (
                member_value is None
                or (member.type_name in ("structure", "string", "list") and member_value in ({}, "", []))
            ):
                continue
            out[key] = member_value
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [shaped(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: shaped(shape.value, v) for k, v in value.items()}
    return value


def _filled(operation: str, response: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Members SageMaker always returns that moto leaves out or answers in another shape."""
    backend = response.sagemaker_backend
    if operation == "DescribeModelPackage" and "ModelPackageName" not in result:
        # A versioned package is named after its group.
        result = {**result, "ModelPackageName": result.get("ModelPackageGroupName")}
    elif operation == "DescribeModelPackageGroup" and "CreatedBy" not in result:
        group = backend.describe_model_package_group(result["ModelPackageGroupName"])
        result = {**result, "CreatedBy": getattr(group, "created_by", None) or {}}
    elif operation == "DescribeProcessingJob" and "ProcessingResources" not in result:
        job = backend.processing_jobs.get(result.get("ProcessingJobName"))
        resources = getattr(job, "sandbox_processing_resources", None)
        if resources:
            result = {**result, "ProcessingResources": resources}
    elif operation == "DescribeEndpoint":
        capture = result.get("DataCaptureConfig") or {}
        if capture and "CaptureStatus" not in capture:
            summary = {
                "EnableCapture": bool(capture.get("EnableCapture")),
                "CaptureStatus": "Started" if capture.get("EnableCapture") else "Stopped",
                "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage"),
                "DestinationS3Uri": capture.get("DestinationS3Uri"),
                "KmsKeyId": capture.get("KmsKeyId"),
            }
            result = {**result, "DataCaptureConfig": {k: v for k, v in summary.items() if v is not None}}
    return result


def _shaping(method: Any, operation: str) -> Any:
    """A moto Describe/List answering in SageMaker's shape (see `shaped`)."""

    def shaped_answer(response: Any) -> Any:
        from moto.core.responses import ActionResult

        result = method(response)
        if not isinstance(result, ActionResult) or not isinstance(result.result, dict):
            return result
        output = _service_model().operation_model(operation).output_shape
        return ActionResult(shaped(output, _filled(operation, response, result.result)))

    return shaped_answer


def _processing_resources(create: Any) -> Any:
    """CreateProcessingJob keeping ProcessingResources (moto drops it; DescribeProcessingJob returns it)."""

    def create_processing_job(response: Any) -> Any:
        result = create(response)
        job = response.sagemaker_backend.processing_jobs.get(response._get_param("ProcessingJobName"))
        if job is not None:
            job.sandbox_processing_resources = response._get_param("ProcessingResources")
        return result

    return create_processing_job


_RULE_STATUSES = ("InProgress", "NoIssuesFound", "IssuesFound", "Error", "Stopping", "Stopped")
_RULES_ENDED = ("NoIssuesFound", "IssuesFound", "Error", "Stopped")
# (the job's attribute, as moto answers DescribeTrainingJob from it; the configurations' parameter)
_RULE_KINDS = (
    ("debug_rule_evaluation_statuses", "DebugRuleConfigurations"),
    ("profiler_rule_evaluation_statuses", "ProfilerRuleConfigurations"),
)


def _rule_job_arn(job: Any, rule: str) -> str:
    """The ARN of the processing job that evaluates `rule` (SageMaker's pattern: letters, digits, '-')."""
    import hashlib
    import re

    digest = hashlib.sha256(f"{job.arn}:{rule}".encode()).hexdigest()[:8]
    name = re.sub(r"[^a-zA-Z0-9]+", "-", f"{job.training_job_name[:36]}-{rule[:16]}").strip("-")
    return job.arn.split(":training-job/", 1)[0] + f":processing-job/{name}-{digest}".lower()


def _training_rules(create: Any) -> Any:
    """CreateTrainingJob whose DescribeTrainingJob reports each configured Debugger/Profiler rule as
    SageMaker does: InProgress, with the processing job that evaluates it (moto reports none, and keeps
    no ProfilerRuleConfigurations). `finish_training_rules` ends them later."""

    def create_training_job(response: Any) -> Any:
        result = create(response)
        job = response.sagemaker_backend.training_jobs.get(response._get_param("TrainingJobName"))
        if job is None:
            return result
        profiler = response._get_param("ProfilerRuleConfigurations")
        if profiler:
            job.profiler_rule_configurations = profiler
        for attr, parameter in _RULE_KINDS:
            configured = response._get_param(parameter) or []
            if configured:
                setattr(
                    job,
                    attr,
                    [
                        {
                            "RuleConfigurationName": rule["RuleConfigurationName"],
                            "RuleEvaluationJobArn": _rule_job_arn(job, rule["RuleConfigurationName"]),
                            "RuleEvaluationStatus": "InProgress",
                            "LastModifiedTime": job.last_modified_time,
                        }
                        for rule in configured
                    ],
                )
        return result

    return create_training_job


def finish_training_rules(
    backend: Any, job_name: str, statuses: dict[str, str], details: dict[str, str] | None = None
) -> None:
    """Move rules of training job `job_name` (by RuleConfigurationName, Debugger or Profiler) to the
    statuses given, as their evaluation jobs end: DescribeTrainingJob answers them from now on. SageMaker
    sends no training-job event for it. A rule that has ended does not change again (ValueError)."""
    from moto.core.utils import utcnow

    job = backend.training_jobs.get(job_name)
    if job is None:
        raise ValueError(f"no training job {job_name!r}")
    entries = {
        entry["RuleConfigurationName"]: entry
        for attr, _ in _RULE_KINDS
        for entry in getattr(job, attr, None) or []
    }
    for name, status in statuses.items():
        entry = entries.get(name)
        if entry is None:
            raise ValueError(f"training job {job_name!r} has no rule {name!r} (it has {sorted(entries)})")
        if status not in _RULE_STATUSES:
            raise ValueError(f"{status!r} is not a RuleEvaluationStatus ({', '.join(_RULE_STATUSES)})")
        if entry["RuleEvaluationStatus"] in _RULES_ENDED:
            raise ValueError(f"rule {name!r} already ended ({entry['RuleEvaluationStatus']})")
        entry["RuleEvaluationStatus"] = status
        entry["LastModifiedTime"] = utcnow()
        if details and name in details:
            entry["StatusDetails"] = details[name][:1024]


def training_job_event(described: dict[str, Any]) -> dict[str, Any]:
    """The Training Job State Change SageMaker sends for a job as DescribeTrainingJob answers it (times
    as the epoch-millis strings training events carry, Tags as a map: none here)."""
    from datetime import datetime

    def millis(value: Any) -> Any:
        if isinstance(value, datetime):
            return str(int(value.timestamp() * 1000))
        if isinstance(value, dict):
            return {k: millis(v) for k, v in value.items()}
        if isinstance(value, list):
            return [millis(v) for v in value]
        return value

    detail = millis({k: v for k, v in described.items() if k != "ResponseMetadata"})
    arn = detail["TrainingJobArn"]
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change",
        "account": arn.split(":")[4],
        "region": arn.split(":")[3],
        "resources": [arn],
        "detail": {**detail, "Tags": {}},
    }


def _iso(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def package_event(response: Any, arn: str, updated: list[str] | None) -> dict[str, Any]:
    """The Model Package State Change event for the package as moto now holds it."""
    package = response.sagemaker_backend.describe_model_package(arn)
    detail = _iso(package.gen_response_object())
    if updated is not None:
        detail["UpdatedModelPackageFields"] = updated
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": response.current_account,
        "region": response.region,
        "resources": [detail["ModelPackageArn"]],
        "detail": detail,
    }


def _pipeline_starts(start: Any, emit: Any) -> Any:
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


def _list_pipeline_executions(response: Any) -> Any:
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


def _list_pipeline_execution_steps(response: Any) -> Any:
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
        "stepStartTime": _iso(step["StartTime"]),
        "stepEndTime": _iso(step.get("EndTime")),
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
        events.append(
            _step_event(pipeline.arn, arn, {**step, "StepType": given.get("StepType")}, _iso(clock))
        )
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
        "executionStartTime": _iso(execution.start_time),
        "executionEndTime": _iso(execution.last_modified_time) if status != "Executing" else None,
    }
    emit(
        {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
            "time": _iso(execution.last_modified_time),
            "account": arn.split(":")[4],
            "region": arn.split(":")[3],
            "resources": [pipeline.arn, arn],
            "detail": {k: v for k, v in detail.items() if v is not None},
        }
    )


class SageMakerEmulation:
    """Adds the SageMaker operations and events moto lacks while a sandbox runs, and removes them after."""

    def __init__(self, emit: Any = None, later: Any = None) -> None:
        self._added: list[str] = []
        self._wrapped: dict[str, Any] = {}
        self.emit = emit
        self.endpoints = EndpointLifecycle(emit, later) if emit is not None and later is not None else None
        self.silent = False  # Sandbox.quietly(): state from before Steward, no events, no lifecycle

    def install(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        if not hasattr(SageMakerResponse, "update_endpoint"):
            SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
            self._added.append("update_endpoint")
        if not hasattr(SageMakerResponse, "list_pipeline_execution_steps"):
            SageMakerResponse.list_pipeline_execution_steps = _list_pipeline_execution_steps  # type: ignore[attr-defined]
            self._added.append("list_pipeline_execution_steps")
        self._install_shapes(SageMakerResponse)
        if self.emit is None:
            return
        emulation = self
        create = SageMakerResponse.create_model_package
        self._wrapped["create_model_package"] = create
        update = _update_model_package

        def create_model_package(response: Any) -> Any:
            result = create(response)
            arn = result.result["ModelPackageArn"] if hasattr(result, "result") else None
            if arn and not emulation.silent:
                emulation.emit(package_event(response, arn, None))
            return result

        def update_model_package(response: Any) -> Any:
            arn = response._get_param("ModelPackageArn")
            updated = [f for f in _UPDATE_FIELDS if response._get_param(f) not in (None, [], {})]
            result = update(response)
            from moto.core.utils import utcnow

            # SageMaker moves LastModifiedTime on every update; the event's own time orders states.
            response.sagemaker_backend.describe_model_package(arn).last_modified_time = utcnow()
            if not emulation.silent:
                emulation.emit(package_event(response, arn, updated))
            return result

        SageMakerResponse.create_model_package = create_model_package  # type: ignore[method-assign]
        SageMakerResponse.update_model_package = update_model_package  # type: ignore[method-assign]
        start = SageMakerResponse.start_pipeline_execution
        self._wrapped["start_pipeline_execution"] = start
        SageMakerResponse.start_pipeline_execution = _pipeline_starts(
            start, lambda event: None if emulation.silent else emulation.emit(event)
        )
        if self.endpoints is not None:
            self._install_endpoint_lifecycle(SageMakerResponse)

    def _install_shapes(self, responses: Any) -> None:
        from botocore import xform_name

        self._wrapped["update_model_package"] = responses.update_model_package
        responses.update_model_package = _update_model_package
        self._wrapped["create_processing_job"] = responses.create_processing_job
        responses.create_processing_job = _processing_resources(responses.create_processing_job)
        self._wrapped["create_training_job"] = responses.create_training_job
        responses.create_training_job = _training_rules(responses.create_training_job)
        self._wrapped["list_pipeline_executions"] = responses.list_pipeline_executions
        responses.list_pipeline_executions = _list_pipeline_executions
        self._wrapped["create_endpoint"] = responses.create_endpoint
        responses.create_endpoint = _create_endpoint_once(responses.create_endpoint)
        for operation in _service_model().operation_names:
            method = xform_name(operation)
            if operation.startswith(("Describe", "List")) and method in vars(responses):
                self._wrapped.setdefault(method, getattr(responses, method))  # moto's, to restore
                setattr(responses, method, _shaping(getattr(responses, method), operation))

    def _install_endpoint_lifecycle(self, responses: Any) -> None:
        lifecycle = self.endpoints
        emulation = self
        assert lifecycle is not None
        create = responses.create_endpoint
        self._wrapped.setdefault("create_endpoint", create)
        self._wrapped["update_endpoint"] = getattr(responses, "update_endpoint", None)

        def create_endpoint(response: Any) -> Any:
            result = create(response)
            if emulation.silent:
                return result
            lifecycle.created(response.sagemaker_backend.endpoints[response._get_param("EndpointName")])
            return result

        def update_endpoint(response: Any) -> Any:
            from moto.core.responses import ActionResult

            if emulation.silent:
                return _update_endpoint(response)
            endpoint, config = _endpoint_and_config(response)
            lifecycle.updating(
                endpoint,
                response._get_param("EndpointConfigName"),
                config,
                response._get_param("DeploymentConfig"),
            )
            return ActionResult({"EndpointArn": endpoint.arn})

        responses.create_endpoint = create_endpoint
        responses.update_endpoint = update_endpoint

    def uninstall(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        for name, original in self._wrapped.items():
            if original is None:
                if hasattr(SageMakerResponse, name):
                    delattr(SageMakerResponse, name)
            else:
                setattr(SageMakerResponse, name, original)
        for name in self._added:
            delattr(SageMakerResponse, name)
        self._added.clear()
        self._wrapped.clear()
