"""A local stand-in for an API Gateway REST API (v1) with Lambda proxy ("AWS_PROXY") integrations.

Each HTTP request on 127.0.0.1 becomes the REST proxy event a Lambda handler receives in AWS, and the
handler's proxy response dict becomes the HTTP response. Where API Gateway's behaviour is observable
from a client, the sandbox copies it rather than doing something friendlier, so that a client that
works here works against the deployed stage:

- A resource or method that is not defined answers 403 {"message": "Missing Authentication Token"}
  (the MISSING_AUTHENTICATION_TOKEN gateway response), not 404 and not 405. HEAD and OPTIONS are
  ordinary methods: they reach a handler only through a HEAD/OPTIONS or ANY method on the resource
  (there is no automatic CORS preflight, as there is none in API Gateway without a CORS config).
- A handler that raises, or returns something that is not a valid proxy response (unknown keys, a
  non-string body, no statusCode...), answers 502 {"message": "Internal server error"}; the cause is
  logged, never sent to the client.
- A request body over `max_body_bytes` answers 413 without invoking (REQUEST_TOO_LARGE).
- A response without Content-Type gets application/json; `headers` and `multiValueHeaders` are merged
  (a key/value pair present in both is sent once).

Differences, on purpose: SigV4 is not verified (an AWS_IAM route sees a fixed local IAM user in
requestContext.identity), there are no binary media types (a request body that is not UTF-8 is passed
base64-encoded, and a response with isBase64Encoded true is always decoded), and a trailing slash on
the request path is ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # the default sandbox's; LocalApi(account=...) serves another account's
# The identity an AWS_IAM route sees. The ids are AWS's documented example values, so nothing here
# looks like (or is) a real credential.
LOCAL_IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-operator"


def local_iam_user_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:user/local-operator"


LOCAL_IAM_USER_ID = "AIDACKCEVSQ6C2EXAMPLE"
LOCAL_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
AUTH_TYPES = frozenset({"NONE", "AWS_IAM"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_STATIC, _VARIABLE, _GREEDY = 0, 1, 2  # segment kinds, in order of precedence
_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Framing is the server's job: a handler's Content-Length could contradict the body actually sent.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
# An oversized body this small is read and discarded so the client can read the 413 instead of seeing
# a reset connection; anything bigger is cut off.
_DRAIN_LIMIT = 8 * 1_048_576
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """One API Gateway method: an HTTP method (or ANY) on a resource path, integrated with a function."""

    method: str  # "GET", "POST", ..., or "ANY"
    path: str  # API Gateway resource path, e.g. "/health", "/endpoints/{name}", "/proxy/{proxy+}"
    function: str  # logical function name, used in logs and passed to invoke
    auth: str = "NONE"  # "NONE" or "AWS_IAM" (SigV4 is not verified; identity is a local caller)

    def __post_init__(self) -> None:
        # Normalised here so a template's "get" or "aws_iam" matches; frozen, hence object.__setattr__.
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "auth", self.auth.upper())
        if self.method not in METHODS:
            raise ValueError(f"route {self.path}: unsupported method {self.method!r}")
        if self.auth not in AUTH_TYPES:
            raise ValueError(f"route {self.path}: unsupported auth {self.auth!r} (NONE or AWS_IAM)")
        _resource_segments(self.path)  # validates the path


@lru_cache(maxsize=1024)  # parsed once per resource, not once per request
def _resource_segments(path: str) -> tuple[tuple[int, str], ...]:
    """A resource path as (kind, literal-or-parameter-name) segments; raises ValueError if malformed."""
    if not path.startswith("/"):
        raise ValueError(f"resource path {path!r} must start with '/'")
    parts = path.strip("/").split("/") if path.strip("/") else []
    segments: list[tuple[int, str]] = []
    for index, part in enumerate(parts):
        found = _PARAM.match(part)
        if found is None:
            if not part or "{" in part or "}" in part:
                raise ValueError(f"resource path {path!r}: bad segment {part!r}")
            segments.append((_STATIC, part))
        elif found.group(2):
            if index != len(parts) - 1:
                raise ValueError(f"resource path {path!r}: a greedy {{{found.group(1)}+}} must be last")
            segments.append((_GREEDY, found.group(1)))
        else:
            segments.append((_VARIABLE, found.group(1)))
    return tuple(segments)


def _request_segments(raw_path: str) -> list[str]:
    trimmed = raw_path[1:] if raw_path.startswith("/") else raw_path
    if trimmed.endswith("/"):
        trimmed = trimmed[:-1]
    return trimmed.split("/") if trimmed else []


def _match_path(resource: str, raw_path: str) -> dict[str, str] | None:
    """Path parameters (URL-decoded) if the percent-encoded request path fits the resource, else None.

    Matching happens before decoding so that an encoded "/" (%2F) stays inside one parameter.
    """
    segments = _resource_segments(resource)
    parts = _request_segments(raw_path)
    params: dict[str, str] = {}
    for index, (kind, name) in enumerate(segments):
        if kind == _GREEDY:
            rest = parts[index:]
            if not rest or not any(rest):  # {proxy+} needs at least one non-empty segment
                return None
            params[name] = unquote("/".join(rest))
            return params
        if index >= len(parts):
            return None
        part = parts[index]
        if kind == _STATIC:
            if unquote(part) != name:
                return None
        elif not part:
            return None
        else:
            params[name] = unquote(part)
    return params if len(parts) == len(segments) else None


def _specificity(route: Route) -> tuple[int, ...]:
    # Lexicographic: the first segment that differs decides, as in API Gateway's resource tree.
    return tuple(kind for kind, _ in _resource_segments(route.path))


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving `method` on the percent-encoded `path`, and its decoded path parameters.

    The most specific resource wins (static segment > {param} > {proxy+}); then, on that resource, an
    exact method beats ANY. A resource that matches without the method gives None, as API Gateway
    answers that the same way as an unknown resource (it does not fall back to a less specific one).
    """
    method = method.upper()
    candidates: list[tuple[tuple[int, ...], Route, dict[str, str]]] = []
    for route in routes:
        params = _match_path(route.path, path)
        if params is not None:
            candidates.append((_specificity(route), route, params))
    if not candidates:
        return None
    best = min(key for key, _, _ in candidates)
    on_resource = [(route, params) for key, route, params in candidates if key == best]
    for wanted in (method, "ANY"):
        for route, params in on_resource:
            if route.method == wanted:
                return route, params
    return None


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
    params = _match_path(route.path, raw_path)
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


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must not keep the process (or stop()) alive
    api: LocalApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a client hanging up is routine for a local server.
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "Steward-LocalApi"
    timeout = 60  # idle keep-alive connections release their thread
    server: _Server

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle_expect_100(self) -> bool:
        # Refuse an oversized upload before the client sends it.
        length = self.headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > self.server.api.max_body_bytes:
            self._send_gateway(413, "Request Too Long", close=True)
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (bad request line, huge headers) in API Gateway's JSON shape.
        self._send_gateway(code, message or self.responses.get(code, ("Error",))[0], close=True)

    def _dispatch(self) -> None:
        self.server.api._serve(self)

    # TRACE and QUERY too: API Gateway answers them itself (403, no such route), not a 501
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_QUERY = _dispatch

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            raise _BadRequest(f"bad Content-Length {raw!r}")
        length = int(raw)
        if length > limit:
            if length <= _DRAIN_LIMIT:
                self._discard(length)
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _discard(self, length: int) -> None:
        while length > 0:
            read = self.rfile.read(min(length, 65536))
            if not read:
                return
            length -= len(read)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, *, close: bool = False) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_gateway(self, status: int, message: str, *, error_type: str = "", close: bool = False) -> None:
        """An error API Gateway itself would produce (a "gateway response"), never the handler's."""
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        self._send(status, headers, json.dumps({"message": message}).encode(), close=close)


class LocalApi:
    """API Gateway REST routes served over HTTP on a loopback address, each request invoking a function.

    `invoke(function, event)` is called from the server's request threads, possibly concurrently: it
    must be thread-safe (Sandbox.invoke serialises invocations itself). LocalApi keeps no per-request
    state of its own.
    """

    def __init__(
        self,
        routes: list[Route],
        invoke: Callable[[str, dict[str, Any]], dict[str, Any]],
        stage: str = "local",
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = 1_048_576,
        account: str = ACCOUNT_ID,
    ) -> None:
        self.routes = list(routes)
        self.account = account
        self.invoke = invoke
        self.stage = stage
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._lock = threading.Lock()
        self._serving = threading.Event()

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base URL (no trailing slash)."""
        if self.host not in LOCAL_HOSTS:
            # The sandbox does not check signatures: it must never be reachable from another machine.
            raise ValueError(
                f"LocalApi only binds a loopback address ({sorted(LOCAL_HOSTS)}), not {self.host!r}"
            )
        with self._lock:
            if self._server is not None:
                raise RuntimeError("LocalApi is already started")
            bind = "127.0.0.1" if self.host == "localhost" else self.host
            server_class = _Server6 if bind == "::1" else _Server
            server = server_class((bind, self.port), _Handler)
            server.api = self
            port = server.server_address[1]
            self._url = f"http://[::1]:{port}" if bind == "::1" else f"http://{bind}:{port}"
            self._server = server
            self._serving.set()
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"local-api:{port}",
                daemon=True,
            )
            self._thread.start()
        log.debug("local API serving %d routes at %s (stage %s)", len(self.routes), self._url, self.stage)
        return self._url

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._serving.clear()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        log.debug("local API at %s stopped", self._url)

    @property
    def url(self) -> str:
        if self._url is None or self._server is None:
            raise RuntimeError("LocalApi is not started")
        return self._url

    def __enter__(self) -> LocalApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, handler: _Handler) -> None:
        """One request: read, route, invoke, answer. Runs on a server thread."""
        started = time.perf_counter()
        if not self._serving.is_set():
            # A keep-alive connection outliving stop() must not reach a function any more.
            handler._send_gateway(503, "Service Unavailable", close=True)
            return
        target = urlsplit(handler.path)
        raw_path, method = target.path or "/", handler.command
        if not raw_path.startswith("/"):
            handler._send_gateway(400, "Bad Request", close=True)
            return
        try:
            body = handler._read_body(self.max_body_bytes)
        except _BodyTooLarge:
            log.debug("%s %s: body over %d bytes", method, raw_path, self.max_body_bytes)
            handler._send_gateway(413, "Request Too Long", close=True)
            return
        except _BadRequest as exc:
            log.debug("%s %s: %s", method, raw_path, exc)
            handler._send_gateway(400, "Bad Request", close=True)
            return
        found = match_route(self.routes, method, raw_path)
        if found is None:
            log.debug("%s %s: no such resource or method", method, raw_path)
            handler._send_gateway(
                403, "Missing Authentication Token", error_type="MissingAuthenticationTokenException"
            )
            return
        route, _ = found
        source_ip = handler.client_address[0]
        event = build_proxy_event(
            route,
            method,
            raw_path,
            target.query,
            self._forwarded(handler, source_ip),
            body,
            self.stage,
            source_ip,
            self.account,
        )
        request_id = event["requestContext"]["requestId"]
        try:
            status, headers, payload = parse_proxy_response(self.invoke(route.function, event))
        except Exception:
            # Logged in full for the operator; the client gets API Gateway's opaque 502, never a traceback.
            log.exception("%s %s -> %s failed (request %s)", method, raw_path, route.function, request_id)
            handler._send_gateway(502, "Internal server error", error_type="InternalServerErrorException")
            return
        if not any(name.lower() == "x-amzn-requestid" for name, _ in headers):
            headers.append(("x-amzn-RequestId", request_id))
        handler._send(status, headers, payload)
        log.debug(
            "%s %s -> %s %d (%.1f ms)",
            method,
            raw_path,
            route.function,
            status,
            (time.perf_counter() - started) * 1000,
        )

    def _forwarded(self, handler: _Handler, source_ip: str) -> list[tuple[str, str]]:
        """The request headers plus the X-Forwarded-* ones API Gateway adds (For appended, Port/Proto set)."""
        headers = [
            (k, v)
            for k, v in handler.headers.items()
            if k.lower() not in ("x-forwarded-port", "x-forwarded-proto")
        ]
        forwarded_for = [v for k, v in headers if k.lower() == "x-forwarded-for"]
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        chain = ", ".join([*forwarded_for, source_ip])
        port = str(handler.server.server_address[1])
        return [
            *headers,
            ("X-Forwarded-For", chain),
            ("X-Forwarded-Port", port),
            ("X-Forwarded-Proto", "http"),
        ]
