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

The parts: endpoints.py (the endpoint lifecycle), registry.py (UpdateModelPackage and the package
events), shapes.py (answers shaped against botocore's model), training.py (Debugger/Profiler rules),
pipelines.py (pipeline executions and their steps); SageMakerEmulation here installs them into moto and
removes them after.
"""

from __future__ import annotations

from typing import Any

from sandbox.sagemaker.endpoints import (
    EndpointLifecycle,
    create_endpoint_once,
    endpoint_and_config,
    update_endpoint_at_once,
)
from sandbox.sagemaker.pipelines import (
    list_pipeline_execution_steps,
    list_pipeline_executions,
    pipeline_starts,
)
from sandbox.sagemaker.registry import UPDATE_FIELDS, package_event, update_named_fields
from sandbox.sagemaker.shapes import processing_resources, service_model, shaping
from sandbox.sagemaker.training import training_rules


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
            SageMakerResponse.update_endpoint = update_endpoint_at_once  # type: ignore[attr-defined]
            self._added.append("update_endpoint")
        if not hasattr(SageMakerResponse, "list_pipeline_execution_steps"):
            SageMakerResponse.list_pipeline_execution_steps = list_pipeline_execution_steps  # type: ignore[attr-defined]
            self._added.append("list_pipeline_execution_steps")
        self._install_shapes(SageMakerResponse)
        if self.emit is None:
            return
        emulation = self
        create = SageMakerResponse.create_model_package
        self._wrapped["create_model_package"] = create
        update = update_named_fields

        def create_model_package(response: Any) -> Any:
            result = create(response)
            arn = result.result["ModelPackageArn"] if hasattr(result, "result") else None
            if arn and not emulation.silent:
                emulation.emit(package_event(response, arn, None))
            return result

        def update_model_package(response: Any) -> Any:
            arn = response._get_param("ModelPackageArn")
            updated = [f for f in UPDATE_FIELDS if response._get_param(f) not in (None, [], {})]
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
        SageMakerResponse.start_pipeline_execution = pipeline_starts(
            start, lambda event: None if emulation.silent else emulation.emit(event)
        )
        if self.endpoints is not None:
            self._install_endpoint_lifecycle(SageMakerResponse)

    def _install_shapes(self, responses: Any) -> None:
        from botocore import xform_name

        self._wrapped["update_model_package"] = responses.update_model_package
        responses.update_model_package = update_named_fields
        self._wrapped["create_processing_job"] = responses.create_processing_job
        responses.create_processing_job = processing_resources(responses.create_processing_job)
        self._wrapped["create_training_job"] = responses.create_training_job
        responses.create_training_job = training_rules(responses.create_training_job)
        self._wrapped["list_pipeline_executions"] = responses.list_pipeline_executions
        responses.list_pipeline_executions = list_pipeline_executions
        self._wrapped["create_endpoint"] = responses.create_endpoint
        responses.create_endpoint = create_endpoint_once(responses.create_endpoint)
        for operation in service_model().operation_names:
            method = xform_name(operation)
            if operation.startswith(("Describe", "List")) and method in vars(responses):
                self._wrapped.setdefault(method, getattr(responses, method))  # moto's, to restore
                setattr(responses, method, shaping(getattr(responses, method), operation))

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
                return update_endpoint_at_once(response)
            endpoint, config = endpoint_and_config(response)
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
