"""The SageMaker model registry and the S3 reports the approval gate reads."""

from __future__ import annotations

import json
from typing import Any

from steward.adapters.clients import RETRYABLE_CODES, client, error_code
from steward.errors import ConfigurationError, DependencyError, NotFoundError

MAX_REPORT_BYTES = 5 * 1024 * 1024


class ModelRegistry:
    def set_approval(self, package_arn: str, status: str, description: str) -> None:
        """UpdateModelPackage: the decision written back; SageMaker then announces it as an event."""
        try:
            client("sagemaker").update_model_package(
                ModelPackageArn=package_arn,
                ModelApprovalStatus=status,
                ApprovalDescription=description[:1024],
            )
        except Exception as exc:
            code = error_code(exc)
            if code in RETRYABLE_CODES:
                raise DependencyError(f"UpdateModelPackage: {code}") from exc
            raise


class S3Reports:
    def read_json(self, s3_uri: str) -> Any:
        bucket, _, key = s3_uri[len("s3://") :].partition("/")
        try:
            response = client("s3").get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_REPORT_BYTES - 1}"
            )
        except Exception as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "404", "403"):
                raise NotFoundError(f"report {code}") from exc
            raise
        try:
            return json.loads(response["Body"].read())
        except ValueError:
            raise ValueError("report is not JSON") from None


def signing_keys(secret_name: str) -> tuple[dict[str, bytes], str]:
    """Link-signing keys from Secrets Manager: {"k1": "...", "k2": "...", "active": "k2"} (rotation)."""
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(secret_name, transform="json", max_age=300)
    if not isinstance(secret, dict):
        raise ConfigurationError("the approval signing secret is not a JSON object")
    keys = {str(k): str(v).encode() for k, v in secret.items() if k != "active" and v}
    if not keys:
        raise ConfigurationError("the approval signing secret holds no key")
    active = str(secret.get("active") or sorted(keys)[-1])
    if active not in keys:
        raise ConfigurationError(f"active key {active!r} is not in the secret")
    return keys, active
