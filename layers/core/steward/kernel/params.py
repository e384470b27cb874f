"""Input checks shared by the lineage API and CLI: ids, depths, times, endpoint names, page tokens.

Each check names the parameter it checks (`field`): a refusal says which query, path or body parameter
was wrong, in its message and as `field` of the 400 body (functions/api/app.py maps the refusal).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from steward.kernel.arns import canonical_arn, is_node_id, sagemaker_arn
from steward.kernel.errors import RefusedError
from steward.kernel.times import parse_timestamp

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

MAX_DEPTH = 10
MAX_PAGE = 500
# Patterns the OpenAPI document declares and the API enforces (Powertools validates them: a 400).
ENDPOINT_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"  # SageMaker's rule
_ENDPOINT_NAME = re.compile(ENDPOINT_NAME)
NODE_ID = r"^(arn:aws[a-z-]*:[a-z0-9-]+:[^:]*:[^:]*:.+|s3://[^/\s].*)$"
ACCOUNT = r"^[0-9]{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# What a value that does not match each pattern is not (the 400's message: "a: 'x' is neither ...").
PATTERN_HELP = {
    ENDPOINT_NAME: "is not a SageMaker endpoint name",
    NODE_ID: "is neither an ARN nor an s3:// URI",
    ACCOUNT: "is not a 12-digit AWS account id",
    REGION: "is not an AWS region",
    UUID: "is not an approval request id (a UUID)",
}
TIME_HELP = (
    "An ISO-8601 time (2026-11-02T09:20:00Z; a date alone, an offset, epoch seconds or milliseconds "
    "also do), between 1970 and 9998."
)

# Parameters shared by the endpoint routes (promotion, monitoring).
EndpointName = Annotated[
    str,
    Path(
        pattern=ENDPOINT_NAME,
        max_length=63,
        description="A SageMaker endpoint name (of another account or region: add ?account=&region=).",
        examples=["churn-prod"],
    ),
]
Account = Annotated[
    str | None,
    Query(
        pattern=ACCOUNT,
        description="The endpoint's account, for an endpoint of another account (forwarded events). "
        "Default: this API's.",
        examples=["123456789012"],
    ),
]
Region = Annotated[
    str | None,
    Query(
        pattern=REGION,
        max_length=30,
        description="The endpoint's region. Default: this API's.",
        examples=["us-east-1"],
    ),
]


# --- OpenAPI response declarations (the routes' `responses=`; functions/api/app.py adds the components
# they refer to and the answers every route can give) ---------------------------------------------------


def ok(description: str, schema: dict[str, Any], media_type: str = "application/json") -> OpenAPIResponse:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def refused(description: str) -> OpenAPIResponse:
    """A JSON error answer: Steward's error body (`error`, `message`, and `field` for bad input)."""
    return ok(description, {"$ref": "#/components/schemas/Error"})


def page_answer(description: str) -> OpenAPIResponse:
    """An HTML page (the approval link's routes)."""
    return ok(description, {"type": "string"}, "text/html")


def obj(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """A JSON object with these properties (`required` always present), and maybe others."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **optional},
        "additionalProperties": True,
    }


OBJECTS = {"type": "array", "items": {"type": "object"}}
ITEMS = obj({"items": OBJECTS})
GRAPH = obj(
    {
        "nodes": {"type": "array", "items": obj({"id": {"type": "string"}, "kind": {"type": "string"}})},
        "edges": {
            "type": "array",
            "items": obj(
                {"from": {"type": "string"}, "to": {"type": "string"}, "relation": {"type": "string"}}
            ),
        },
    }
)


class BadRequestError(RefusedError):
    """Input the API refuses (400): `field` names the parameter, the message the parameter and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", status=400, error="BadRequest", field=field)


MAX_BODY_BYTES = 256 * 1024  # no route takes more (an approval form, a rollback request, a Slack payload)
MAX_BODY_NESTING = 32  # no route's JSON is nested more than a few levels; parsing deeper is wasted work


def _nesting(text: str, limit: int) -> int:
    """How deep `text`'s JSON brackets go, up to limit + 1 (strings skipped; no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def body_refusal(event: Any) -> RefusedError | None:
    """Why no route takes this request's body (None when it is acceptable): over MAX_BODY_BYTES is a
    413; not UTF-8 text (every route takes JSON or a form), or JSON nested deeper than
    MAX_BODY_NESTING, a 400 (either would otherwise fail the function: a 5xx)."""
    body = event.get("body") if isinstance(event, dict) else None
    if not isinstance(body, str) or not body:
        return None
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    text: str | None = body
    if size <= MAX_BODY_BYTES and event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            text = None
    if size > MAX_BODY_BYTES:
        message = f"body: {size} bytes is over the limit of {MAX_BODY_BYTES}"
        return RefusedError(message, status=413, error="PayloadTooLarge", field="body")
    if text is None:
        return BadRequestError("body", "not UTF-8 text")
    if _nesting(text, MAX_BODY_NESTING) > MAX_BODY_NESTING:
        return BadRequestError("body", f"JSON nested deeper than {MAX_BODY_NESTING} levels")
    return None


def node_id(value: str, field: str = "id") -> str:
    value = value.strip()
    if not is_node_id(value) or value.rstrip("/") == "s3:":
        raise BadRequestError(field, f"{value[:80]!r} is neither an ARN nor an s3:// URI")
    return value.rstrip("/") if value.startswith("s3://") else canonical_arn(value)


def depth(value: int | str, field: str = "depth") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequestError(field, f"{str(value)[:20]!r} is not a whole number") from None
    if not 0 <= number <= MAX_DEPTH:
        raise BadRequestError(field, f"{number} is out of range 0..{MAX_DEPTH}")
    return number


def direction(value: str, field: str = "direction") -> str:
    if value not in ("upstream", "downstream"):
        raise BadRequestError(field, f"{value[:20]!r} is not upstream or downstream")
    return value


def timestamp(value: str, field: str = "at") -> datetime:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRequestError(field, f"{value[:40]!r} is not an ISO-8601 time")
    if not 1970 <= parsed.year <= 9998:
        raise BadRequestError(field, f"{value[:40]!r} is out of range (1970..9998)")
    return parsed


def account(value: str, field: str = "account") -> str:
    if not re.fullmatch(ACCOUNT, value):
        raise BadRequestError(field, f"{value[:20]!r} is not a 12-digit AWS account id")
    return value


def region(value: str, field: str = "region") -> str:
    if not re.fullmatch(REGION, value):
        raise BadRequestError(field, f"{value[:20]!r} is not an AWS region")
    return value


def endpoint_id(name: str, region: str, account: str, field: str = "name") -> str:
    if name.startswith("arn:"):
        return node_id(name, field)
    if not _ENDPOINT_NAME.match(name):
        raise BadRequestError(field, f"{name[:80]!r} is not a SageMaker endpoint name")
    return sagemaker_arn(region, account, "endpoint", name)


def limit(value: int, field: str = "limit") -> int:
    if not 1 <= value <= MAX_PAGE:
        raise BadRequestError(field, f"{value} is out of range 1..{MAX_PAGE}")
    return value


def page(items: list[Any], size: int, token: str | None) -> dict[str, Any]:
    """An offset page of `items` with an opaque next token (parameters `limit` and `next`)."""
    limit(size)
    start = 0
    if token:
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"]
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise ValueError("offset")
            start = offset
        except (ValueError, KeyError, TypeError, OverflowError):
            raise BadRequestError("next", "not a token this API issued") from None
    chunk = items[start : start + size]
    more = start + size < len(items)
    next_token = (
        base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode() if more else None
    )
    return {"items": chunk, "next": next_token}


NodeId = Annotated[
    str,
    Query(
        min_length=5,
        max_length=2048,
        pattern=NODE_ID,
        description="An ARN or an s3:// URI (a prefix resolves to the datasets under it).",
        examples=["arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"],
    ),
]
