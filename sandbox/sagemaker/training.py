"""Debugger and Profiler rule evaluations moto does not report: a training job's rules InProgress until a
test ends them, and the Training Job State Change SageMaker sends for a job as it is."""

from __future__ import annotations

from typing import Any

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


def training_rules(create: Any) -> Any:
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
