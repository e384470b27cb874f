"""What an event's identifiers must look like before anything is written under them.

Ids become store keys, console links and text in messages, so an event is refused at the edge
(InvalidEventError naming each field, nothing written) when one of them is:

- empty where SageMaker always sends a value (an ARN `""` would become a node with id `""`);
- not an ARN where an ARN is due, or an ARN whose partition, region or account contradicts the
  envelope (SageMaker's events describe resources of the account and region that sent them);
- a model package ARN naming another group or version than `ModelPackageGroupName` /
  `ModelPackageVersion`;
- carrying control characters: NUL and other C0/C1 controls, ANSI escape sequences, bidirectional
  overrides and isolates (they make a name print as another), or lone UTF-16 surrogates (they cannot be
  encoded: every later write would fail);
- an S3 location that is not one (`s3://bucket/key`), or with `.`/`..` segments (S3 keys can hold them,
  SageMaker never writes them, and a path that climbs reads as another folder's lineage).

Free text (failure reasons, descriptions) is not an id: it is kept and cleaned where it is shown.
"""

from __future__ import annotations

import re
from typing import Any

from steward.events.limits import FREE_TEXT

# C0 (but tab/newline/carriage return are never in ids either), DEL, C1, bidi marks/embeddings/overrides/
# isolates, and the BOM / zero-width no-break space.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|):(.+)$"
)
# Today's bucket names are [a-z0-9.-]{3,63}; us-east-1 buckets made before 2018 may hold capitals and
# underscores and be up to 255 characters long. Either is a location; a space, `@` or `:` is not.
_BUCKET = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
# The resource a detail is about: its ARN must be of the envelope's account and region.
_OWN_ARNS = frozenset(
    {
        "training_job_arn",
        "processing_job_arn",
        "transform_job_arn",
        "hyper_parameter_tuning_job_arn",
        "pipeline_arn",
        "pipeline_execution_arn",
        "model_package_arn",
        "endpoint_arn",
    }
)
# The resource type each ARN field names (`arn:…:sagemaker:…:<type>/<name>`).
_ARN_TYPES = {
    "training_job_arn": "training-job",
    "processing_job_arn": "processing-job",
    "transform_job_arn": "transform-job",
    "hyper_parameter_tuning_job_arn": "hyper-parameter-tuning-job",
    "pipeline_arn": "pipeline",
    "pipeline_execution_arn": "pipeline",
    "model_package_arn": "model-package",
    "endpoint_arn": "endpoint",
    "monitoring_schedule_arn": "monitoring-schedule",
    "tuning_job_arn": "hyper-parameter-tuning-job",
}
# The Describe APIs' status values: anything else is not a state SageMaker has (and recording it would
# move a node to it). Endpoint statuses are checked where they are normalised (normalize.py).
_JOB = frozenset({"InProgress", "Completed", "Failed", "Stopping", "Stopped"})
_STATUSES = {
    "training_job_status": _JOB,
    "processing_job_status": _JOB,
    "transform_job_status": _JOB,
    "hyper_parameter_tuning_job_status": _JOB | {"Deleting", "DeleteFailed"},
    "current_pipeline_execution_status": frozenset(
        {"Executing", "Stopping", "Stopped", "Failed", "Succeeded"}
    ),
    "current_step_status": frozenset({"Starting", "Executing", "Stopping", "Stopped", "Failed", "Succeeded"}),
    "model_approval_status": frozenset({"Approved", "Rejected", "PendingManualApproval"}),
    "model_package_status": frozenset({"Pending", "InProgress", "Completed", "Failed", "Deleting"}),
}
_S3_FIELDS = frozenset({"s3_uri", "s3_output_path", "s3_model_artifacts", "model_data_url"})
_IGNORED = FREE_TEXT | {"tags", "environment", "customer_metadata_properties", "configuration", "detail_type"}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso"):
        return "aws-iso" if region.startswith("us-iso-") else "aws-iso-b"
    return "aws"


def text_problem(value: str) -> str | None:
    """Why a string cannot be an identifier, or None."""
    if _SURROGATE.search(value):
        return "contains a lone UTF-16 surrogate (not valid Unicode text)"
    found = _CONTROL.search(value)
    if found:
        return f"contains the control character U+{ord(found.group()):04X}"
    return None


def raw_text_problems(raw: Any, limit: int = 10) -> list[dict[str, str]]:
    """Lone surrogates anywhere in the raw event, by path: no field of such an event can be stored."""
    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str]] = [(raw, "")]
    while stack and len(problems) < limit:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    problems.append({"field": where, "message": "a key with a lone UTF-16 surrogate"})
                stack.append((value, where))
        elif isinstance(node, list):
            stack.extend((item, f"{path}.{i}") for i, item in enumerate(node))
        elif isinstance(node, str) and _SURROGATE.search(node):
            problems.append({"field": path or "(event)", "message": "contains a lone UTF-16 surrogate"})
    return problems


def s3_problem(value: str) -> str | None:
    if not value.startswith("s3://"):
        return "not an S3 location (s3://bucket/key)"
    bucket, _, key = value[5:].partition("/")
    if not _BUCKET.match(bucket):
        return f"not an S3 bucket name: {bucket[:70]!r}"
    if any(segment in (".", "..") for segment in key.split("/")):
        return "an S3 key with '.' or '..' segments"
    return None


def arn_problem(value: str, envelope: Any, own: bool) -> str | None:
    match = _ARN.match(value)
    if not match:
        return "not an ARN (arn:partition:service:region:account:resource)"
    partition, _service, region, account, _resource = match.groups()
    if not own:
        return None
    if account != envelope.account:
        return f"names account {account!r}, the event came from {envelope.account!r}"
    if region != envelope.region:
        return f"names region {region!r}, the event came from {envelope.region!r}"
    if partition != partition_of(envelope.region):
        return f"partition {partition!r} is not that of region {envelope.region!r}"
    return None


def identifier_problems(event: Any) -> list[dict[str, str]]:
    """Each identifier of a parsed event that must not be stored, by its path in the event."""
    from pydantic import BaseModel

    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str]] = [(event.detail, "detail.")]
    while stack:
        node, path = stack.pop()
        fields = type(node).model_fields
        for name, info in fields.items():
            if name in _IGNORED:
                continue
            value, where = getattr(node, name), f"{path}{info.alias or name}"
            for i, item in enumerate(value if isinstance(value, list) else [value]):
                at = f"{where}.{i}" if isinstance(value, list) else where
                if isinstance(item, BaseModel):
                    stack.append((item, f"{at}."))
                elif isinstance(item, str):
                    problem = _field_problem(name, item, info.is_required(), event)
                    if problem:
                        problems.append({"field": at, "message": problem})
    problems.extend(_package_problems(event.detail))
    return problems


def _field_problem(name: str, value: str, required: bool, event: Any) -> str | None:
    if not value.strip():
        return "empty" if required or name.endswith("_arn") else None
    problem = text_problem(value)
    if problem:
        return problem
    if name in _STATUSES and value not in _STATUSES[name]:
        return f"not a status SageMaker has: {value[:40]!r}"
    if name.endswith("_arn"):
        return arn_problem(value, event, own=name in _OWN_ARNS) or _arn_type_problem(name, value)
    if name in _S3_FIELDS:
        return s3_problem(value)
    return None


def _arn_type_problem(name: str, value: str) -> str | None:
    kind = _ARN_TYPES.get(name)
    if kind is None or not value.startswith("arn:") or ":sagemaker:" not in value:
        return None
    resource = value.split(":", 5)[5]
    if not resource.lower().startswith(f"{kind}/"):
        return f"not a {kind} ARN"
    return None


def _package_problems(detail: Any) -> list[dict[str, str]]:
    arn = getattr(detail, "model_package_arn", None)
    if not isinstance(arn, str) or ":model-package/" not in arn:
        return []
    group, _, version = arn.split(":model-package/", 1)[1].partition("/")
    problems = []
    named = detail.model_package_group_name
    if named and named.lower() != group.lower():
        problems.append(
            {"field": "detail.ModelPackageArn", "message": f"names group {group!r}, not {named!r}"}
        )
    if detail.model_package_version is not None and version != str(detail.model_package_version):
        problems.append(
            {
                "field": "detail.ModelPackageArn",
                "message": f"names version {version!r}, not {detail.model_package_version}",
            }
        )
    return problems
