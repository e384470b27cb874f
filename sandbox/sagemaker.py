"""SageMaker's side of the loop where moto falls short (README "The sandbox").

moto has no UpdateEndpoint. The sandbox adds it for the duration of a Sandbox: the endpoint moves to
the new config (InService, as moto reports every endpoint) with a new LastModifiedTime, so code that
updates endpoints and code that reads them back (the reconciler) run unchanged.
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


class SageMakerEmulation:
    """Adds the SageMaker operations moto lacks while a sandbox runs, and removes them after."""

    def __init__(self) -> None:
        self._added: list[str] = []

    def install(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        if not hasattr(SageMakerResponse, "update_endpoint"):
            SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
            self._added.append("update_endpoint")

    def uninstall(self) -> None:
        from moto.sagemaker.responses import SageMakerResponse

        for name in self._added:
            delattr(SageMakerResponse, name)
        self._added.clear()
