"""What a test may tell the emulated SageMaker (sandbox/sagemaker/) through the sandbox: how endpoint
updates end, what endpoints answer, when pipeline executions and training rules finish. A part of the
`Sandbox` façade (its methods are Sandbox's)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any


class SageMakerControls:
    """Mixed into Sandbox: uses its `_sagemaker`, `_models`, `_delivery`, `emit`, `drain` and `client`."""

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """SageMaker calls made inside emit no events and skip the endpoint lifecycle: state that existed
        before Steward was deployed (an endpoint already InService, versions registered long ago)."""
        self._sagemaker.silent = True
        try:
            yield
        finally:
            self._sagemaker.silent = False

    def endpoint_outcome(self, name: str, outcome: str, account: str | None = None) -> None:
        """How the next CreateEndpoint/UpdateEndpoint of `name` ends: "succeed" (default), "fail",
        "rollback" (ROLLING_BACK, then InService on the old config), "silent-rollback" (InService on the
        old config, nothing else said) or "hold" (stays Updating until `complete_endpoint`). Calls queue up.
        `account` (a workload's name or id) names the endpoint of that account; without it, any account's.
        """
        assert self._sagemaker.endpoints is not None
        self._sagemaker.endpoints.ask(name, outcome, self._account_of(account)[0] if account else None)

    def endpoint_model(self, name: str, fn: Any) -> None:
        """What endpoint `name` answers to InvokeEndpoint: `fn(Invocation)` returns a ModelReply (status,
        body, content type, latency) or a JSON value, or raises Throttled (sandbox.endpoint_models).
        Without it the model echoes the request."""
        self._models.models[name] = fn

    def complete_endpoint(self, name: str, outcome: str = "succeed", account: str | None = None) -> None:
        """End a held endpoint update (see `endpoint_outcome`) of Steward's account, or of `account` (a
        workload's name or id), and deliver what follows."""
        from moto.sagemaker.models import sagemaker_backends

        assert self._sagemaker.endpoints is not None
        account_id, region = self._account_of(account)
        with self._delivery.backend_lock():
            self._sagemaker.endpoints.complete(sagemaker_backends[account_id][region], name, outcome)
        self.drain()

    def finish_pipeline_execution(
        self,
        arn: str,
        status: str = "Succeeded",
        steps: Iterable[dict[str, Any]] = (),
        failure_reason: str | None = None,
    ) -> None:
        """End a pipeline execution (started with StartPipelineExecution, which leaves it Executing) as
        SageMaker would after running `steps`, in ListPipelineExecutionSteps' shape (e.g. {"StepName":
        "Train", "StepStatus": "Succeeded", "Metadata": {"TrainingJob": {"Arn": ...}}}; a "StepType" is
        said only in the step's event). The steps are what ListPipelineExecutionSteps answers; each
        step's status change, then the execution's, is delivered on the next drain (none inside
        `quietly()`)."""
        from moto.sagemaker.models import sagemaker_backends

        from sandbox.sagemaker.pipelines import finish_pipeline_execution

        emit = None if self._sagemaker.silent else self.emit
        parts = arn.split(":")  # the execution's own account and region
        account, region = (parts[4], parts[3]) if len(parts) > 5 else (self.account, self.region)
        with self._delivery.backend_lock():
            finish_pipeline_execution(
                sagemaker_backends[account][region], arn, status, list(steps), emit, failure_reason
            )

    def finish_training_rules(
        self, job_name: str, statuses: dict[str, str], details: dict[str, str] | None = None
    ) -> None:
        """End Debugger/Profiler rules of a training job created with DebugRuleConfigurations or
        ProfilerRuleConfigurations (which DescribeTrainingJob reports InProgress until then): e.g.
        {"Overfit": "IssuesFound"}, with optional StatusDetails per rule. No event follows (SageMaker
        sends none when a rule ends after its job): the reconciler reads them from DescribeTrainingJob."""
        from moto.sagemaker.models import sagemaker_backends

        from sandbox.sagemaker.training import finish_training_rules

        with self._delivery.backend_lock():
            finish_training_rules(sagemaker_backends[self.account][self.region], job_name, statuses, details)

    def training_job_event(self, job_name: str) -> dict[str, Any]:
        """The Training Job State Change SageMaker sends for `job_name` as DescribeTrainingJob answers it
        now (with its rule evaluations): deliver it with `put_events` (change it first to tell a story)."""
        from sandbox.sagemaker.training import training_job_event

        return training_job_event(self.client("sagemaker").describe_training_job(TrainingJobName=job_name))
