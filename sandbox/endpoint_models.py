"""SageMaker Runtime's InvokeEndpoint where moto falls short (README "The sandbox").

moto's InvokeEndpoint answers any endpoint name, existing or not, with canned results queued through
its own API. While a Sandbox runs it answers as SageMaker does: a ValidationError for an endpoint that
does not exist or is not serving (Creating, Failed, ...), else the model's answer. A test supplies the
model with `Sandbox.endpoint_model(name, fn)`: `fn(Invocation)` returns a `ModelReply` (status, body,
content type, latency the sandbox waits), or any JSON value (200, application/json), or raises
`Throttled` (a ThrottlingException). A status other than 2xx comes back as SageMaker's ModelError (HTTP
424, with OriginalStatusCode and OriginalMessage). Without `endpoint_model` the model echoes the request.
The Invocation names the endpoint's config and the model package its model serves, so one function
can model versions that differ (a faulty v7, a slow v8).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_SERVING = ("InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")


@dataclass(frozen=True)
class Invocation:
    endpoint: str
    endpoint_config: str | None
    model_package: str | None  # the ModelPackageName the config's first variant's model was made from
    body: bytes
    content_type: str
    accept: str | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class ModelReply:
    body: Any = b""  # bytes, text, or a JSON value (then sent as application/json)
    status: int = 200
    content_type: str | None = None
    latency_ms: float = 0.0


class Throttled(Exception):
    """Raised by a model function: SageMaker answers ThrottlingException."""


Model = Callable[[Invocation], Any]


def echo(invocation: Invocation) -> ModelReply:
    return ModelReply(invocation.body, 200, invocation.content_type)


def _error(status: int, code: str, message: str, **extra: Any) -> tuple[int, dict[str, str], str]:
    headers = {"status": str(status), "x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return status, headers, json.dumps({"message": message, **extra})


class EndpointModels:
    def __init__(self, account: str) -> None:
        self.account = account
        self.models: dict[str, Model] = {}
        self._original: Any = None

    def install(self) -> None:
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        self._original = SageMakerRuntimeResponse.invoke_endpoint
        models = self

        def invoke_endpoint(response: Any) -> Any:
            return models.answer(response)

        SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        if self._original is not None:
            SageMakerRuntimeResponse.invoke_endpoint = self._original  # type: ignore[method-assign]
            self._original = None

    def _invocation(self, response: Any) -> Invocation | tuple[int, dict[str, str], str]:
        from moto.sagemaker.models import sagemaker_backends

        name = response.path.rstrip("/").split("/")[-2] if "/endpoints/" in response.path else ""
        name = response._get_param("EndpointName") or name
        backend = sagemaker_backends[response.current_account][response.region]
        endpoint = backend.endpoints.get(name)
        where = f"arn:aws:sagemaker:{response.region}:{response.current_account}:endpoint/{name.lower()}"
        if endpoint is None:
            return _error(
                400, "ValidationError", f"Endpoint {name} of account {response.current_account} not found."
            )
        if endpoint.endpoint_status not in _SERVING:
            return _error(
                400,
                "ValidationError",
                f"Endpoint {where} is in {endpoint.endpoint_status} state: not serving.",
            )
        config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
        package = None
        if config is not None and config.production_variants:
            model = backend._models.get(config.production_variants[0].get("ModelName"))
            if model is not None:
                containers = [model.primary_container or {}, *(model.containers or [])]
                package = next(
                    (c.get("ModelPackageName") for c in containers if c.get("ModelPackageName")), None
                )
        headers = {k.lower(): v for k, v in response.headers.items()}
        body = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
        return Invocation(
            endpoint=name,
            endpoint_config=endpoint.endpoint_config_name,
            model_package=package,
            body=body,
            content_type=headers.get("content-type", "application/octet-stream"),
            accept=headers.get("accept"),
        )

    def answer(self, response: Any) -> Any:
        invocation = self._invocation(response)
        if not isinstance(invocation, Invocation):
            return invocation
        model = self.models.get(invocation.endpoint, echo)
        try:
            reply = model(invocation)
        except Throttled as exc:
            return _error(400, "ThrottlingException", str(exc) or "Rate exceeded")
        if not isinstance(reply, ModelReply):
            reply = ModelReply(reply)
        if reply.latency_ms:
            time.sleep(reply.latency_ms / 1000.0)
        body = reply.body
        content_type = reply.content_type
        if not isinstance(body, bytes | str):
            body, content_type = json.dumps(body), content_type or "application/json"
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if not 200 <= reply.status < 300:
            return _error(
                424,
                "ModelError",
                f'Received client error ({reply.status}) from primary with message "{text[:200]}".',
                OriginalStatusCode=reply.status,
                OriginalMessage=text,
            )
        return 200, {"Content-Type": content_type or "application/octet-stream"}, body
