"""The REST API Lambda proxy integration: the event a handler receives for a request, and the HTTP
response its proxy answer becomes (or MalformedResponse, which API Gateway answers with a 502)."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from sandbox.apigw.routes import Route, match_path

ACCOUNT_ID = "123456789012"  # the default sandbox's; LocalApi(account=...) serves another account's
# The identity an AWS_IAM route sees. The ids are AWS's documented example values, so nothing here
# looks like (or is) a real credential.
LOCAL_IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-operator"


def local_iam_user_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:user/local-operator"


LOCAL_IAM_USER_ID = "AIDACKCEVSQ6C2EXAMPLE"
LOCAL_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Framing is the server's job: a handler's Content-Length could contradict the body actually sent.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _group_headers(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(headers, multiValueHeaders): names grouped case-insensitively under their first spelling."""
    spelling: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        key = spelling.setdefault(name.lower(), name)
        multi.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in multi.items()}, multi


def _group_query(query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def _request_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    # Built by hand because %b follows the process locale; API Gateway's format is always English.
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def build_proxy_event(
    route: Route,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    stage: str,
    source_ip: str,
    account: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """The REST API Lambda proxy event for one request (raw_path and query as sent, percent-encoded)."""
    params = match_path(route.path, raw_path)
    if params is None:
        raise ValueError(f"path {raw_path!r} does not match resource {route.path!r}")
    path = unquote(raw_path)
    single, multi = _group_headers(headers)
    query_single, query_multi = _group_query(query)
    text: str | None
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    user_agent = next((v for k, v in single.items() if k.lower() == "user-agent"), None)
    iam = route.auth == "AWS_IAM"
    now = time.time()
    identity = {
        "cognitoIdentityPoolId": None,
        "accountId": account if iam else None,
        "cognitoIdentityId": None,
        "caller": LOCAL_IAM_USER_ID if iam else None,
        "sourceIp": source_ip,
        "principalOrgId": None,
        "accessKey": LOCAL_ACCESS_KEY_ID if iam else None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": local_iam_user_arn(account) if iam else None,
        "userAgent": user_agent,
        "user": LOCAL_IAM_USER_ID if iam else None,
    }
    host = next((v for k, v in single.items() if k.lower() == "host"), "localhost")
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account,
            "apiId": "local",
            "resourcePath": route.path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": _request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": identity,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class MalformedResponse(ValueError):
    """The handler returned something API Gateway would reject ("Malformed Lambda proxy response")."""


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int, and JSON spells it "true"
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise MalformedResponse(f"header {name!r} has a non-scalar value {type(value).__name__}")
    if "\r" in text or "\n" in text:  # would let a handler forge extra headers or a second response
        raise MalformedResponse(f"header {name!r} contains a line break")
    return text


def _status(result: dict[str, Any]) -> int:
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    return status


def _merged_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    """multiValueHeaders, then headers; a name/value pair present in both is sent once (as API Gateway)."""
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    merged: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] is not a list")
        merged.extend((str(name), _header_value(name, v)) for v in values)
    seen = {(n.lower(), v) for n, v in merged}
    for name, value in single.items():
        text = _header_value(name, value)
        if (str(name).lower(), text) not in seen:
            merged.append((str(name), text))
    for name, _ in merged:
        if not name or any(c in name for c in ":\r\n "):
            raise MalformedResponse(f"invalid header name {name!r}")
    return merged


def _payload(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponse(f"body is a {type(body).__name__}, not a string")
    flag = result.get("isBase64Encoded")
    if flag is not None and not isinstance(flag, bool):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    if not (flag and body):
        return (body or "").encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponse("isBase64Encoded is true but body is not base64") from exc


def parse_proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) from a Lambda proxy response dict; raises MalformedResponse."""
    if not isinstance(result, dict):
        raise MalformedResponse(f"response is a {type(result).__name__}, not an object")
    unknown = set(result) - _RESPONSE_KEYS
    if unknown:
        raise MalformedResponse(f"unknown response keys {sorted(unknown)}")
    status, payload = _status(result), _payload(result)
    headers = [(n, v) for n, v in _merged_headers(result) if n.lower() not in _FRAMING_HEADERS]
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default for proxy responses
    return status, headers, payload
