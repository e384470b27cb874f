"""How long the strings of an event may be: its ids become store keys.

DynamoDB refuses a partition key over 2048 bytes and a sort key over 1024, so an event naming a
resource by a longer ARN, name or URI (or a status longer than a status is) would fail the function with
a ClientError, past every retry. SageMaker's own limits are far below these (names 63 characters, job
ARNs 256, S3 keys 1024 bytes, statuses a word), so such an event is malformed: it is refused at the edge
with InvalidEventError naming the field, like any other bad field. Names are held to the longest AWS
allows (256 characters): they are quoted in subjects and console links. Free text (failure reasons,
descriptions) is not an id: it may be long, and is cut where it is shown or stored.
"""

from __future__ import annotations

from typing import Any

MAX_ID_BYTES = 1100  # an s3:// URI of a 1024-byte key in a 63-character bucket fits
MAX_STATUS_BYTES = 64
MAX_NAME_CHARS = 256  # SageMaker names are at most 63 characters, CloudWatch alarm names 255
FREE_TEXT = frozenset(
    {
        "failure_reason",
        "exit_message",
        "status_details",
        "reason",
        "reason_data",
        "model_package_description",
        "approval_description",
        "pipeline_execution_description",
        "stage_description",
    }
)
_CHECKED_MAPS = frozenset({"tags", "environment", "customer_metadata_properties"})


def _limit(field: str) -> int:
    return MAX_STATUS_BYTES if field.endswith("status") or field == "value" else MAX_ID_BYTES


def _too_long(field: str, value: str) -> str | None:
    if field in FREE_TEXT:
        return None
    if len(value.encode()) > _limit(field):
        return f"longer than {_limit(field)} bytes"
    if field.endswith("_name") and len(value) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    return None


def oversized(model: Any) -> list[dict[str, str]]:
    """Each declared string field (and id in a pipeline step's metadata) longer than its limit, by path."""
    from pydantic import BaseModel

    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str]] = [(model, "")]
    while stack:
        node, path = stack.pop()
        for name in type(node).model_fields:
            value, where = getattr(node, name), f"{path}{name}"
            values = value if isinstance(value, list) else [value]
            if name in _CHECKED_MAPS and isinstance(value, dict):
                values = list(value.values())
            for item in values:
                if isinstance(item, BaseModel):
                    stack.append((item, f"{where}."))
                elif isinstance(item, str) and (problem := _too_long(name, item)):
                    problems.append({"field": where, "message": problem})
                    break
        steps = getattr(node, "step_resources", None)
        for _, arn in steps() if callable(steps) else []:
            if len(arn.encode()) > MAX_ID_BYTES:
                problems.append(
                    {"field": f"{path}metadata", "message": f"an arn longer than {MAX_ID_BYTES} bytes"}
                )
    return problems
