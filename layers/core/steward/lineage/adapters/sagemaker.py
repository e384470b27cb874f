"""Read-only SageMaker calls the lineage recorder needs (what no event carries)."""

from __future__ import annotations

from typing import Any

from steward.kernel.aws.clients import RETRYABLE_CODES, assumed_client, call, client, error_code
from steward.kernel.errors import DependencyError, NotFoundError
from steward.lineage.extract import EndpointConfigFacts, ModelFacts


class SageMakerReader:
    """DescribeEndpointConfig / DescribeModel, with ClientError turned into domain errors. With `role_arn`
    (a workload account's read role), every call is made with that role's credentials, in its account."""

    def __init__(self, region: str | None = None, role_arn: str | None = None) -> None:
        self.region = region
        self.role_arn = role_arn

    @property
    def _sm(self) -> Any:
        if self.role_arn is None:
            return client("sagemaker", self.region)
        try:
            return assumed_client("sagemaker", self.region, self.role_arn, "steward-lineage")
        except Exception as exc:  # a role that cannot be assumed reads nothing: recorded degraded
            code = error_code(exc)
            if code in RETRYABLE_CODES or code.startswith("5"):
                raise DependencyError(f"AssumeRole {self.role_arn}: {code}") from exc
            if code:
                raise NotFoundError(f"cannot assume {self.role_arn}: {code}") from exc
            raise

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        # A record that cannot be described (gone, or not ours to read) is recorded degraded, not retried.
        return call(
            self._sm,
            operation,
            ("ValidationException", "ResourceNotFound", "AccessDeniedException"),
            **kwargs,
        )

    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Any read-only Describe call (the reconciler's), with the same error mapping."""
        if not operation.startswith("describe_"):
            raise ValueError(f"{operation} is not a Describe call")
        return self._call(operation, **kwargs)

    def describe_model(self, name: str) -> ModelFacts:
        response = self._call("describe_model", ModelName=name)
        containers = list(response.get("Containers") or [])
        if response.get("PrimaryContainer"):
            containers.insert(0, response["PrimaryContainer"])
        package = next((c.get("ModelPackageName") for c in containers if c.get("ModelPackageName")), None)
        return ModelFacts(
            name=response.get("ModelName", name),
            arn=response["ModelArn"],
            model_package_arn=package if package and package.startswith("arn:") else None,
            model_data_urls=[c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")],
            images=[c["Image"] for c in containers if c.get("Image")],
        )

    def describe_endpoint_config(self, name: str) -> EndpointConfigFacts:
        response = self._call("describe_endpoint_config", EndpointConfigName=name)
        models = []
        for variant in response.get("ProductionVariants") or []:
            model_name = variant.get("ModelName")
            if model_name:
                models.append(self.describe_model(model_name))
        capture = (response.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        return EndpointConfigFacts(
            name=response.get("EndpointConfigName", name),
            arn=response["EndpointConfigArn"],
            models=models,
            data_capture_uri=capture,
        )


class SageMakerCatalog(SageMakerReader):
    """The backfill's SageMaker: the reader's Describe calls and List pages, every call counted in `calls`
    (the run's budget), with the same error mapping. A model is described once per catalog (one
    invocation): a transform job and an endpoint config that use it ask for the same immutable facts."""

    def __init__(self, region: str | None = None) -> None:
        super().__init__(region)
        self.calls = 0
        self._models: dict[str, ModelFacts] = {}

    def describe_model(self, name: str) -> ModelFacts:
        if name not in self._models:
            self._models[name] = super().describe_model(name)
        return self._models[name]

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return super()._call(operation, **kwargs)

    def list_page(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One page of a read-only List call."""
        if not operation.startswith("list_"):
            raise ValueError(f"{operation} is not a List call")
        return self._call(operation, **kwargs)


def workload_readers(roles: dict[str, str]) -> Any:
    """(account, region) -> a reader with that workload account's read role, or None without one."""

    def reader(account: str, region: str) -> SageMakerReader | None:
        role = roles.get(account)
        return SageMakerReader(region, role) if role else None

    return reader
