"""The SageMaker model registry the approval decision is written to, and the link-signing keys."""

from __future__ import annotations

from steward.kernel.aws.clients import RETRYABLE_CODES, client, error_code
from steward.kernel.errors import ConfigurationError, DependencyError


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
