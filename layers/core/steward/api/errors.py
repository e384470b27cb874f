"""Errors become HTTP statuses here and only here (`answer_error`), one exception type per meaning:

- RefusedError (BadRequestError is one; Powertools' validation errors become one): its 4xx,
  `{"error", "message", "field"?}`; a 400 names the query, path or body parameter at fault in `field`
  and in the message. A body no route takes is refused the same way before routing (413 over 256 KB,
  400 not UTF-8 or too deep, 415 another media type), and a path parameter Powertools' router cannot
  match is a 400 naming it (on the approval link's routes, the forged-link page).
- NotFoundError: 404.
- DependencyError (an AWS service throttled or failed past botocore's retries): 503 with Retry-After;
  an error log line with the detail and a DependencyFailures metric. Not a function error: retrying
  may succeed, and nothing is wrong with Steward.
- ConfigurationError (Steward set up wrong: an empty signing secret, no queue configured): an error
  log line with the detail, then re-raised, so the invocation is a Lambda function error (AWS/Lambda
  Errors, which the ApiErrorsAlarm watches) and API Gateway answers its generic
  502 {"message": "Internal server error"}; the caller never sees the detail. A Lambda proxy
  integration cannot both answer a 500 of its own and count as a function error: the alarm won.
- An AWS error no adapter translated: throttling or a service's 5xx is a dependency failure (503);
  anything else is a bug (or IAM set up wrong): logged, a function error too, the same opaque 502.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from steward.kernel import params as check
from steward.kernel.aws.clients import RETRYABLE_CODES, error_code
from steward.kernel.errors import ConfigurationError, DependencyError, NotFoundError, RefusedError
from steward.kernel.observability import logger, metrics

# Routes without AWS_IAM in template.yaml (Auth: Authorizer: NONE); every other route is IAM-authorised.
OPEN_ROUTES = frozenset(
    {
        ("get", "/health"),
        ("get", "/approvals/{token}"),
        ("post", "/approvals/{token}"),
        ("post", "/slack/interactions"),
    }
)
# The media type each route that takes a body takes (what the document's requestBody declares; a test
# holds them equal). Another Content-Type is a 415; none at all is taken as this one (as Powertools does).
BODY_TYPES = {
    ("post", "/endpoints/{name}/rollback"): "application/json",
    ("post", "/approval-requests/{request_id}/decisions"): "application/json",
    ("post", "/approvals/{token}"): "application/x-www-form-urlencoded",
    ("post", "/slack/interactions"): "application/x-www-form-urlencoded",
}
RETRY_AFTER_SECONDS = 5


def _field(location: tuple[Any, ...]) -> str:
    """The parameter a validation error is about: ("query", "b") → b, ("body", "reason") → reason,
    ("body",) or ("body", 0) (the body itself: missing, not JSON) → body."""
    where, *rest = location or ("request",)
    names = [str(part) for part in rest if isinstance(part, str)]
    return ".".join(names) if names else str(where)


def _problem(error: dict[str, Any]) -> str:
    given = error.get("input")
    if not isinstance(given, str | int) or error.get("type") == "missing":
        return str(error["msg"])
    shown = repr(str(given)[:80])
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch" and pattern in check.PATTERN_HELP:
        return f"{shown} {check.PATTERN_HELP[pattern]}"
    return f"{error['msg']} (got {shown})"


def _refusal(exc: RequestValidationError) -> RefusedError:
    problems = [(_field(tuple(e["loc"])), _problem(e)) for e in exc.errors()]
    message = "; ".join(f"{field}: {msg}" for field, msg in problems) or "invalid request"
    return RefusedError(
        message[:1000], status=400, error="BadRequest", field=problems[0][0] if problems else None
    )


def is_page(resource: str) -> bool:
    """The approval link's routes answer HTML pages: a person reads them, in a browser."""
    return resource.startswith("/approvals/")


def _respond(
    resource: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    """Steward's JSON error body, or an HTML page saying the same on the approval link's routes."""
    if is_page(resource):
        from steward.approvals import page

        html = page.message_page("Something went wrong", str(body["message"]), status="error")
        return Response(
            status, "text/html; charset=utf-8", html, headers={**page.SECURITY_HEADERS, **(headers or {})}
        )
    return Response(status, "application/json", body, headers=headers)


def answer_error(exc: Exception, resource: str) -> Response[Any]:
    """The one place an exception becomes an answer (registered for every exception); `resource` is the
    route template the request matched."""
    if isinstance(exc, RequestValidationError):  # Powertools' parameter and body validation
        exc = _refusal(exc)
    elif isinstance(exc, ServiceError) and 400 <= exc.status_code < 500:  # none of ours raises one
        exc = RefusedError(str(exc.msg), status=exc.status_code, error=type(exc).__name__)
    elif error_code(exc) in RETRYABLE_CODES:  # an AWS error no adapter translated: throttling, a 5xx
        exc = DependencyError(f"{type(exc).__name__}: {error_code(exc)}")
    if isinstance(exc, RefusedError):
        return _respond(resource, exc.status, exc.to_dict())
    if isinstance(exc, NotFoundError):
        return _respond(resource, 404, {"error": "NotFound", "message": str(exc)})
    if isinstance(exc, DependencyError):
        logger.error("dependency failed", extra={"error": "DependencyError", "detail": str(exc)})
        metrics.add_metric(name="DependencyFailures", unit=MetricUnit.Count, value=1)
        return _respond(
            resource,
            503,
            {"error": "Unavailable", "message": "A service Steward depends on failed; try again shortly."},
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    # The invocation fails (a function error, counted by the Errors alarm); API Gateway answers its
    # generic 502. The detail goes to the log, never to the caller.
    if isinstance(exc, ConfigurationError):
        logger.error("misconfigured", extra={"error": "ConfigurationError", "detail": str(exc)})
    else:
        logger.exception("unhandled error", extra={"error": type(exc).__name__})  # a bug, or IAM
    raise exc


def no_route(event: Any) -> Response[Any]:
    """API Gateway matched one of its routes, Powertools' router none: a path parameter holds a character
    the router's patterns exclude ('/', '?', a control character). It is a bad parameter like another."""
    if is_page(event.resource):
        from steward.approvals import page, web

        status, html = web.forged_page()
        return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))
    params = event.path_parameters or {}
    field = next(iter(sorted(params)), None)
    if field is None:
        return answer_error(
            NotFoundError(f"no route {event.http_method} {event.path[:100]!r}"), event.resource
        )
    problem = f"{params[field][:80]!r} holds a character no {field} can have ('/', a control character)"
    if field == "name" and params[field].startswith("arn:"):
        problem += "; name an endpoint of another account or region by its name, with ?account=&region="
    return answer_error(check.BadRequestError(field, problem), event.resource)


def media_refusal(event: Any) -> RefusedError | None:
    """A 415 for a body of another media type than its route takes (JSON parsed as a multipart form,
    say, would otherwise fail the function)."""
    if not isinstance(event, dict) or not event.get("body"):
        return None
    wanted = BODY_TYPES.get((str(event.get("httpMethod", "")).lower(), str(event.get("resource", ""))))
    headers = event.get("headers") or {}
    sent = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    media = sent.split(";", 1)[0].strip().lower()
    if wanted is None or not media or media == wanted:
        return None
    return RefusedError(
        f"Content-Type: {media[:60]!r} is not {wanted}",
        status=415,
        error="UnsupportedMediaType",
        field="Content-Type",
    )


def proxy_response(refusal: RefusedError) -> dict[str, Any]:
    return {
        "statusCode": refusal.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(refusal.to_dict()),
        "isBase64Encoded": False,
    }
