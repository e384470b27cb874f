"""Bad input: fuzzed events and requests get a structured refusal or are ignored, never a crash.

- Every event model (each sample under events/, so every detail-type): wrong types, missing fields,
  huge strings and deep nesting at any path. `parse_event` returns a model or raises InvalidEventError
  naming the fields (UnsupportedEventError for another type); each function the event's rules target
  either handles it or refuses it with InvalidEventError, and a refused event writes nothing.
- PutEvents' limits: an entry over 256 KB or nested deeper than 1100 levels reaches no rule.
- Every API route over HTTP: fuzzed path parameters, query strings and bodies (signed Slack payloads
  too) are answered below 500, every 4xx is JSON with a message (or the approval link's HTML page),
  and no response carries a stack trace. Bodies over 256 KB are a 413, deeply nested JSON a 400.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.patterns import matches
from steward.events import EVENT_MODELS, parse_event
from steward.kernel.errors import InvalidEventError, UnsupportedEventError
from tests.conftest import EVENTS
from tests.reliability import scenario

FIXTURES = sorted(EVENTS.glob("*/*.json"))
SAMPLES = {p: json.loads(p.read_text()) for p in FIXTURES}
REFUSALS = {"InvalidEventError", "Runtime.UnmarshalError"}  # structured: the event is malformed
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            found += _paths(child, (*prefix, index))
    return found


def _nest(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": [value]} if depth % 2 else {"a": value}
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "IN_SERVICE", "Completed", "1e309", "-1", "2026-13-45T99:99:99Z", "\x00\u202e"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@st.composite
def mutated_events(draw: Any) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(FIXTURES))
    event = copy.deepcopy(SAMPLES[path])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event)
        if not paths:
            break
        where = draw(st.sampled_from(paths))
        parent = event
        for part in where[:-1]:
            parent = parent[part]
        key = where[-1]
        kind = draw(st.sampled_from(["replace", "delete", "huge", "nest"]))
        if kind == "delete":
            del parent[key]
        elif kind == "huge":
            parent[key] = "x" * draw(st.sampled_from([1025, 70_000]))
        elif kind == "nest":
            parent[key] = _nest(draw(st.sampled_from([40, 500])))
        else:
            parent[key] = draw(json_values)
    return f"{path.parent.name}/{path.name}", event


# --- the event models ----------------------------------------------------------------------------------


def test_every_detail_type_has_samples_to_fuzz():
    assert {s["detail-type"] for s in SAMPLES.values()} == set(EVENT_MODELS)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mutated_events())
def test_a_mutated_event_parses_or_is_refused_naming_its_fields(case):
    _, event = case
    refusal: InvalidEventError | None = None
    try:
        parse_event(event)
    except InvalidEventError as exc:
        refusal = exc
    except UnsupportedEventError:
        assert event.get("detail-type") not in EVENT_MODELS
    if refusal is not None:
        assert refusal.errors and all(e["field"] and e["message"] for e in refusal.errors)
        assert len(str(refusal)) < 2000  # bounded, whatever the input (no 70 KB value echoed)
        assert refusal.to_dict()["error"] == "InvalidEvent"


@pytest.fixture(scope="module")
def sb():
    """A sandbox with the story, the gate and stages published, and version 5 waiting for approval."""
    with Sandbox() as sandbox:
        scenario.setup(sandbox)
        sandbox.put_events(scenario.story_events())
        live = scenario.Live()
        sandbox.set_policy(scenario.live_policy())
        sandbox.v5 = live.register(sandbox, "live5run", 0.934)
        yield sandbox


def _targets(sb: Sandbox, event: dict[str, Any]) -> list[str]:
    return sorted(
        {
            t["function"]
            for r in sb.inventory.rules
            if r.pattern and matches(r.pattern, event)
            for t in r.targets
        }
    )


def _queued(sb: Sandbox) -> int:
    sqs = sb.client("sqs")
    attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    total = 0
    for url in sqs.list_queues()["QueueUrls"]:
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)["Attributes"]
        total += sum(int(found[a]) for a in attributes)
    return total


@FUZZ
@given(case=mutated_events())
def test_handlers_handle_or_refuse_a_mutated_event_and_a_refusal_writes_nothing(sb, case):
    name, event = case
    targets = _targets(sb, SAMPLES[EVENTS / name])
    assert targets, name
    before = scenario.tables_snapshot(sb)
    try:
        for function in targets:
            tables, queued = scenario.tables_snapshot(sb), _queued(sb)
            outcome = sb.invoke(function, event)
            if outcome["ok"]:
                continue
            assert outcome["error_type"] in REFUSALS, (name, function, outcome)
            assert "Traceback" not in outcome["error"]
            # refused: nothing written, nothing sent
            assert scenario.tables_snapshot(sb) == tables, (name, function)
            assert _queued(sb) == queued, (name, function)
    finally:
        scenario.tables_restore(sb, before)


ONE_PER_TYPE = sorted({sample["detail-type"]: path for path, sample in SAMPLES.items()}.values())


@pytest.mark.parametrize("path", ONE_PER_TYPE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_entry_over_256_kb_or_nested_over_1100_levels_reaches_no_rule(sb, path):
    sample = SAMPLES[path]
    big = copy.deepcopy(sample)
    big["detail"]["Padding"] = "x" * (256 * 1024)
    deep = copy.deepcopy(sample)
    deep["detail"]["Extra"] = _nest(1101)
    sb.drain()  # what earlier tests left queued
    before = scenario.tables_snapshot(sb)
    too_big, too_deep = sb.put_events([big, deep])
    assert too_big["targets"] == [] and too_big["error"]["code"] == "ValidationException"
    assert too_deep["targets"] == [] and too_deep["error"]["code"] == "MalformedDetail"
    assert scenario.tables_snapshot(sb) == before
    # just under both limits the event is delivered, and handled like the sample
    fits = copy.deepcopy(sample)
    fits["detail"]["Extra"] = _nest(1000)
    fits["detail"]["Padding"] = "x" * 200_000
    try:
        delivered = sb.put_events([fits])[0]
        assert delivered["targets"] and all(t["ok"] for t in delivered["targets"]), delivered
    finally:
        scenario.tables_restore(sb, before)


# --- the API -------------------------------------------------------------------------------------------


def request(
    sb: Sandbox, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
):
    req = urllib.request.Request(f"{sb.api_url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode(errors="replace")


def assert_well_behaved(status: int, headers: dict[str, str], text: str, what: str) -> None:
    assert status < 500, (what, status, text[:300])
    assert "Traceback" not in text and 'File "' not in text, (what, text[:300])
    if status >= 400:
        kind = headers.get("Content-Type", "")
        if kind.startswith("text/html"):
            assert "<h1>" in text, (what, text[:300])  # the approval link's page says what went wrong
        else:
            payload = json.loads(text)
            assert isinstance(payload, dict) and (payload.get("message") or payload.get("error")), (
                what,
                text,
            )


ROUTES = [
    ("GET", "/health"),
    ("GET", "/lineage"),
    ("GET", "/compare"),
    ("GET", "/notifications"),
    ("GET", "/openapi.json"),
    ("GET", "/approval-requests"),
    ("POST", "/approval-requests/{request_id}/decisions"),
    ("POST", "/slack/interactions"),
    ("GET", "/approvals/{token}"),
    ("POST", "/approvals/{token}"),
    ("GET", "/endpoints/{name}/deployments"),
    ("GET", "/endpoints/{name}/serving"),
    ("POST", "/endpoints/{name}/rollback"),
    ("GET", "/endpoints/{name}/monitoring"),
    ("GET", "/status"),
    ("GET", "/report"),
]
PARAMETERS = [
    "id",
    "direction",
    "depth",
    "a",
    "b",
    "since",
    "failed",
    "limit",
    "next",
    "at",
    "account",
    "region",
    "package",
    "group",
    "version",
    "format",
]
BODY_KEYS = ["decision", "as", "comment", "reason", "toVersion", "csrf", "payload", "actions", "user"]


def test_every_route_of_the_template_is_fuzzed(sb):
    assert sorted(ROUTES) == sorted((r.method, r.path) for r in sb.inventory.routes)


path_values = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["churn-prod", "..", "%2e%2e", "arn:aws:sagemaker:us-east-1:1:endpoint/x", "a" * 3000]),
)
query_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["-1", "0", "501", "99999999999999999999", "true", "upstream", "2026-11-02T09:20:00Z"]),
    st.just("x" * 3000),
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(BODY_KEYS), json_values, max_size=4).map(
        lambda v: json.dumps(v).encode()
    ),
    st.dictionaries(st.sampled_from(BODY_KEYS), st.text(max_size=20), max_size=4).map(
        lambda v: urllib.parse.urlencode(v).encode()
    ),
)


slack_actions = st.fixed_dictionaries(
    {},
    optional={
        "action_id": st.sampled_from(["steward_approve", "steward_reject", "other"]) | json_values,
        "value": st.text(max_size=40) | json_values,
    },
)
slack_payloads = st.fixed_dictionaries(
    {
        "user": st.fixed_dictionaries({"id": st.sampled_from(["U01ALICE", "U0MALLORY"]) | json_values})
        | json_values
    },
    optional={
        "type": st.just("block_actions"),
        "actions": st.lists(slack_actions | json_values, max_size=2) | json_values,
        "response_url": st.sampled_from(["http://127.0.0.1:9/x", "file:///etc/passwd", "javascript:x"])
        | json_values,
    },
)


def _signing_secret(sb: Sandbox) -> str:
    secret = sb.client("secretsmanager").get_secret_value(SecretId=sb.output("SlackSecretName"))
    return str(json.loads(secret["SecretString"])["signing_secret"])


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_requests_are_refused_cleanly(sb, method, route, data):
    path = route
    for name in ("request_id", "token", "name"):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", urllib.parse.quote(data.draw(path_values, name), safe=""))
    query = data.draw(
        st.dictionaries(st.sampled_from(PARAMETERS) | st.text(max_size=8), query_values, max_size=4)
    )
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    body = data.draw(bodies) if method == "POST" else None
    headers = {
        "Content-Type": data.draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded"]))
    }
    if route == "/slack/interactions" and data.draw(st.booleans(), "signed"):
        payload = data.draw(json_values | slack_payloads)
        body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(
            _signing_secret(sb).encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256
        ).hexdigest()
        headers.update({"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"})
    status, answer_headers, text = request(sb, method, target, body, headers)
    assert_well_behaved(status, answer_headers, text, f"{method} {target[:200]}")


@pytest.mark.parametrize("route", [r for m, r in ROUTES if m == "POST"])
def test_oversized_and_deeply_nested_bodies_are_refused(sb, route):
    path = route.format(request_id="x", token="x", name="churn-prod")
    status, _, text = request(sb, "POST", path, b'{"reason": "' + b"x" * (300 * 1024) + b'"}')
    assert status == 413 and json.loads(text)["error"] == "PayloadTooLarge", (route, status, text[:200])
    status, _, text = request(sb, "POST", path, b"x" * (2 * 1024 * 1024))  # API Gateway's own 413 here
    assert status == 413 and json.loads(text)["message"]
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    status, _, text = request(sb, "POST", path, deep, {"Content-Type": "application/json"})
    assert status == 400 and "nested" in json.loads(text)["message"], (route, status, text[:200])


def test_the_fuzzing_changed_no_decision(sb):
    """Whatever the fuzzing sent, version 5 is still waiting for its approvers."""
    described = sb.client("sagemaker").describe_model_package(ModelPackageName=sb.v5)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(payload=slack_payloads)
def test_signed_slack_payloads_of_any_shape_are_refused_cleanly(sb, payload):
    """Past the signature check (a valid one, with the app's signing secret), the payload is parsed: any
    shape is answered below 500 and decides nothing (no approver's button is pressed here)."""
    body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(
        _signing_secret(sb).encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    status, answer_headers, text = request(sb, "POST", "/slack/interactions", body, headers)
    assert_well_behaved(status, answer_headers, text, json.dumps(payload)[:200])


def _string_paths(value: Any) -> list[tuple[Any, ...]]:
    return [p for p in _paths(value) if isinstance(_at(value, p), str)]


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@pytest.mark.parametrize("path", ONE_PER_TYPE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_string_of_an_event_just_under_and_far_over_its_limit(sb, path):
    """Each string field in turn, at the longest an id may be (1100 bytes, two-byte characters included)
    and far longer: each target handles the event or refuses it, and a refusal writes nothing."""
    sample, targets = SAMPLES[path], _targets(sb, SAMPLES[path])
    before = scenario.tables_snapshot(sb)
    try:
        for where in _string_paths(sample):
            for value in ("é" * 300 + "x" * 500, "x" * 5000):
                event = copy.deepcopy(sample)
                parent = _at(event, where[:-1])
                parent[where[-1]] = value
                for function in targets:
                    tables = scenario.tables_snapshot(sb)
                    outcome = sb.invoke(function, event)
                    if not outcome["ok"]:
                        assert outcome["error_type"] in REFUSALS, (where, len(value), function, outcome)
                        assert scenario.tables_snapshot(sb) == tables, (where, function)
                scenario.tables_restore(sb, before)
    finally:
        scenario.tables_restore(sb, before)
