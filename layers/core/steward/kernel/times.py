"""Timestamps: any spelling SageMaker and CloudWatch send, parsed; and as the stores keep them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

# Epoch values above this are milliseconds (1e11 seconds is the year 5138).
_MILLIS_THRESHOLD = 100_000_000_000
_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def iso_z(value: datetime) -> str:
    """Fixed-width UTC timestamp: sorts lexicographically in time order (the store compares strings)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
