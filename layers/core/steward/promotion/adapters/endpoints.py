"""SageMaker calls promotion makes: read the package, create the model and config, create/update endpoints.

With a target role (multi-account), every call runs with that role's credentials in the target
account; without one, in this account.
"""

from __future__ import annotations

from typing import Any

from steward.kernel.aws.clients import assumed_client, call, client
from steward.kernel.errors import NotFoundError


def _client(region: str | None, role_arn: str | None, service: str = "sagemaker") -> Any:
    return (
        assumed_client(service, region, role_arn, "steward-promotion")
        if role_arn
        else client(service, region)
    )


# InvokeEndpoint errors: the container answered (ModelError, with its status), try again, or cannot run.
_RUNTIME_RETRY = ("ThrottlingException", "ServiceUnavailable", "InternalFailure", "ModelNotReadyException",
                  "InternalDependencyException")  # fmt: skip


_STATUS = {  # Describe spelling from either spelling
    "IN_SERVICE": "InService",
    "UPDATING": "Updating",
    "CREATING": "Creating",
    "FAILED": "Failed",
    "ROLLING_BACK": "RollingBack",
    "SYSTEM_UPDATING": "SystemUpdating",
    "DELETING": "Deleting",
    "UPDATE_ROLLBACK_FAILED": "UpdateRollbackFailed",
}


class Endpoints:
    def __init__(self, region: str | None = None, role_arn: str | None = None) -> None:
        self.region = region
        self.role_arn = role_arn

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        # SageMaker refusing the request (validation) will not get better; access denied is raised.
        not_found = ("ValidationException", "ResourceNotFound", "ResourceNotFoundException")
        return call(_client(self.region, self.role_arn), operation, not_found, **kwargs)

    def describe_package(self, arn: str) -> dict[str, Any]:
        r = self._call("describe_model_package", ModelPackageName=arn)
        containers = (r.get("InferenceSpecification") or {}).get("Containers") or []
        return {
            "arn": r["ModelPackageArn"],
            "group": r.get("ModelPackageGroupName"),
            "version": r.get("ModelPackageVersion"),
            "status": r.get("ModelApprovalStatus"),
            "artifact": next((c.get("ModelDataUrl") for c in containers if c.get("ModelDataUrl")), None),
        }

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        """Status (Describe spelling), config and failure reason; None when there is no such endpoint."""
        try:
            r = self._call("describe_endpoint", EndpointName=name)
        except NotFoundError:
            return None
        status = str(r.get("EndpointStatus"))
        return {
            "status": _STATUS.get(status, status),
            "config": r.get("EndpointConfigName"),
            "pending": (r.get("PendingDeploymentSummary") or {}).get("EndpointConfigName"),
            "failureReason": r.get("FailureReason"),
        }

    def config_package(self, config_name: str) -> str | None:
        """The model package an endpoint config serves (its first variant's model), when it has one."""
        try:
            config = self._call("describe_endpoint_config", EndpointConfigName=config_name)
            variants = config.get("ProductionVariants") or []
            if not variants:
                return None
            model = self._call("describe_model", ModelName=variants[0]["ModelName"])
        except NotFoundError:
            return None
        containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
        return next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), None)

    def data_capture(self, config_name: str) -> dict[str, Any] | None:
        try:
            return self._call("describe_endpoint_config", EndpointConfigName=config_name).get(
                "DataCaptureConfig"
            )
        except NotFoundError:
            return None

    def _create(self, operation: str, **kwargs: Any) -> None:
        """Create calls are idempotent here: a retry finds what the first attempt made."""
        try:
            self._call(operation, **kwargs)
        except NotFoundError as exc:
            if "already exist" not in str(exc).lower():
                raise
        except Exception as exc:
            if "already exist" not in str(exc).lower():
                raise

    def create_model(self, name: str, package_arn: str, role_arn: str, tags: list[dict[str, str]]) -> None:
        self._create(
            "create_model",
            ModelName=name,
            PrimaryContainer={"ModelPackageName": package_arn},
            ExecutionRoleArn=role_arn,
            Tags=tags,
        )

    def create_endpoint_config(
        self,
        name: str,
        variants: list[dict[str, Any]],
        tags: list[dict[str, str]],
        data_capture: dict[str, Any] | None,
    ) -> None:
        extra = {"DataCaptureConfig": data_capture} if data_capture else {}
        self._create(
            "create_endpoint_config", EndpointConfigName=name, ProductionVariants=variants, Tags=tags, **extra
        )

    def create_endpoint(self, name: str, config_name: str, tags: list[dict[str, str]]) -> None:
        self._call("create_endpoint", EndpointName=name, EndpointConfigName=config_name, Tags=tags)

    def update_endpoint(self, name: str, config_name: str, deployment_config: dict[str, Any]) -> None:
        self._call(
            "update_endpoint",
            EndpointName=name,
            EndpointConfigName=config_name,
            DeploymentConfig=deployment_config,
        )

    # --- integration tests ------------------------------------------------------------------------

    def invoke(self, endpoint: str, body: bytes, content_type: str, accept: str | None) -> Any:
        """InvokeEndpoint (SageMaker Runtime, with the target role when there is one) → integration.Reply."""
        from botocore.exceptions import BotoCoreError, ClientError

        from steward.kernel.aws.clients import error_code
        from steward.promotion.integration import CannotRun, Reply, Retryable

        extra = {"Accept": accept} if accept else {}
        try:
            r = _client(self.region, self.role_arn, "sagemaker-runtime").invoke_endpoint(
                EndpointName=endpoint, Body=body, ContentType=content_type, **extra
            )
        except ClientError as exc:
            code = error_code(exc)
            error = exc.response.get("Error", {})
            if code == "ModelError":  # the container answered with an error status
                original = exc.response.get("OriginalStatusCode") or error.get("OriginalStatusCode") or 500
                message = str(exc.response.get("OriginalMessage") or error.get("OriginalMessage") or "")
                return Reply(int(original), "text/plain", message.encode()[:10_000])
            if code in _RUNTIME_RETRY or code.startswith("5"):
                raise Retryable(code) from None
            raise CannotRun(f"{code}: {str(error.get('Message', ''))[:200]}") from None
        except (BotoCoreError, TimeoutError) as exc:  # read timeout, connection reset
            raise Retryable(type(exc).__name__) from None
        return Reply(200, str(r.get("ContentType") or ""), r["Body"].read()[:1_000_000])

    def sample_requests(self, uri: str) -> str:
        """The JSON Lines file of sample requests (in Steward's account, like the metric reports)."""
        from steward.kernel.arns import s3_split

        bucket, key = s3_split(uri)
        try:
            body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(1_000_001)
        except Exception as exc:
            from steward.kernel.aws.clients import error_code

            raise NotFoundError(f"sample requests {uri}: {error_code(exc) or exc}") from None
        if len(body) > 1_000_000:
            raise NotFoundError(f"sample requests {uri}: over 1 MB")
        return str(body.decode("utf-8", "replace"))
