"""Input checks shared by the lineage API and CLI: ids, depths, times, endpoint names, page tokens."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from steward.events.normalize import parse_timestamp
from steward.lineage.arns import canonical_arn, is_node_id, sagemaker_arn

MAX_DEPTH = 10
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class BadRequestError(ValueError):
    """Input the API refuses; the message names the parameter and the problem."""


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


def refuse_body(event: Any) -> dict[str, Any] | None:
    """The proxy response for a request body no route takes (None when it is acceptable): over
    MAX_BODY_BYTES is a 413; not UTF-8 text (every route takes JSON or a form), or JSON nested deeper
    than MAX_BODY_NESTING, a 400 (either would otherwise fail the function: a 5xx)."""
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
        problem = (413, "PayloadTooLarge", f"body: {size} bytes is over the limit of {MAX_BODY_BYTES}")
    elif text is None:
        problem = (400, "BadRequest", "body: not UTF-8 text")
    elif _nesting(text, MAX_BODY_NESTING) > MAX_BODY_NESTING:
        problem = (400, "BadRequest", f"body: JSON nested deeper than {MAX_BODY_NESTING} levels")
    else:
        return None
    status, error, message = problem
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": error, "message": message}),
        "isBase64Encoded": False,
    }


def node_id(value: str) -> str:
    value = value.strip()
    if not is_node_id(value) or value.rstrip("/") == "s3:":
        raise BadRequestError(f"id: {value[:80]!r} is neither an ARN nor an s3:// URI")
    return value.rstrip("/") if value.startswith("s3://") else canonical_arn(value)


def depth(value: int | str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"depth: {str(value)[:20]!r} is not a whole number") from None
    if not 0 <= number <= MAX_DEPTH:
        raise BadRequestError(f"depth: {number} is out of range 0..{MAX_DEPTH}")
    return number


def direction(value: str) -> str:
    if value not in ("upstream", "downstream"):
        raise BadRequestError(f"direction: {value[:20]!r} is not upstream or downstream")
    return value


def timestamp(value: str) -> datetime:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRequestError(f"at: {value[:40]!r} is not an ISO-8601 time")
    if not 1970 <= parsed.year <= 9998:
        raise BadRequestError(f"at: {value[:40]!r} is out of range (1970..9998)")
    return parsed


def account(value: str) -> str:
    if not (len(value) == 12 and value.isdigit()):
        raise BadRequestError(f"account: {value[:20]!r} is not a 12-digit AWS account id")
    return value


def region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
        raise BadRequestError(f"region: {value[:20]!r} is not an AWS region")
    return value


def endpoint_id(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return node_id(name)
    if not _ENDPOINT_NAME.match(name):
        raise BadRequestError(f"name: {name[:80]!r} is not a SageMaker endpoint name")
    return sagemaker_arn(region, account, "endpoint", name)


def page(items: list[Any], limit: int, token: str | None) -> dict[str, Any]:
    """An offset page of `items` with an opaque next token."""
    if not 1 <= limit <= 500:
        raise BadRequestError(f"limit: {limit} is out of range 1..500")
    start = 0
    if token:
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"]
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise ValueError("offset")
            start = offset
        except (ValueError, KeyError, TypeError, OverflowError):
            raise BadRequestError("next: not a token this API issued") from None
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    next_token = (
        base64.urlsafe_b64encode(json.dumps({"offset": start + limit}).encode()).decode() if more else None
    )
    return {"items": chunk, "next": next_token}
