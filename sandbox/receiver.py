"""A real HTTP receiver on 127.0.0.1 standing in for Slack's Web API and for webhook endpoints.

The notifier's real HTTP client path runs against it; what arrives lands in the sandbox's outbox.
Tests can make it fail (`fail("/webhooks/ops", times=2, status=429, retry_after=0)`) to exercise
retries, permanent failures and redrive.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._failures: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""
        self._ts = 0

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 2_000_000))
                status, payload, headers = receiver._handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail(
        self, path_prefix: str, times: int = 1, status: int = 500, retry_after: float | None = None
    ) -> None:
        """The next `times` requests under `path_prefix` get `status` (with Retry-After when given)."""
        with self._lock:
            self._failures.append(
                {"prefix": path_prefix, "left": times, "status": status, "retry_after": retry_after}
            )

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            for failure in self._failures:
                if path.startswith(failure["prefix"]) and failure["left"] > 0:
                    failure["left"] -= 1
                    extra = (
                        {"Retry-After": str(failure["retry_after"])}
                        if failure["retry_after"] is not None
                        else {}
                    )
                    return failure["status"], {"ok": False, "error": "sandbox-injected"}, extra
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {"ok": False, "error": "invalid_json"}, {}
        lowered = {k.lower(): v for k, v in headers.items()}
        if path.startswith("/slack/api/chat."):
            if not lowered.get("authorization", "").startswith("Bearer "):
                return 200, {"ok": False, "error": "not_authed"}, {}
            with self._lock:
                self._ts += 1
                ts = f"{int(time.time())}.{self._ts:06d}"
                self.records.append(
                    {
                        "channel": "slack",
                        "to": payload.get("channel"),
                        "subject": payload.get("text"),
                        "text": _blocks_text(payload.get("blocks") or []),
                        "blocks": payload.get("blocks"),
                        "links": _block_links(payload.get("blocks") or []),
                        "thread": payload.get("thread_ts"),
                        "ts": payload.get("ts") or ts,
                        "method": path.rsplit("/", 1)[-1],
                        "raw": payload,
                    }
                )
            return 200, {"ok": True, "ts": payload.get("ts") or ts, "channel": payload.get("channel")}, {}
        if path.startswith("/slack/response/"):
            with self._lock:
                self.records.append(
                    {
                        "channel": "slack-response",
                        "to": path,
                        "subject": payload.get("text"),
                        "text": payload.get("text"),
                        "raw": payload,
                        "links": [],
                    }
                )
            return 200, {"ok": True}, {}
        if path.startswith("/webhooks/"):
            with self._lock:
                self.records.append(
                    {
                        "channel": "webhook",
                        "to": path[len("/webhooks/") :],
                        "subject": payload.get("type"),
                        "raw": payload,
                        "body": body.decode(),
                        "links": [],
                        "headers": {k: v for k, v in lowered.items() if k.startswith("webhook-")},
                    }
                )
            return 200, {"ok": True}, {}
        return 404, {"ok": False, "error": "unknown_path"}, {}


def _blocks_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            parts.append(str(block["text"].get("text", "")))
        for field in block.get("fields") or []:
            parts.append(str(field.get("text", "")))
        for element in block.get("elements") or []:
            if element.get("type") == "mrkdwn":
                parts.append(str(element.get("text", "")))
    return "\n".join(parts)


def _block_links(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["url"] for b in blocks for e in b.get("elements") or [] if isinstance(e, dict) and e.get("url")]
