"""GET /openapi.json is Powertools' document of the routes, completed here with what the routes do not
declare themselves: the answers every route can give (a refused body, API Gateway's own 403/413/429/
502/504, 503), which routes are IAM-authorised (as template.yaml says), and the error bodies' schemas.
"""

from __future__ import annotations

import json
from typing import Any

from steward import __version__
from steward.api.errors import BODY_TYPES, OPEN_ROUTES, is_page
from steward.kernel import params as check

_GATEWAY = {"$ref": "#/components/schemas/GatewayError"}
_ERROR = {"$ref": "#/components/schemas/Error"}
_BAD_REQUEST = {"$ref": "#/components/schemas/BadRequest"}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Steward's error body: a stable `error` code and a message naming what was wrong.",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "BadRequest": {
        "type": "object",
        "description": "A 400: `field` is the query, path or body parameter at fault (`body`: the body).",
        "required": ["error", "message", "field"],
        "properties": {
            "error": {"const": "BadRequest"},
            "message": {"type": "string"},
            "field": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "GatewayError": {
        "type": "object",
        "description": "API Gateway's own answer (the request reached no function, or the function failed).",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
        "additionalProperties": False,
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _merge(responses: dict[str, Any], status: int, extra: dict[str, Any]) -> None:
    """Add `extra` as the `status` answer, or merge it into what the route already declares there."""
    declared = responses.get(str(status))
    if declared is None:
        responses[str(status)] = extra
        return
    declared["description"] = f"{declared.get('description', '')} Or: {extra['description']}".strip()
    content = declared.setdefault("content", {})
    for media, payload in extra.get("content", {}).items():
        if media not in content:
            content[media] = payload
        elif content[media].get("schema") != payload["schema"]:
            content[media] = {"schema": {"anyOf": [content[media]["schema"], payload["schema"]]}}
    if extra.get("headers"):
        declared.setdefault("headers", {}).update(extra["headers"])


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # Powertools' default; the API answers 400 (answer_error)
    iam = (method, path) not in OPEN_ROUTES
    operation["security"] = [{"sigv4": []}] if iam else []
    parameters = bool(operation.get("parameters") or operation.get("requestBody"))
    _merge(
        responses,
        400,
        _json(
            ("A parameter is invalid: `field` names it. " if parameters else "")
            + "A body that is not UTF-8 text, or JSON nested deeper than "
            f"{check.MAX_BODY_NESTING} levels, is refused with field `body`.",
            {"anyOf": [_BAD_REQUEST, _GATEWAY]},
        ),
    )
    if iam:
        _merge(
            responses,
            403,
            _json("API Gateway: the request is not SigV4-signed by an allowed IAM identity.", _GATEWAY),
        )
    _merge(
        responses,
        413,
        _json(
            f"The body is over {check.MAX_BODY_BYTES} bytes (PayloadTooLarge); over 10 MB, API Gateway "
            "refuses it itself.",
            {"anyOf": [_ERROR, _GATEWAY]},
        ),
    )
    _merge(responses, 429, _json("API Gateway: throttled (the stage's rate and burst limits).", _GATEWAY))
    _merge(
        responses,
        502,
        _json(
            "API Gateway: the function failed (a misconfiguration or a bug; the detail is in its log, and "
            "the function's Errors alarm fires).",
            _GATEWAY,
        ),
    )
    if (method, path) in BODY_TYPES:
        _merge(
            responses,
            415,
            _json(
                f"The body's Content-Type is not {BODY_TYPES[method, path]} (field `Content-Type`).", _ERROR
            ),
        )
    if path not in ("/health", "/openapi.json"):
        unavailable = "An AWS service Steward depends on failed; retry after `Retry-After` seconds."
        _merge(
            responses,
            503,
            {
                **(check.page_answer(unavailable) if is_page(path) else _json(unavailable, _ERROR)),
                "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
            },
        )
    _merge(responses, 504, _json("API Gateway: the function did not answer within 29 seconds.", _GATEWAY))
    operation["responses"] = dict(sorted(responses.items()))


def openapi_document(app: Any) -> dict[str, Any]:
    """The document of `app`'s routes, completed (build once per process: the caller caches it)."""
    from aws_lambda_powertools.event_handler.openapi.models import Server  # ~70 ms: not at cold start

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="Steward API",
            version=__version__,
            description=(
                "Lineage, deployments, approvals and monitoring of SageMaker models. IAM-authorised "
                "(SigV4) except /health, the approval links and Slack's interactivity endpoint."
            ),
            servers=[Server(url=".", description="The URL this document was fetched from, minus its name")],
        )
    )
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _complete(path, method, operation)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    schemas.update(SCHEMAS)
    components["securitySchemes"] = {
        "sigv4": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "description": "AWS Signature Version 4 (API Gateway AWS_IAM authorisation).",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    }
    return document
