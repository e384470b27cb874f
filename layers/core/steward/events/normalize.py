"""SageMaker's event quirks, normalised once at the edge (README "The events, and the quirks handled…").

- timestamps: epoch-millis strings, integers or floats, ISO-8601 with `Z` or `+0000`, or null;
- endpoint statuses: `IN_SERVICE` in events, `InService` in the Describe APIs;
- tags: a key→value map in events, a list of {Key, Value} in the APIs;
- empty lists and maps: sometimes `null` instead of `[]` / `{}` (ListOrNull, MapOrNull read it as empty).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator

# Epoch values above this are milliseconds (1e11 seconds is the year 5138).
_MILLIS_THRESHOLD = 100_000_000_000
_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_timestamp(value: Any) -> datetime | None:
    """Return an aware UTC datetime for any timestamp spelling SageMaker and CloudWatch use."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")  # noqa: TRY004 (pydantic reports ValueErrors)
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_epoch(float(text))
        except ValueError:
            pass
        text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", text.replace("Z", "+00:00"))
        try:
            parsed = datetime.fromisoformat(text)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"not a timestamp (or out of range): {value[:40]!r}") from None
    raise ValueError(f"not a timestamp: {type(value).__name__}")


def _from_epoch(number: float) -> datetime:
    if math.isnan(number) or number < 0:
        raise ValueError("epoch timestamp out of range")
    seconds = number / 1000 if number >= _MILLIS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("epoch timestamp out of range") from None


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


def normalize_s3_uri(uri: str) -> str:
    """S3 URIs are node ids: no trailing slash."""
    return uri.rstrip("/") if uri.startswith("s3://") else uri


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
