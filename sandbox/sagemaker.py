"""SageMaker's side of the loop where moto falls short (README "The sandbox").

- moto has no UpdateEndpoint. The sandbox adds it for the duration of a Sandbox: the endpoint moves to
  the new config (InService, as moto reports every endpoint) with a new LastModifiedTime, so code that
  updates endpoints and code that reads them back (the reconciler) run unchanged.
- moto emits no events. CreateModelPackage and UpdateModelPackage here emit the "SageMaker Model
  Package State Change" event SageMaker would send (with UpdatedModelPackageFields naming what the
  call changed), delivered through the template's rules on the sandbox's next drain.
"""

from __future__ import annotations

from typing import Any


def _update_endpoint(response: Any) -> Any:
    from moto.core.common_types import TYPE_RESPONSE  # noqa: F401 (import checks moto's version)
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError

    backend = response.sagemaker_backend
    name = response._get_param("EndpointName")
    config_name = response._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint '{name}'.")
    try:
        config = backend.describe_endpoint_config(config_name)
    except Exception:
        raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.") from None
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    return ActionResult({"EndpointArn": endpoint.arn})


_UPDATE_FIELDS = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "CustomerMetadataProperties",
    "CustomerMetadataPropertiesToRemove",
    "AdditionalInferenceSpecificationsToAdd",
    "ModelLifeCycle",
)


def _iso(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def package_event(response: Any, arn: str, updated: list[str] | None) -> dict[str, Any]:
    """The Model Package State Change event for the package as moto now holds it."""
    package = response.sagemaker_backend.describe_model_package(arn)
    detail = _iso(package.gen_response_object())
    if updated is not None:
        detail["UpdatedModelPackageFields"] = updated
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": response.current_account,
        "region": response.region,
        "resources": [detail["ModelPackageArn"]],
        "detail": detail,
    }


class SageMakerEmulation:
    """Adds the SageMaker operations and events moto lacks while a sandbox runs, and removes them after."""

    def __init__(self, emit: Any = None) -> None:
        self._added: list[str] = []
        self._wrapped: dict[str, Any] = {}
        self.emit = emit

    def install(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        if not hasattr(SageMakerResponse, "update_endpoint"):
            SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
            self._added.append("update_endpoint")
        if self.emit is None:
            return
        emulation = self
        create, update = SageMakerResponse.create_model_package, SageMakerResponse.update_model_package
        self._wrapped = {"create_model_package": create, "update_model_package": update}

        def create_model_package(response: Any) -> Any:
            result = create(response)
            arn = result.result["ModelPackageArn"] if hasattr(result, "result") else None
            if arn:
                emulation.emit(package_event(response, arn, None))
            return result

        def update_model_package(response: Any) -> Any:
            arn = response._get_param("ModelPackageArn")
            updated = [f for f in _UPDATE_FIELDS if response._get_param(f) not in (None, [], {})]
            result = update(response)
            from moto.core.utils import utcnow

            # SageMaker moves LastModifiedTime on every update; the event's own time orders states.
            response.sagemaker_backend.describe_model_package(arn).last_modified_time = utcnow()
            emulation.emit(package_event(response, arn, updated))
            return result

        SageMakerResponse.create_model_package = create_model_package  # type: ignore[method-assign]
        SageMakerResponse.update_model_package = update_model_package  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        for name in self._added:
            delattr(SageMakerResponse, name)
        for name, original in self._wrapped.items():
            setattr(SageMakerResponse, name, original)
        self._added.clear()
        self._wrapped.clear()
