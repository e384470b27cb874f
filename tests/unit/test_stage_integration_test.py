"""The integration test of a stage (pure): checks, retries, latency limits and the time budget, with a
fake endpoint and a fake clock."""

from __future__ import annotations

import json

import pytest

from steward.policy import IntegrationTest, PolicyError, SampleRequest, parse_policy
from steward.promotion.integration import CannotRun, Reply, Retryable, check, load_lines, run, summary


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def endpoint(clock: Clock, answers: list, latency_ms: float = 10.0):
    """Each call advances the clock by its latency and answers the next item (an exception is raised)."""
    calls = []

    def invoke(body: bytes, content_type: str, accept: str | None) -> Reply:
        calls.append((json.loads(body) if content_type.endswith("json") else body, content_type, accept))
        clock.now += latency_ms / 1000
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return invoke, calls


def ok(body: object, content_type: str = "application/json") -> Reply:
    return Reply(200, content_type, json.dumps(body).encode())


def make(requests: list[dict], **options) -> tuple[IntegrationTest, list[SampleRequest]]:
    t = IntegrationTest(requests=requests, **options)
    return t, list(t.requests)


def test_every_request_is_sent_the_times_asked_and_checked() -> None:
    clock = Clock()
    invoke, calls = endpoint(clock, [ok({"label": 1, "score": 0.9049})])
    t, requests = make(
        [
            {
                "name": "a",
                "body": {"x": 1},
                "expect": {"score": 0.905},
                "tolerance": 0.001,
                "accept": "application/json",
            }
        ],
        calls_per_request=4,
    )
    result = run(t, requests, invoke, clock=clock, sleep=clock.sleep)
    assert result["passed"] and result["calls"] == 4 and result["cases"] == 1
    assert calls[0] == ({"x": 1}, "application/json", "application/json")
    assert result["latencyP50Ms"] == pytest.approx(10.0) and result["latencyP95Ms"] == pytest.approx(10.0)
    assert summary(result) == "integration test passed: 1 case(s); p50 10.0 ms, p95 10.0 ms"


@pytest.mark.parametrize(
    ("expectation", "reply", "problem"),
    [
        ({"expect_status": 200}, Reply(500, "text/plain", b"boom"), "status 500, expected 200"),
        ({"expect_content_type": "application/json"}, ok({}, "text/csv"), "content type 'text/csv'"),
        ({"expect": {"label": 1}}, ok({"label": 0}), "is not the expected"),
        ({"expect": [0.5, 0.5]}, ok([0.5]), "is not the expected"),
        ({"expect": {"p": 0.9}, "tolerance": 0.01}, ok({"p": 0.92}), "is not the expected"),
        ({"expect": {"p": 1}}, ok({"p": True}), "is not the expected"),  # a boolean is not a number
        ({"expect_schema": {"type": "object", "required": ["p"]}}, ok({"q": 1}), "does not match the schema"),
        ({"expect_schema": {"type": "object"}}, Reply(200, "application/json", b"not json"), "schema"),
    ],
)
def test_a_wrong_answer_fails_its_case_and_says_why(expectation, reply, problem) -> None:
    request = SampleRequest(body={"x": 1}, **expectation)
    found = check(request, reply)
    assert found and any(problem in p for p in found), found


def test_csv_bodies_are_sent_as_text_and_a_text_answer_can_be_expected() -> None:
    clock = Clock()
    invoke, calls = endpoint(clock, [Reply(200, "text/csv", b"0.42")])
    t, requests = make([{"body": "1,2,3", "content_type": "text/csv", "expect": 0.42}])
    assert run(t, requests, invoke, clock=clock, sleep=clock.sleep)["passed"]
    assert calls[0][0] == b"1,2,3"


def test_throttling_is_retried_with_backoff_and_then_passes() -> None:
    clock = Clock()
    invoke, calls = endpoint(
        clock, [Retryable("ThrottlingException"), Retryable("ThrottlingException"), ok(1)]
    )
    t, requests = make([{"body": 1, "expect": 1}], retries=2)
    result = run(t, requests, invoke, clock=clock, sleep=clock.sleep)
    assert result["passed"] and result["calls"] == 3 and len(calls) == 3
    assert clock.now >= 0.2 + 0.4  # backed off


def test_a_call_that_cannot_be_made_fails_never_passes() -> None:
    clock = Clock()
    for answer in (Retryable("ThrottlingException"), CannotRun("ValidationError: Endpoint x not found")):
        invoke, _ = endpoint(clock, [answer])
        t, requests = make([{"body": 1}], retries=1)
        result = run(t, requests, invoke, clock=clock, sleep=clock.sleep)
        assert not result["passed"] and result["failedCases"] == 1
        assert "could not be sent" in result["results"][0]["problems"][0]


def test_latency_limits_are_checked_over_every_call() -> None:
    clock = Clock()
    invoke, _ = endpoint(clock, [ok(1)], latency_ms=120)
    t, requests = make([{"body": 1}], calls_per_request=10, max_p50_ms=200, max_p95_ms=100)
    result = run(t, requests, invoke, clock=clock, sleep=clock.sleep)
    assert not result["passed"] and result["failedCases"] == 0
    assert result["problems"] == ["latency p95 120.0 ms over the limit 100 ms"]


def test_what_the_budget_leaves_unsent_fails_as_not_run() -> None:
    clock = Clock()
    invoke, calls = endpoint(clock, [ok(1)], latency_ms=600)
    t, requests = make([{"name": f"r{i}", "body": i} for i in range(5)], budget_seconds=1)
    result = run(t, requests, invoke, clock=clock, sleep=clock.sleep)
    assert not result["passed"] and len(calls) == 2  # 0.6 s each: the third would start after 1 s
    assert sum("not run" in " ".join(c["problems"]) for c in result["results"]) == 3


def test_no_request_at_all_is_a_failure() -> None:
    clock = Clock()
    invoke, _ = endpoint(clock, [ok(1)])
    t = IntegrationTest(requests_s3_uri="s3://bucket-a/requests.jsonl")
    result = run(t, [], invoke, clock=clock, sleep=clock.sleep)
    assert not result["passed"] and result["problems"] == ["no sample request to send"]


def test_json_lines_are_parsed_and_a_bad_line_is_named() -> None:
    lines = '{"body": {"x": 1}, "expect": {"y": 2}}\n\n{"body": "1,2", "content_type": "text/csv"}\n'
    assert [r.content_type for r in load_lines(lines)] == ["application/json", "text/csv"]
    with pytest.raises(ValueError, match="line 2"):
        load_lines('{"body": 1}\n{"body": 1, "expect_status": 9999}\n')


def test_the_policy_says_what_is_wrong_with_an_integration_test() -> None:
    stage = {"name": "staging", "endpoint": "s"}
    with pytest.raises(PolicyError) as problem:
        parse_policy({"default": {"stages": [{**stage, "integration_test": {"retries": 9}}]}})
    text = str(problem.value)
    assert "needs requests or requests_s3_uri" in text and "retries" in text  # both at once
    with pytest.raises(PolicyError, match="not a JSON Schema"):
        parse_policy(
            {
                "default": {
                    "stages": [
                        {
                            **stage,
                            "integration_test": {"requests": [{"body": 1, "expect_schema": {"type": 5}}]},
                        }
                    ]
                }
            }
        )
