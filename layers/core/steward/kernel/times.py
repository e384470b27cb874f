"""Timestamps as the stores keep them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(value: datetime) -> str:
    """Fixed-width UTC timestamp: sorts lexicographically in time order (the store compares strings)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
