"""The sandbox's parallel mode against its default (one invocation at a time), same work, same run.

- API: requests from several clients at once against the served API (each request one `api`
  invocation): answered per second.
- Notifications: a queue of notifications drained, each sent to Slack, email and a webhook (Slack and
  the webhook are HTTP calls to the local receiver, which overlap when batches run at once).

On Lambda the gain is what concurrency gives; here every invocation shares one Python process (and its
GIL), so only the time spent waiting (HTTP, the moto lock) overlaps. Both are reported as measured.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Any

from tests.bench.report import Row

SECTION = "parallel mode"
POLICY = {
    "default": {
        "notifications": {
            "critical": {"slack": ["#ops"], "email": ["ops@example.com"], "webhooks": ["pager"]}
        }
    },
    "webhooks": {"pager": {"url": "${sandbox.receiver}/webhooks/pager"}},
}


def _requests(sb: Any, count: int, clients: int) -> float:
    """Seconds for `count` GET requests spread over `clients` threads sending at once."""

    def client(names: list[str]) -> None:
        for name in names:
            try:
                urllib.request.urlopen(f"{sb.api_url}/endpoints/{name}/deployments", timeout=60).read()
            except urllib.error.HTTPError as exc:  # 404: no such endpoint (still a whole invocation)
                exc.read()

    names = [f"bench-{n}" for n in range(count)]
    threads = [threading.Thread(target=client, args=(names[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _notifications(sb: Any, count: int) -> float:
    from steward.notify.models import Kind, Notification
    from steward.policy import Severity

    queue, sqs = sb.output("NotificationQueueUrl"), sb.client("sqs")
    for n in range(count):
        note = Notification(
            kind=Kind.JOB_FAILED, severity=Severity.CRITICAL, subject=f"bench {n}", dedupe_key=f"bench {n}"
        )
        sqs.send_message(QueueUrl=queue, MessageBody=note.model_dump_json())
    started = time.perf_counter()
    sb.drain()
    return time.perf_counter() - started


def run(requests: int = 60, clients: int = 6, notes: int = 40) -> list[Row]:
    from sandbox import Sandbox

    measured: dict[bool, tuple[float, float, int]] = {}
    for parallel in (False, True):
        with Sandbox(policy=POLICY, parallel=parallel) as sb:
            _requests(sb, clients, clients)  # warm: every client's first request, environments made
            api = _requests(sb, requests, clients)
            drained = _notifications(sb, notes)
            sent = sum(1 for m in sb.outbox if "bench " in str(m.get("subject")) + str(m.get("body")))
            measured[parallel] = (api, drained, sb.cold_starts["api"])
            assert sent >= 3 * notes, f"{sent} deliveries of {3 * notes}"
    (serial_api, serial_drain, _), (parallel_api, parallel_drain, environments) = (
        measured[False],
        measured[True],
    )
    return [
        Row(
            SECTION,
            f"{requests} API requests from {clients} clients at once",
            f"{requests / parallel_api:.0f} requests/s parallel ({environments} execution environments)",
            baseline=f"{requests / serial_api:.0f} requests/s one at a time",
            ratio=f"{serial_api / parallel_api:.2f}x",
        ),
        Row(
            SECTION,
            f"{notes} notifications drained (Slack, email, webhook each)",
            f"{parallel_drain:.2f} s parallel",
            baseline=f"{serial_drain:.2f} s one at a time",
            ratio=f"{serial_drain / parallel_drain:.2f}x",
        ),
    ]
