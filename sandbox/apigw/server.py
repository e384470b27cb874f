"""LocalApi: the REST API served over HTTP on a loopback address by Werkzeug's threaded server, each
request becoming a proxy event for its route's function. HTTP itself (chunked request bodies,
`Expect: 100-continue`, HEAD without a body, draining an unread upload) is Werkzeug's; what is API
Gateway's is here: its gateway responses (403, 413, 502, 400) in its JSON shape, its X-Forwarded-*
headers, the request id."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from sandbox.apigw.proxy import ACCOUNT_ID, build_proxy_event, parse_proxy_response
from sandbox.apigw.routes import LOCAL_HOSTS, Route, match_route

log = logging.getLogger("sandbox.apigw")

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
_CHUNK = 65536


def _gateway_body(message: str) -> bytes:
    return json.dumps({"message": message}).encode()


def _gateway(status: int, message: str, error_type: str = "") -> Response:
    """An error API Gateway itself would produce (a "gateway response"), never the handler's."""
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return Response(_gateway_body(message), status=status, headers=headers)


class _Handler(WSGIRequestHandler):
    server_version = "Steward-LocalApi"  # type: ignore[assignment]  # no Werkzeug or Python version
    timeout = 60  # a client that stops sending releases its thread

    def version_string(self) -> str:
        return self.server_version

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        # As the client sent them (WSGI drops names with "_" and folds repeats): the proxy event keeps both.
        environ["sandbox.headers"] = list(self.headers.items())
        return environ

    def handle_expect_100(self) -> bool:
        # Refuse an oversized upload before the client sends it (Werkzeug sends the 100 for the rest).
        length = self.headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > self.server.api.max_body_bytes:  # type: ignore[attr-defined]
            self.send_error(413, "Request Too Long")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (bad request line, huge headers) in API Gateway's JSON shape.
        body = _gateway_body(message or self.responses.get(code, ("Error",))[0])
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, self.address_string(), *args)


class _Server(ThreadedWSGIServer):
    api: LocalApi

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug(message, *args)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a client hanging up is routine for a local server.
        log.debug("connection from %s failed", client_address, exc_info=True)


class _TooLarge(Exception):
    pass


def _read_body(request: Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes (chunked or with Content-Length); raises _TooLarge, or
    ValueError for a body HTTP cannot frame."""
    raw = request.headers.get("Content-Length")
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not chunked:
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            raise ValueError(f"bad Content-Length {raw!r}")
        if int(raw) > limit:
            raise _TooLarge  # Werkzeug reads and discards the rest after the response
    stream, chunks, total = request.stream, [], 0
    while True:
        try:
            chunk = stream.read(min(_CHUNK, limit + 1 - total))
        except OSError as exc:  # a malformed chunked encoding
            raise ValueError(str(exc)) from None
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        chunks.append(chunk)


class LocalApi:
    """API Gateway REST routes served over HTTP on a loopback address, each request invoking a function.

    `invoke(function, event)` is called from the server's request threads, possibly concurrently: it
    must be thread-safe (Sandbox.invoke serialises invocations itself). LocalApi keeps no per-request
    state of its own.
    """

    def __init__(
        self,
        routes: list[Route],
        invoke: Invoke,
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
            server = _Server(bind, self.port, self._app, handler=_Handler)
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

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        """One request: read, route, invoke, answer. Runs on a server thread."""
        started = time.perf_counter()
        if not self._serving.is_set():
            # A request still in flight at stop() must not reach a function any more.
            return _gateway(503, "Service Unavailable")
        environ = request.environ
        target = urlsplit(environ.get("RAW_URI") or "/")
        raw_path, method = target.path or "/", request.method
        if not raw_path.startswith("/"):
            return _gateway(400, "Bad Request")
        try:
            body = _read_body(request, self.max_body_bytes)
        except _TooLarge:
            log.debug("%s %s: body over %d bytes", method, raw_path, self.max_body_bytes)
            return _gateway(413, "Request Too Long")
        except ValueError as exc:
            log.debug("%s %s: %s", method, raw_path, exc)
            return _gateway(400, "Bad Request")
        found = match_route(self.routes, method, raw_path)
        if found is None:
            log.debug("%s %s: no such resource or method", method, raw_path)
            return _gateway(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        route, _ = found
        source_ip = str(environ.get("REMOTE_ADDR", ""))
        headers = self._forwarded(environ["sandbox.headers"], source_ip, str(environ["SERVER_PORT"]))
        event = build_proxy_event(
            route, method, raw_path, target.query, headers, body, self.stage, source_ip, self.account
        )
        request_id = event["requestContext"]["requestId"]
        try:
            status, answer, payload = parse_proxy_response(self.invoke(route.function, event))
        except Exception:
            # Logged in full for the operator; the client gets API Gateway's opaque 502, never a traceback.
            log.exception("%s %s -> %s failed (request %s)", method, raw_path, route.function, request_id)
            return _gateway(502, "Internal server error", "InternalServerErrorException")
        if not any(name.lower() == "x-amzn-requestid" for name, _ in answer):
            answer.append(("x-amzn-RequestId", request_id))
        ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %s %d (%.1f ms)", method, raw_path, route.function, status, ms)
        response = Response(payload, status=status, headers=answer)
        response.headers["Content-Length"] = str(len(payload))
        return response

    @staticmethod
    def _forwarded(sent: list[tuple[str, str]], source_ip: str, port: str) -> list[tuple[str, str]]:
        """The request headers plus the X-Forwarded-* ones API Gateway adds (For appended, Port/Proto set)."""
        headers = [(k, v) for k, v in sent if k.lower() not in ("x-forwarded-port", "x-forwarded-proto")]
        forwarded_for = [v for k, v in headers if k.lower() == "x-forwarded-for"]
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        chain = ", ".join([*forwarded_for, source_ip])
        return [
            *headers,
            ("X-Forwarded-For", chain),
            ("X-Forwarded-Port", port),
            ("X-Forwarded-Proto", "http"),
        ]
