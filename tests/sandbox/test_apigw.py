"""The local API Gateway: route matching, REST proxy events, and real HTTP round trips."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.apigw import (
    LOCAL_IAM_USER_ARN,
    LocalApi,
    MalformedResponse,
    Route,
    build_proxy_event,
    match_route,
    parse_proxy_response,
)

ROUTES = [
    Route("GET", "/health", "health"),
    Route("GET", "/endpoints", "list-endpoints", auth="AWS_IAM"),
    Route("GET", "/endpoints/{name}", "get-endpoint", auth="AWS_IAM"),
    Route("GET", "/endpoints/latest", "latest-endpoint"),
    Route("POST", "/endpoints/{name}/deployments", "deploy", auth="AWS_IAM"),
    Route("ANY", "/proxy/{proxy+}", "proxy-any"),
    Route("GET", "/proxy/{proxy+}", "proxy-get"),
    Route("GET", "/proxy/fixed/{id}", "proxy-fixed"),
]


# --- route matching --------------------------------------------------------------------------------


@pytest.mark.parametrize("routes", [ROUTES, ROUTES[::-1]], ids=["declared", "reversed"])
@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/health", "health", {}),
        ("GET", "/health/", "health", {}),  # trailing slash ignored
        ("GET", "/endpoints", "list-endpoints", {}),
        ("GET", "/endpoints/latest", "latest-endpoint", {}),  # static beats {param}
        ("GET", "/endpoints/churn-v2", "get-endpoint", {"name": "churn-v2"}),
        ("GET", "/endpoints/a%2Fb", "get-endpoint", {"name": "a/b"}),  # encoded slash stays one segment
        ("POST", "/endpoints/churn/deployments", "deploy", {"name": "churn"}),
        ("GET", "/proxy/fixed/7", "proxy-fixed", {"id": "7"}),  # {param} beats {proxy+}
        ("GET", "/proxy/fixed/7/more", "proxy-get", {"proxy": "fixed/7/more"}),
        ("GET", "/proxy/a/b%20c", "proxy-get", {"proxy": "a/b c"}),  # exact method beats ANY
        ("DELETE", "/proxy/a/b", "proxy-any", {"proxy": "a/b"}),  # ANY takes the rest
        ("HEAD", "/proxy/x", "proxy-any", {"proxy": "x"}),
        ("POST", "/health", None, None),  # resource exists, method does not
        ("HEAD", "/health", None, None),  # no implicit HEAD for GET, as in API Gateway
        ("GET", "/proxy", None, None),  # {proxy+} needs at least one segment
        ("GET", "/endpoints/churn/deployments", None, None),
        ("GET", "/nowhere", None, None),
        ("GET", "/", None, None),
    ],
)
def test_match_route_table(routes, method, path, function, params):
    # Given the routes in either declaration order
    # When a request is matched
    found = match_route(routes, method, path)
    # Then the most specific resource, then the exact method, wins regardless of order
    if function is None:
        assert found is None
    else:
        assert found is not None
        assert (found[0].function, found[1]) == (function, params)


def test_root_greedy_route_catches_everything_but_defined_resources():
    # Given a catch-all ANY /{proxy+} next to a static route
    routes = [Route("ANY", "/{proxy+}", "catch-all"), Route("GET", "/health", "health")]
    # When matched, Then static routes still win and the root itself is not caught
    assert match_route(routes, "GET", "/health")[0].function == "health"
    assert match_route(routes, "POST", "/health") is None  # no fallback to a less specific resource
    assert match_route(routes, "PUT", "/a/b") == (routes[0], {"proxy": "a/b"})
    assert match_route(routes, "GET", "/") is None


def test_route_normalises_and_validates():
    # Given template spellings, When a Route is built, Then method and auth are upper-cased
    assert Route("get", "/a", "f", auth="aws_iam") == Route("GET", "/a", "f", auth="AWS_IAM")
    # And malformed routes are refused at construction
    for bad in (
        lambda: Route("FETCH", "/a", "f"),
        lambda: Route("GET", "/a", "f", auth="COGNITO"),
        lambda: Route("GET", "a", "f"),
        lambda: Route("GET", "/a/{proxy+}/b", "f"),
        lambda: Route("GET", "/a/{bad", "f"),
    ):
        with pytest.raises(ValueError):  # noqa: PT011 (each has its own message)
            bad()


# --- event building --------------------------------------------------------------------------------


def _event(route: Route, path: str, query: str = "", headers=None, body: bytes = b"") -> dict[str, Any]:
    headers = headers if headers is not None else [("Host", "127.0.0.1:9"), ("User-Agent", "pytest")]
    return build_proxy_event(route, route.method, path, query, headers, body, "local", "127.0.0.1")


def test_event_decodes_query_with_multi_values():
    # Given a query with encoded, repeated, blank and plus-encoded values
    event = _event(ROUTES[0], "/health", "name=a%20b&tag=x&tag=y&empty=&plus=1+2&q=%E2%9C%93")
    # Then single values keep the last one and multi values keep all, decoded
    assert event["queryStringParameters"] == {"name": "a b", "tag": "y", "empty": "", "plus": "1 2", "q": "✓"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]
    assert event["multiValueQueryStringParameters"]["name"] == ["a b"]


def test_event_without_query_params_or_body_uses_nulls():
    # Given a plain GET on a static resource
    event = _event(ROUTES[0], "/health")
    # Then the absent parts are null, as API Gateway sends them
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    json.dumps(event)  # and the event is plain JSON, as Lambda delivers it


def test_event_shape_and_request_context():
    # Given a request on a parameterised resource
    route = ROUTES[4]
    before = int(time.time() * 1000)
    event = _event(route, "/endpoints/my%20model/deployments", body=b'{"x": 1}')
    # Then resource, path and context follow the REST proxy format
    assert event["resource"] == "/endpoints/{name}/deployments"
    assert event["path"] == "/endpoints/my model/deployments"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"name": "my model"}
    assert event["body"] == '{"x": 1}'
    ctx = event["requestContext"]
    assert ctx["accountId"] == "123456789012"
    assert ctx["resourcePath"] == "/endpoints/{name}/deployments"
    assert ctx["httpMethod"] == "POST"
    assert ctx["path"] == "/local/endpoints/my model/deployments"
    assert ctx["stage"] == "local"
    assert ctx["protocol"] == "HTTP/1.1"
    assert before <= ctx["requestTimeEpoch"] <= int(time.time() * 1000)
    uuid.UUID(ctx["requestId"])
    assert ctx["requestId"] != _event(route, "/endpoints/m/deployments")["requestContext"]["requestId"]


def test_event_headers_last_value_wins_and_multi_keeps_all():
    # Given a header sent twice with different capitalisation
    headers = [("Accept", "a/b"), ("X-Multi", "1"), ("x-multi", "2")]
    event = _event(ROUTES[0], "/health", headers=headers)
    # Then headers holds the last value, multiValueHeaders every value, under the first spelling
    assert event["headers"] == {"Accept": "a/b", "X-Multi": "2"}
    assert event["multiValueHeaders"] == {"Accept": ["a/b"], "X-Multi": ["1", "2"]}


def test_event_base64_encodes_a_body_that_is_not_utf8():
    # Given a binary body
    raw = b"\xff\xfe\x00binary"
    event = _event(ROUTES[4], "/endpoints/m/deployments", body=raw)
    # Then it travels base64-encoded and flagged
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_event_identity_for_iam_and_open_routes():
    # Given one AWS_IAM route and one open route
    iam = _event(ROUTES[1], "/endpoints")["requestContext"]["identity"]
    open_ = _event(ROUTES[0], "/health")["requestContext"]["identity"]
    # Then both carry the caller's address and agent, and only the IAM route a local IAM user
    assert iam["userArn"] == LOCAL_IAM_USER_ARN == "arn:aws:iam::123456789012:user/local-operator"
    assert iam["caller"] == iam["user"] == "AIDACKCEVSQ6C2EXAMPLE"
    assert iam["accessKey"] == "AKIAIOSFODNN7EXAMPLE"
    assert iam["accountId"] == "123456789012"
    assert (iam["sourceIp"], iam["userAgent"]) == ("127.0.0.1", "pytest")
    assert open_["userArn"] is open_["caller"] is open_["accessKey"] is None
    assert (open_["sourceIp"], open_["userAgent"]) == ("127.0.0.1", "pytest")


def test_event_refuses_a_path_the_route_does_not_serve():
    with pytest.raises(ValueError, match="does not match"):
        _event(ROUTES[0], "/elsewhere")


# --- response parsing ------------------------------------------------------------------------------


def test_response_merges_headers_and_defaults_content_type():
    # Given a response with a pair present in both header maps
    status, headers, body = parse_proxy_response(
        {"statusCode": "201", "headers": {"X-A": "1", "X-N": 2}, "multiValueHeaders": {"x-a": ["1", "0"]}}
    )
    # Then the pair is sent once, scalars become strings, and Content-Type defaults to JSON
    assert status == 201
    assert headers == [("x-a", "1"), ("x-a", "0"), ("X-N", "2"), ("Content-Type", "application/json")]
    assert body == b""


@pytest.mark.parametrize(
    "result",
    [
        None,
        "ok",
        {"body": "no status"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "cookies": ["a=1"]},  # an HTTP API (v2) field, unknown to REST
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "headers": {"X": {"nested": 1}}},
        {"statusCode": 200, "headers": {"X": "a\r\nSet-Cookie: forged=1"}},
        {"statusCode": 200, "multiValueHeaders": {"X": "not-a-list"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_refused(result):
    with pytest.raises(MalformedResponse):
        parse_proxy_response(result)


# --- over HTTP -------------------------------------------------------------------------------------

# No proxies: a developer's HTTP_PROXY must not capture requests to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


class FakeFunctions:
    """invoke(): records every event and answers per function."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.barrier: threading.Barrier | None = None

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((function, event))
        if function == "boom":
            raise RuntimeError("secret database password in this message")
        if function == "malformed":
            return {"statusCode": 200, "body": {"raw": "dict"}}
        if function == "cookies":
            return {
                "statusCode": 200,
                "headers": {"X-One": "1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1; Path=/", "b=2; HttpOnly"]},
                "body": "",
            }
        if function == "binary":
            return {
                "statusCode": 200,
                "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\x89PNG\x00").decode(),
                "isBase64Encoded": True,
            }
        if function == "slow" and self.barrier is not None:
            self.barrier.wait(timeout=5)  # only passes if two invocations run at once
        return {"statusCode": 200, "body": json.dumps({"function": function})}


HTTP_ROUTES = [
    Route("GET", "/health", "health"),
    Route("GET", "/endpoints/{name}", "get-endpoint", auth="AWS_IAM"),
    Route("POST", "/forms", "form"),
    Route("GET", "/boom", "boom"),
    Route("GET", "/malformed", "malformed"),
    Route("GET", "/cookies", "cookies"),
    Route("GET", "/binary", "binary"),
    Route("GET", "/slow", "slow"),
    Route("ANY", "/any", "any"),
]


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


@pytest.fixture
def api(functions: FakeFunctions) -> Iterator[LocalApi]:
    with LocalApi(HTTP_ROUTES, functions, stage="test", max_body_bytes=64) as running:
        yield running


def test_get_with_query_reaches_the_handler_as_a_proxy_event(api, functions):
    # Given a running API
    # When a GET with a query and an encoded path parameter is sent
    status, headers, body = call("GET", f"{api.url}/endpoints/churn%20v2?limit=5&tag=a&tag=b")
    # Then the handler's answer comes back, with a request id
    assert status == 200
    assert json.loads(body) == {"function": "get-endpoint"}
    assert headers["Content-Type"] == "application/json"
    # And the handler saw the REST proxy event
    ((function, event),) = functions.calls
    assert function == "get-endpoint"
    assert event["pathParameters"] == {"name": "churn v2"}
    assert event["queryStringParameters"] == {"limit": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["requestContext"]["path"] == "/test/endpoints/churn v2"
    assert event["requestContext"]["identity"]["userArn"] == LOCAL_IAM_USER_ARN
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert headers["x-amzn-RequestId"] == event["requestContext"]["requestId"]


def test_post_form_body_is_passed_as_text(api, functions):
    # Given a form-encoded POST
    form = b"name=churn&note=two+words"
    status, _, _ = call(
        "POST", f"{api.url}/forms", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    # Then the handler gets the raw body as a string, not base64
    assert status == 200
    event = functions.calls[0][1]
    assert event["body"] == "name=churn&note=two+words"
    assert event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert event["httpMethod"] == "POST"


def test_handler_error_is_a_502_without_details(api, functions, caplog):
    # Given a handler that raises
    with caplog.at_level(logging.ERROR, logger="sandbox.apigw"):
        status, headers, body = call("GET", f"{api.url}/boom")
    # Then the client sees API Gateway's opaque 502
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert b"Traceback" not in body
    assert b"secret" not in body
    assert headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    # And the exception is in the log, with its traceback
    failures = [r for r in caplog.records if r.exc_info and "boom" in r.getMessage()]
    assert failures
    assert "secret" in str(failures[0].exc_info[1])


def test_malformed_handler_response_is_a_502(api):
    # Given a handler that returns a dict body, When called, Then 502 as API Gateway answers
    status, _, body = call("GET", f"{api.url}/malformed")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})


def test_oversized_body_is_413_without_invoking(api, functions):
    # Given a body over max_body_bytes (64)
    status, _, body = call("POST", f"{api.url}/forms", b"x" * 200, {"Content-Type": "text/plain"})
    # Then 413, and no function ran
    assert status == 413
    assert "message" in json.loads(body)
    assert functions.calls == []


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/unknown"), ("DELETE", "/health"), ("OPTIONS", "/health")]
)
def test_unknown_resource_or_method_is_api_gateways_403(api, functions, method, path):
    # Given a resource or method the API does not define
    status, headers, body = call(method, f"{api.url}{path}")
    # Then API Gateway's answer: 403 Missing Authentication Token, and nothing invoked
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert functions.calls == []


def test_multiple_set_cookie_headers_survive(api):
    # Given a handler returning two Set-Cookie values in multiValueHeaders
    status, headers, _ = call("GET", f"{api.url}/cookies")
    # Then both reach the client as separate headers, next to the single-value ones
    assert status == 200
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert headers["X-One"] == "1"


def test_base64_response_body_is_decoded(api):
    status, headers, body = call("GET", f"{api.url}/binary")
    assert (status, headers["Content-Type"], body) == (200, "image/png", b"\x89PNG\x00")


def test_head_and_options_go_through_an_any_method(api, functions):
    # Given an ANY route, When HEAD and OPTIONS are sent
    head_status, head_headers, head_body = call("HEAD", f"{api.url}/any")
    options_status, _, _ = call("OPTIONS", f"{api.url}/any")
    # Then both reach the handler; HEAD keeps the length but sends no body
    assert (head_status, options_status) == (200, 200)
    assert head_body == b""
    assert int(head_headers["Content-Length"]) == len(json.dumps({"function": "any"}))
    assert [e["httpMethod"] for _, e in functions.calls] == ["HEAD", "OPTIONS"]


def test_invocations_run_concurrently(api, functions):
    # Given a handler that only returns once two invocations are in flight
    functions.barrier = threading.Barrier(2)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(call("GET", f"{api.url}/slow")[0])) for _ in range(2)
    ]
    # When two requests are sent at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # Then both complete
    assert results == [200, 200]


def test_server_is_quiet_on_stderr(api, capfd):
    # Given requests that succeed and fail at the gateway, When served, Then nothing reaches stderr
    call("GET", f"{api.url}/health")
    call("GET", f"{api.url}/unknown")
    call("POST", f"{api.url}/forms", b"x" * 200)
    assert capfd.readouterr().err == ""


# --- HTTP framing (Werkzeug's server) --------------------------------------------------------------


def _raw(api: LocalApi, request: bytes, then: bytes = b"") -> bytes:
    """Send `request` on a fresh connection (and `then` once the server has answered something), read
    everything until the server closes it."""
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        if then:
            first = conn.recv(65536)
            conn.sendall(then)
        else:
            first = b""
        received = [first]
        while chunk := conn.recv(65536):
            received.append(chunk)
    return b"".join(received)


def test_a_chunked_body_reaches_the_handler_whole(api, functions):
    # Given a body sent in two chunks
    chunked = b"3\r\na=1\r\n4\r\n&b=2\r\n0\r\n\r\n"
    head = b"POST /forms HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n"
    reply = _raw(api, head + b"Content-Type: text/plain\r\n\r\n" + chunked)
    # Then the handler gets it joined, and answers 200
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert [e["body"] for _, e in functions.calls] == ["a=1&b=2"]


def test_a_chunked_body_over_the_limit_is_413_without_invoking(api, functions):
    chunk = b"x" * 50
    body = b"32\r\n" + chunk + b"\r\n32\r\n" + chunk + b"\r\n0\r\n\r\n"
    reply = _raw(api, b"POST /forms HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert functions.calls == []


def test_a_malformed_chunk_is_400_without_invoking(api, functions):
    reply = _raw(
        api, b"POST /forms HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"message": "Bad Request"}
    assert functions.calls == []


def test_expect_100_continue_gets_a_continue_then_the_answer(api, functions):
    # Given a client that waits for 100 Continue before sending its body
    head = b"POST /forms HTTP/1.1\r\nHost: local\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    reply = _raw(api, head, then=b"a=1")
    # Then it is told to continue once, and the body reaches the handler
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), reply
    assert reply.count(b"100 Continue") == 1
    assert [e["body"] for _, e in functions.calls] == ["a=1"]


def test_expect_100_continue_over_the_limit_is_refused_before_the_upload(api, functions):
    head = b"POST /forms HTTP/1.1\r\nHost: local\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n"
    reply = _raw(api, head)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"100 Continue" not in reply
    assert functions.calls == []


def test_a_bad_content_length_is_400(api, functions):
    reply = _raw(api, b"POST /forms HTTP/1.1\r\nHost: local\r\nContent-Length: ten\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert functions.calls == []


# --- lifecycle -------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "", "192.168.1.10", "example.com"])
def test_binding_anything_but_loopback_is_refused(host):
    # Given a non-loopback host, When started, Then ValueError and nothing is bound
    api = LocalApi([], lambda f, e: {}, host=host)
    with pytest.raises(ValueError, match="loopback"):
        api.start()
    with pytest.raises(RuntimeError):
        _ = api.url


def test_start_returns_url_and_stop_releases_the_port():
    # Given a started API
    api = LocalApi(HTTP_ROUTES, FakeFunctions(), host="localhost")
    url = api.start()
    # Then the url is the loopback base url without a trailing slash
    assert url == api.url
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith("/")
    assert call("GET", f"{url}/health")[0] == 200
    with pytest.raises(RuntimeError):
        api.start()
    # When stopped (twice is fine), Then the port no longer answers
    api.stop()
    api.stop()
    with pytest.raises(urllib.error.URLError):
        _OPENER.open(f"{url}/health", timeout=2)
