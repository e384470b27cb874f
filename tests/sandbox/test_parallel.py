"""The sandbox's parallel mode (README "Concurrency"): API requests, event targets, schedules and SQS
batches run at the same moment, each invocation in its own execution environment, interleaving at AWS
calls as on Lambda. `overlapping(n)` proves it: the first AWS call of each of the first n invocations
waits until n invocations are inside their handlers at once, which a sandbox running one invocation at a
time never reaches."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Sandbox
from tests.conftest import load
from tests.integration.test_approvals import link_of, policy, register


@contextlib.contextmanager
def overlapping(count: int, timeout: float = 10.0) -> Iterator[dict[str, Any]]:
    """While the block runs: the first AWS call of each of the first `count` invocations waits for the
    others. Yields {"met": whether they all were inside their handlers at once, "functions": who}."""
    from botocore.client import BaseClient

    from sandbox import isolation

    barrier = threading.Barrier(count, timeout=timeout)
    seen: dict[int, str] = {}
    lock, original = threading.Lock(), BaseClient._make_api_call
    report: dict[str, Any] = {"met": True, "functions": []}

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        scope = isolation.current()
        first = False
        if scope is not None:
            with lock:
                first = id(scope) not in seen and len(seen) < count
                if first:
                    seen[id(scope)] = scope.environ.get("AWS_LAMBDA_FUNCTION_NAME", "?")
        if first:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                report["met"] = False
        return original(client, operation, params)

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    try:
        yield report
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
        report["functions"] = sorted(seen.values())


def _post(url: str, fields: dict[str, str]) -> tuple[int, str]:
    from urllib.parse import urlencode

    request = urllib.request.Request(
        url,
        data=urlencode(fields).encode(),
        method="POST",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _at_once(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(policy=policy(quorum=2), parallel=True) as sandbox:
        yield sandbox


def test_two_approvers_posting_at_the_same_moment_over_http_both_count(sb):
    from steward.approvals.models import ApprovalRequest

    # Given a version waiting for two approvals, and each approver's confirmation page open
    arn = register(sb, group="both-at-once")
    forms = []
    for who in ("alice@example.com", "bob@example.com"):
        link = link_of(sb, who)
        _, page = _get(link)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        forms.append((link, {"decision": "approve", "csrf": csrf, "comment": ""}))
    # When both press Approve at the same moment, their requests inside the API at once
    with overlapping(2) as met:
        answers = _at_once([lambda f=f: _post(*f) for f in forms])
    assert met["met"] and met["functions"] == ["api", "api"]
    # Then both are recorded, the request is approved by both, and the registry says so
    assert [status for status, _ in answers] == [200, 200], answers
    request = _approval(sb, ApprovalRequest.id_for(arn))
    assert request.status == "approved"
    assert sorted(d.approver for d in request.decisions) == ["alice@example.com", "bob@example.com"]
    described = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"


def _approval(sb: Sandbox, request_id: str) -> Any:
    from steward.approvals.adapters.store import ApprovalStore

    found = ApprovalStore(sb.output("LineageTableName"), sb.output("IdempotencyTableName")).get(request_id)
    assert found is not None
    return found


def test_concurrent_requests_are_each_answered_with_their_own_answer(sb):
    # When twelve requests for twelve endpoints arrive at once (four of them inside the API together)
    names = [f"parallel-{n}" for n in range(12)]
    with overlapping(4) as met:
        answers = _at_once([lambda n=n: _get(f"{sb.api_url}/endpoints/{n}/deployments") for n in names])
    # Then each answer is about its own endpoint (the event handler's current event is per invocation),
    # and the API needed more than one execution environment to run them at once
    assert met["met"]
    for name, (status, body) in zip(names, answers, strict=True):
        assert status == 404, body
        assert name in json.loads(body)["message"], (name, body)
        assert all(other not in body for other in names if other != name and other not in name)
    assert sb.cold_starts["api"] >= 4


def test_event_targets_of_events_put_together_run_at_once(sb):
    failed, completed = load("training_job/failed.json"), load("training_job/completed.json")
    with overlapping(2) as met:
        results = sb.put_events([failed, completed])
    assert met["met"]
    assert all(t["ok"] for r in results for t in r["targets"]), results
    assert [sorted(t["function"] for t in r["targets"]) for r in results] == [
        ["record_lineage", "report_job_failure"],
        ["record_lineage"],
    ]


def test_schedules_fire_at_once(sb):
    with overlapping(2) as met:
        results = sb.run_schedules()
    assert met["met"]
    assert len(results) >= 2 and all(t["ok"] for r in results for t in r["targets"]), results


def _notes(sb: Sandbox, label: str, count: int) -> list[str]:
    from steward.notify.models import Kind, Notification
    from steward.policy import Severity

    queue, sqs = sb.output("NotificationQueueUrl"), sb.client("sqs")
    subjects = [f"{label} {n}" for n in range(count)]
    for subject in subjects:
        note = Notification(
            kind=Kind.JOB_FAILED, severity=Severity.WARNING, subject=subject, dedupe_key=subject
        )
        sqs.send_message(QueueUrl=queue, MessageBody=note.model_dump_json())
    return subjects


def _sent(sb: Sandbox, label: str) -> Counter[str]:
    return Counter(m["subject"] for m in sb.outbox if label in m["subject"])


def test_sqs_batches_are_delivered_at_once_and_each_message_once(sb):
    # Given 25 notifications on the queue (three batches of at most ten)
    subjects = _notes(sb, "parallel batch note", 25)
    # When the pollers take them, several batches at once
    with overlapping(2) as met:
        sb.drain()
    # Then every notification is sent once to its target, none twice, none left on the queue
    assert met["met"] and met["functions"] == ["notify", "notify"]
    sent = _sent(sb, "parallel batch note")
    assert len(sent) == len(subjects) and set(sent.values()) == {1}, sent
    assert all(any(s.endswith(subject) for s in sent) for subject in subjects)
    queue = sb.output("NotificationQueueUrl")
    left = sb.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_the_same_drain_one_at_a_time_never_runs_two_invocations_at_once(sb):
    # The control: what a sandbox without parallel does (and drain(parallel=False) in this one)
    _notes(sb, "serial batch note", 25)
    with overlapping(2, timeout=1.0) as met:
        sb.drain(parallel=False)
    assert not met["met"]
    assert len(_sent(sb, "serial batch note")) == 25
