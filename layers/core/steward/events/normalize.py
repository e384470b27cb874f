"""SageMaker's event quirks, normalised once at the edge (README "The events, and the quirks handled…").

- timestamps: epoch-millis strings, integers or floats, ISO-8601 with `Z` or `+0000`, or null;
- endpoint statuses: `IN_SERVICE` in events, `InService` in the Describe APIs;
- tags: a key→value map in events, a list of {Key, Value} in the APIs;
- empty lists and maps: sometimes `null` instead of `[]` / `{}` (ListOrNull, MapOrNull read it as empty).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator

# Both live in the kernel (which imports no events); the events' validators and their callers use them here.
from steward.kernel.arns import normalize_s3_uri
from steward.kernel.times import parse_timestamp

__all__ = [
    "ENDPOINT_STATUSES",
    "EndpointStatus",
    "ListOrNull",
    "MapOrNull",
    "Tags",
    "Timestamp",
    "known_endpoint_status",
    "normalize_s3_uri",
    "normalize_tags",
    "parse_timestamp",
    "pascal_status",
]


def pascal_status(value: Any) -> Any:
    """`IN_SERVICE` → `InService`, `UPDATE_ROLLBACK_FAILED` → `UpdateRollbackFailed`; PascalCase is kept."""
    if isinstance(value, str) and (value.isupper() or "_" in value):
        return "".join(part.capitalize() for part in value.split("_") if part)
    return value


def normalize_tags(value: Any) -> dict[str, str]:
    """Tags as a key→value map, whichever shape arrived."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        tags: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or "Key" not in item:
                raise ValueError("a tag list holds objects with Key and Value")
            tags[str(item["Key"])] = "" if item.get("Value") is None else str(item["Value"])
        return tags
    raise ValueError("tags are a map or a list of {Key, Value}")


def _empty_list(value: Any) -> Any:
    return [] if value is None else value


def _empty_map(value: Any) -> Any:
    return {} if value is None else value


_Item = TypeVar("_Item")
_Value = TypeVar("_Value")

Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
# A list or map SageMaker may send as null: read as empty, so nothing downstream tells null from empty.
ListOrNull = Annotated[list[_Item], BeforeValidator(_empty_list)]
MapOrNull = Annotated[dict[str, _Value], BeforeValidator(_empty_map)]
Tags = Annotated[dict[str, str], BeforeValidator(normalize_tags)]
# DescribeEndpoint's EndpointStatus values (the events send them UPPER_SNAKE): anything else is not an
# endpoint status, and recording it would move the node to a state SageMaker does not have.
ENDPOINT_STATUSES = frozenset(
    {
        "OutOfService",
        "Creating",
        "Updating",
        "SystemUpdating",
        "RollingBack",
        "InService",
        "Deleting",
        "Failed",
        "UpdateRollbackFailed",
    }
)


def known_endpoint_status(value: str) -> str:
    if value not in ENDPOINT_STATUSES:
        raise ValueError(f"not an endpoint status SageMaker has: {value[:40]!r}")
    return value


EndpointStatus = Annotated[str, BeforeValidator(pascal_status), AfterValidator(known_endpoint_status)]
