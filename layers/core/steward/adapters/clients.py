"""Lazy, per-process boto3 clients (created on first use, never at import time)."""

from __future__ import annotations

from functools import cache
from typing import Any

_RETRIES = {"max_attempts": 5, "mode": "adaptive"}


@cache
def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, region_name=region, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=10)
    )


def reset() -> None:
    """Forget cached clients (the sandbox calls this when it swaps the embedded AWS)."""
    client.cache_clear()


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestThrottled",
        "TooManyRequestsException",
    }
)
