"""Lazy, per-process boto3 clients (created on first use, never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from steward.kernel.errors import DependencyError, NotFoundError

_RETRIES = {"max_attempts": 5, "mode": "adaptive"}


@cache
def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, region_name=region, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=10)
    )


_ASSUMED: dict[tuple[str, str | None, str, str | None], tuple[float, Any]] = {}


def assumed_client(service: str, region: str | None, role_arn: str, session: str) -> Any:
    """A client with `role_arn`'s credentials (another account's role), reused until 5 minutes before
    they expire."""
    import os
    import time

    import boto3
    from botocore.config import Config

    # Per function: in Lambda a process hosts one function, but one process may host them all (the
    # sandbox), and a role assumed by one function must not lend its credentials to another.
    key = (service, region, role_arn, os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    cached = _ASSUMED.get(key)
    if cached and cached[0] > time.time() + 300:
        return cached[1]
    creds = client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    made = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).client(service, region_name=region, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=10))
    _ASSUMED[key] = (creds["Expiration"].timestamp(), made)
    return made


_ON_RESET: list[Callable[[], None]] = []


def on_reset(forget: Callable[[], None]) -> None:
    """Have `reset` also call `forget` (a cache of what the AWS behind the clients holds)."""
    _ON_RESET.append(forget)


def reset() -> None:
    """Forget cached clients (the sandbox calls this when it swaps the embedded AWS)."""
    client.cache_clear()
    _ASSUMED.clear()
    for forget in _ON_RESET:
        forget()


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


def call(sm: Any, operation: str, not_found: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
    """One SageMaker call with ClientError mapped to domain errors: throttling and 5xx are worth a retry
    (DependencyError); the codes in `not_found` mean it will not get better (NotFoundError)."""
    try:
        return getattr(sm, operation)(**kwargs)  # type: ignore[no-any-return]
    except Exception as exc:
        code = error_code(exc)
        if code in RETRYABLE_CODES or code.startswith("5"):
            raise DependencyError(f"{operation}: {code}") from exc
        if code in not_found:
            raise NotFoundError(f"{operation}: {code}: {str(exc)[:300]}") from exc
        raise
