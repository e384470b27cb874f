"""Use case: the integration test of a stage (pure but for the calls it is given).

After a stage's deployment succeeds, the policy's sample requests are sent to that stage's endpoint
(SageMaker Runtime InvokeEndpoint), each answer checked (the container's HTTP status, content type, a
JSON Schema, expected values within a tolerance), latency percentiles checked over all calls, and the
result recorded with the deployment. A call throttled or timed out is retried (bounded); one that still
cannot be made fails its case: a test that cannot run is a failure, never a pass. The whole test runs
within a time budget; whatever the budget leaves unsent fails as "not run".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from steward.policy import IntegrationTest, SampleRequest

MAX_CASES_SHOWN = 20


@dataclass(frozen=True)
class Reply:
    """What InvokeEndpoint answered: the model container's status, content type and body."""

    status: int
    content_type: str
    body: bytes


class Retryable(Exception):
    """Throttled or timed out: worth another try."""


class CannotRun(Exception):
    """The call cannot be made at all (no such endpoint, access denied): the case fails."""


Invoke = Callable[[bytes, str, str | None], Reply]


def _payload(request: SampleRequest) -> bytes:
    if isinstance(request.body, str) and not request.content_type.endswith("json"):
        return request.body.encode()
    return json.dumps(request.body).encode()


def _close(actual: Any, expected: Any, tolerance: float) -> bool:
    """Expected JSON values: numbers within `tolerance`, objects by the keys expected, lists item by item."""
    if isinstance(expected, bool) or expected is None:
        return actual is expected or actual == expected
    if isinstance(expected, int | float):
        return (
            isinstance(actual, int | float)
            and not isinstance(actual, bool)
            and math.isfinite(actual)
            and abs(actual - expected) <= tolerance
        )
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _close(actual[k], v, tolerance) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_close(a, e, tolerance) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def check(request: SampleRequest, reply: Reply) -> list[str]:
    """What is wrong with the answer (empty: it passes)."""
    problems = []
    if reply.status != request.expect_status:
        problems.append(f"status {reply.status}, expected {request.expect_status}")
    if request.expect_content_type and not reply.content_type.lower().startswith(
        request.expect_content_type.lower()
    ):
        problems.append(f"content type {reply.content_type!r}, expected {request.expect_content_type!r}")
    if request.expect_schema is None and request.expect is None:
        return problems
    text = reply.body.decode("utf-8", "replace")
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text
    if request.expect_schema is not None:
        import fastjsonschema

        try:
            fastjsonschema.compile(request.expect_schema)(answer)
        except fastjsonschema.JsonSchemaValueException as exc:
            problems.append(f"answer does not match the schema: {exc.message}")
    if request.expect is not None and not _close(answer, request.expect, request.tolerance):
        shown = text if len(text) <= 200 else text[:199] + "…"
        problems.append(f"answer {shown!r} is not the expected {json.dumps(request.expect)[:200]}")
    return problems


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))  # nearest rank
    return round(ordered[rank - 1], 1)


def run(
    test: IntegrationTest,
    requests: list[SampleRequest],
    invoke: Invoke,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send every request `calls_per_request` times; the result as recorded (JSON-ready)."""
    started = clock()
    deadline = started + test.budget_seconds
    latencies: list[float] = []
    cases: list[dict[str, Any]] = []
    calls = 0
    for index, request in enumerate(requests):
        name = request.name or f"request {index + 1}"
        problems: list[str] = []
        for _ in range(test.calls_per_request):
            if clock() >= deadline:
                problems.append("not run: the test's time budget was used up")
                break
            reply, problem, made = _call(request, invoke, test.retries, clock, sleep, deadline)
            calls += made
            if reply is None:
                problems.append(problem or "could not be sent")
                break
            answer, latency = reply
            latencies.append(latency)
            found = check(request, answer)
            if found:
                problems.extend(found)
                break
        cases.append({"name": name, "passed": not problems, "problems": list(dict.fromkeys(problems))[:5]})
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    limits = []
    if test.max_p50_ms is not None and (p50 is None or p50 > test.max_p50_ms):
        limits.append(f"latency p50 {p50} ms over the limit {test.max_p50_ms:g} ms")
    if test.max_p95_ms is not None and (p95 is None or p95 > test.max_p95_ms):
        limits.append(f"latency p95 {p95} ms over the limit {test.max_p95_ms:g} ms")
    failed = [c for c in cases if not c["passed"]]
    return {
        "passed": bool(cases) and not failed and not limits,
        "cases": len(cases),
        "failedCases": len(failed),
        "calls": calls,
        "latencyP50Ms": p50,
        "latencyP95Ms": p95,
        "problems": limits + ([] if cases else ["no sample request to send"]),
        "results": (failed + [c for c in cases if c["passed"]])[:MAX_CASES_SHOWN],
        "seconds": round(clock() - started, 3),
    }


def _call(
    request: SampleRequest,
    invoke: Invoke,
    retries: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    deadline: float,
) -> tuple[tuple[Reply, float] | None, str | None, int]:
    """One call with bounded retries: ((reply, latency ms) or None, why not, calls made)."""
    payload = _payload(request)
    made = 0
    for attempt in range(retries + 1):
        made += 1
        began = clock()
        try:
            reply = invoke(payload, request.content_type, request.accept)
        except Retryable as exc:
            if attempt == retries or clock() + 0.2 * 2**attempt >= deadline:
                return None, f"could not be sent after {attempt + 1} attempt(s): {exc}", made
            sleep(0.2 * 2**attempt)
            continue
        except CannotRun as exc:
            return None, f"could not be sent: {exc}", made
        return (reply, (clock() - began) * 1000.0), None, made
    return None, "could not be sent", made


def not_run(problem: str) -> dict[str, Any]:
    """The result of a test that could not even start: a failure, shaped as `run`'s."""
    return {
        "passed": False,
        "cases": 0,
        "failedCases": 0,
        "calls": 0,
        "latencyP50Ms": None,
        "latencyP95Ms": None,
        "problems": [problem],
        "results": [],
        "seconds": 0.0,
    }


def summary(result: dict[str, Any]) -> str:
    """One line for messages and pages."""
    verdict = "passed" if result.get("passed") else "FAILED"
    latency = (
        f"; p50 {result['latencyP50Ms']} ms, p95 {result['latencyP95Ms']} ms"
        if result.get("latencyP50Ms") is not None
        else ""
    )
    failing = f", {result['failedCases']} failing" if result.get("failedCases") else ""
    return f"integration test {verdict}: {result.get('cases', 0)} case(s){failing}{latency}"


def load_lines(text: str) -> list[SampleRequest]:
    """A JSON Lines file of SampleRequests (blank lines skipped); a bad line raises ValueError naming it."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(SampleRequest.model_validate(json.loads(line)))
        except ValueError as exc:
            raise ValueError(f"line {number}: {str(exc).splitlines()[0][:200]}") from None
    return found
