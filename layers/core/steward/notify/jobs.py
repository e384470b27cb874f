"""Use case: a job or pipeline that Failed or was Stopped becomes a job-failed notification."""

from __future__ import annotations

from typing import Any, Protocol

from steward.events import models as ev
from steward.kernel.errors import NotFoundError
from steward.notify.models import Fact, Kind, Link, Notification
from steward.policy import Policy, Severity

PIPELINE_TAG = "sagemaker:pipeline-execution-arn"
_CONSOLE = "https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/{path}"


class PipelineDescriber(Protocol):
    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...


def _pipeline_name(execution_arn: str | None) -> str | None:
    return (
        execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        if execution_arn and ":pipeline/" in execution_arn
        else None
    )


def job_failure(event: Any, policy: Policy, sagemaker: PipelineDescriber) -> Notification | None:
    """The notification for a failed or stopped job/pipeline, or None for any other state."""
    d = event.detail
    if isinstance(event, ev.PipelineExecutionStatusChange):
        status, name, arn = (
            d.current_pipeline_execution_status,
            d.pipeline_execution_display_name,
            d.pipeline_execution_arn,
        )
        pipeline = _pipeline_name(arn)
        kind_label, reason = "Pipeline execution", None
        try:  # the execution event does not carry the reason; DescribePipelineExecution does
            reason = sagemaker.describe("describe_pipeline_execution", PipelineExecutionArn=arn).get(
                "FailureReason"
            )
        except NotFoundError:
            reason = None
        path = f"pipelines/{pipeline}/executions/{arn.rsplit('/', 1)[-1]}"
    else:
        fields = {
            ev.TrainingJobStateChange: ("Training job", "training_job", "jobs"),
            ev.ProcessingJobStateChange: ("Processing job", "processing_job", "processing-jobs"),
            ev.TransformJobStateChange: ("Transform job", "transform_job", "transform-jobs"),
            ev.TuningJobStateChange: ("Tuning job", "hyper_parameter_tuning_job", "hyper-tuning-jobs"),
        }[type(event)]
        kind_label, prefix, console = fields
        status, name, arn = (
            getattr(d, f"{prefix}_status"),
            getattr(d, f"{prefix}_name"),
            getattr(d, f"{prefix}_arn"),
        )
        reason = d.failure_reason
        pipeline = _pipeline_name(d.tags.get(PIPELINE_TAG))
        path = f"{console}/{name}"
    if status not in ("Failed", "Stopped"):
        return None
    group = policy.group_of_pipeline(pipeline)
    facts = [Fact(label="Status", value=status)]
    if reason:
        facts.append(Fact(label="Reason", value=reason[:1024]))
    if pipeline:
        facts.append(Fact(label="Pipeline", value=pipeline))
    secondary = getattr(d, "secondary_status", None)
    if secondary and secondary != status:
        facts.append(Fact(label="Secondary status", value=secondary))
    facts.append(Fact(label="Account / region", value=f"{event.account} / {event.region}"))
    return Notification(
        kind=Kind.JOB_FAILED,
        severity=Severity.CRITICAL if status == "Failed" else Severity.WARNING,
        subject=f"{kind_label} {name} {status.lower()}"[:250],
        summary=(reason or f"{kind_label} {name} is {status}.")[:3000],
        model_group=group,
        facts=facts,
        links=[Link(text="Open in SageMaker", url=_CONSOLE.format(region=event.region, path=path))],
        dedupe_key=f"job-failed:{arn}:{status}",
        source_event_id=event.id,
    )


_RULE_FINDINGS = ("IssuesFound", "Error")
_MAX_RULE_FACTS = 16


def rule_findings(
    event: Any, policy: Policy, only: list[dict[str, Any]] | None = None
) -> Notification | None:
    """A training job's SageMaker Debugger / Profiler rules that found issues (or could not be evaluated)
    become one alert naming each rule and where its report is; None when there is nothing to say.
    `only`: the rule evaluations to tell of (lineage.rules entries, e.g. those the reconciler saw end
    after the job did); the others the event names were told already."""
    if not isinstance(event, ev.TrainingJobStateChange):
        return None
    d = event.detail
    wanted = (
        None
        if only is None
        else {(str(r.get("Kind")), str(r.get("RuleConfigurationName") or "")) for r in only}
    )
    found = [
        (kind, rule)
        for kind, rules in (
            ("Debugger", d.debug_rule_evaluation_statuses),
            ("Profiler", d.profiler_rule_evaluation_statuses),
        )
        for rule in rules
        if rule.rule_evaluation_status in _RULE_FINDINGS
        and (wanted is None or (kind, rule.rule_configuration_name or "") in wanted)
    ]
    if not found:
        return None
    configured = d.output_data_config.s3_output_path if d.output_data_config else None
    output = configured.rstrip("/") if configured else None
    facts = []
    shown = found[:_MAX_RULE_FACTS]  # a notification carries at most 20 facts
    for kind, rule in shown:
        name = rule.rule_configuration_name or "(unnamed rule)"
        # Rules write their reports under the job's output path (SageMaker Debugger's layout).
        report = (
            f"{output}/{d.training_job_name}/rule-output/{name}/" if output else "report location unknown"
        )
        status = "found issues" if rule.rule_evaluation_status == "IssuesFound" else "could not be evaluated"
        details = f" — {rule.status_details}" if rule.status_details else ""
        facts.append(Fact(label=f"{kind} rule {name}"[:100], value=f"{status}{details} (report: {report})"))
    if len(found) > len(shown):
        facts.append(
            Fact(label="More rules", value=f"{len(found) - len(shown)} more (see the job's rule output)")
        )
    pipeline = _pipeline_name(d.tags.get(PIPELINE_TAG))
    if pipeline:
        facts.append(Fact(label="Pipeline", value=pipeline))
    facts.append(Fact(label="Account / region", value=f"{event.account} / {event.region}"))
    names = ", ".join(sorted({rule.rule_configuration_name or "?" for _, rule in found}))
    issues = any(rule.rule_evaluation_status == "IssuesFound" for _, rule in found)
    return Notification(
        kind=Kind.TRAINING_RULE_ISSUES,
        severity=Severity.WARNING,
        subject=(
            f"Training job {d.training_job_name}: "
            + (f"{names} found issues" if issues else f"{names} could not be evaluated")
        )[:250],
        summary=(
            f"SageMaker Debugger/Profiler rules on training job {d.training_job_name}: "
            + "; ".join(f.value for f in facts[: len(shown)])
        )[:3000],
        model_group=policy.group_of_pipeline(pipeline),
        facts=facts,
        links=[
            Link(
                text="Open in SageMaker",
                url=_CONSOLE.format(region=event.region, path=f"jobs/{d.training_job_name}"),
            )
        ],
        dedupe_key="training-rules:"
        + f"{d.training_job_arn}:"
        + ",".join(sorted(f"{r.rule_configuration_name}={r.rule_evaluation_status}" for _, r in found)),
        source_event_id=event.id,
    )
