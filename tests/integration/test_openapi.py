"""The API as its OpenAPI document describes it, and the errors it answers, over HTTP on the sandbox.

- GET /openapi.json is valid OpenAPI 3.1 (openapi-spec-validator), documents every route template.yaml
  gives the api function, with the template's authorisation, and declares the statuses the API
  answers (400 where Powertools would say 422; 404, 202, 409, 410, 413, 415, 503, API Gateway's own).
- A 400 names the query, path or body parameter at fault, as `field` and in the message.
- One exception type per meaning (functions/api/app.py): a refusal is its 4xx, a missing resource a
  404, a dependency failure a 503 with Retry-After, a misconfiguration a function error (API Gateway's
  generic 502, the detail only in the error log line).
(tests/reliability/test_openapi_fuzz.py fuzzes the API against the document with schemathesis.)
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from sandbox import Sandbox
from tests.integration import test_approvals as approvals
from tests.reliability import scenario

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
PACKAGE = f"{ACC}:model-package/churn-models/3"
GENERIC_502 = {"message": "Internal server error"}
FORM = "application/x-www-form-urlencoded"


def call(
    sb: Sandbox, method: str, path: str, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(f"{sb.api_url}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def get(sb: Sandbox, path: str, **params: Any) -> tuple[int, Any]:
    status, _, text = call(sb, "GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))
    return status, json.loads(text)


def post_json(sb: Sandbox, path: str, body: Any) -> tuple[int, Any]:
    status, _, text = call(sb, "POST", path, json.dumps(body).encode(), "application/json")
    return status, json.loads(text)


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as sandbox:
        scenario.setup(sandbox)
        sandbox.put_events(scenario.story_events())
        yield sandbox


@pytest.fixture(scope="module")
def doc(sb):
    status, document = get(sb, "/openapi.json")
    assert status == 200
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, methods in document["paths"].items() for m, op in methods.items()]


# --- the document ---------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(doc):
    validate(doc)  # raises on the first problem
    assert doc["openapi"].startswith("3.1")


def test_every_route_of_the_template_is_documented_with_its_authorisation(sb, doc):
    routes = {(r.method.lower(), r.path): r.auth for r in sb.inventory.routes if r.function == "ApiFunction"}
    documented = {(m, p): op.get("security") for m, p, op in operations(doc)}
    assert set(documented) == set(routes)
    for route, auth in routes.items():
        assert documented[route] == ([{"sigv4": []}] if auth == "AWS_IAM" else []), route


def test_no_operation_declares_422_and_each_declares_the_answers_it_gives(doc):
    for method, path, op in operations(doc):
        codes = set(op["responses"])
        assert "422" not in codes, (method, path)
        assert {"400", "413", "429", "502", "504"} <= codes, (method, path)
        if op["security"]:
            assert "403" in codes, (method, path)
    responses = {(m, p): set(op["responses"]) for m, p, op in operations(doc)}
    assert {"202", "404"} <= responses["post", "/endpoints/{name}/rollback"]
    assert {"200", "403", "409", "410"} <= responses["get", "/approvals/{token}"]
    assert {"200", "400", "403", "409", "410", "413", "415"} <= responses["post", "/approvals/{token}"]
    assert {"403", "404", "409", "410", "415"} <= responses[
        "post", "/approval-requests/{request_id}/decisions"
    ]
    assert "401" in responses["post", "/slack/interactions"]
    for path in ("/lineage", "/compare", "/endpoints/{name}/deployments", "/endpoints/{name}/serving"):
        assert "404" in responses["get", path], path


def test_parameters_declare_their_formats(doc):
    def parameter(method: str, path: str, name: str) -> dict[str, Any]:
        return next(p for p in doc["paths"][path][method]["parameters"] if p["name"] == name)["schema"]

    assert parameter("get", "/endpoints/{name}/deployments", "name")["pattern"].startswith("^[a-zA-Z0-9]")
    assert {"minimum": 0, "maximum": 10}.items() <= parameter("get", "/lineage", "depth").items()
    assert parameter("get", "/lineage", "direction")["enum"] == ["upstream", "downstream"]
    assert "pattern" in parameter("get", "/compare", "b")
    assert "pattern" in parameter("get", "/approvals/{token}", "token")
    assert "pattern" in parameter("post", "/approval-requests/{request_id}/decisions", "request_id")
    account = parameter("get", "/endpoints/{name}/serving", "account")["anyOf"][0]
    assert account["pattern"] == "^[0-9]{12}$"


def test_the_body_media_types_are_the_ones_the_api_takes(doc):
    from steward.api.errors import BODY_TYPES

    declared = {
        (m, p): next(iter(op["requestBody"]["content"]))
        for m, p, op in operations(doc)
        if "requestBody" in op
    }
    assert declared == BODY_TYPES


# --- a 400 names the parameter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/compare", {"a": PACKAGE, "b": ""}, "b"),  # once answered "id: ..."
        ("/compare", {"a": "nope", "b": PACKAGE}, "a"),
        ("/notifications", {"since": "last tuesday"}, "since"),  # once answered "at: ..."
        ("/notifications", {"failed": "maybe"}, "failed"),
        ("/lineage", {"id": PACKAGE, "depth": "99"}, "depth"),
        ("/lineage", {"id": PACKAGE, "direction": "sideways"}, "direction"),
        ("/lineage", {}, "id"),
        ("/endpoints/churn-prod/serving", {"at": "0001-01-01T00:00:00Z"}, "at"),
        ("/endpoints/churn-prod/deployments", {"next": "garbage"}, "next"),
        ("/endpoints/churn-prod/deployments", {"limit": "0"}, "limit"),
        ("/endpoints/churn-prod/monitoring", {"since": "soon"}, "since"),
        ("/endpoints/churn-prod/monitoring", {"account": "12"}, "account"),
        ("/endpoints/churn-prod/monitoring", {"region": "mars"}, "region"),
        ("/endpoints/bad_name!/deployments", {}, "name"),
        ("/endpoints/a%2Fb/deployments", {}, "name"),  # a character Powertools' router takes in no path
        ("/endpoints/%01/serving", {"at": "2026-11-03T14:00:00Z"}, "name"),
    ],
)
def test_a_400_names_the_parameter_at_fault(sb, path, params, field):
    status, body = get(sb, path, **params)
    assert status == 400, body
    assert body["error"] == "BadRequest" and body["field"] == field, body
    assert body["message"].startswith(f"{field}: "), body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"toVersion": 1}, "reason"),
        ({"reason": "drift", "toVersion": 0}, "toVersion"),
        ("not json", "body"),
    ],
)
def test_a_400_names_the_body_field_at_fault(sb, body, field):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    status, _, text = call(sb, "POST", "/endpoints/churn-prod/rollback", raw, "application/json")
    assert status == 400 and json.loads(text)["field"] == field, text


def test_a_body_of_another_media_type_is_a_415_not_a_function_error(sb):
    status, _, text = call(
        sb, "POST", "/endpoints/churn-prod/rollback", b'{"reason": "drift"}', "multipart/form-data"
    )
    assert status == 415, text  # was a 502: Powertools failed parsing it as a multipart form
    assert {"error": "UnsupportedMediaType", "field": "Content-Type"}.items() <= json.loads(text).items()
    assert sb.invocations[-1]["ok"]


def test_a_form_of_more_fields_than_the_page_sends_is_a_400_page(sb):
    form = "&".join(f"f{i}=x" for i in range(12)).encode()
    status, headers, page = call(sb, "POST", "/approvals/a.b", form, FORM)
    assert status == 400 and headers["Content-Type"].startswith("text/html"), page  # was a 502
    assert "Nothing was changed" in page


def test_a_link_the_router_cannot_match_is_answered_as_a_forged_link(sb):
    status, headers, page = call(sb, "GET", "/approvals/%01")
    assert status == 403 and headers["Content-Type"].startswith("text/html")  # was Powertools' JSON 404
    assert "This link is not valid" in page


# --- one exception type per meaning ---------------------------------------------------------------------


def test_rollback_of_an_endpoint_steward_never_recorded_is_a_404(sb):
    sqs = sb.client("sqs")
    queue = sb.output("PromoteModelQueueUrl")
    before = sb.invocations.copy()
    status, body = post_json(sb, "/endpoints/never-heard-of/rollback", {"reason": "just in case"})
    assert status == 404 and body["error"] == "NotFound", body  # was a 202 "queued"
    assert "never-heard-of" in body["message"]
    assert not [i for i in sb.invocations[len(before) :] if i["function"] != "api"]  # nothing queued
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_unknown_resources_are_a_404_with_the_error_body(sb):
    for path, params in [
        ("/lineage", {"id": f"{ACC}:training-job/never-ran"}),
        ("/compare", {"a": PACKAGE, "b": f"{ACC}:model-package/churn-models/99"}),
        ("/endpoints/nope/deployments", {}),
        ("/endpoints/nope/serving", {"at": "2026-11-03T14:00:00Z"}),
        ("/endpoints/nope/monitoring", {}),
    ]:
        status, body = get(sb, path, **params)
        assert status == 404 and body["error"] == "NotFound" and body["message"], (path, body)
    status, body = post_json(
        sb,
        "/approval-requests/00000000-0000-0000-0000-000000000000/decisions",
        {"decision": "approve", "as": "bob"},
    )
    assert status == 404 and body["error"] == "NotFound", body


def _function_error(sb: Sandbox, since: int) -> dict[str, Any]:
    (failed,) = [i for i in sb.invocations[since:] if i["function"] == "api"]
    assert not failed["ok"], failed  # a function error: what the Errors metric (and alarm) counts
    return failed


def _misconfigured_log(sb: Sandbox, since: int) -> dict[str, Any]:
    lines = [json.loads(line) for line in sb.logs[since:] if line.startswith("{")]
    (line,) = [line for line in lines if line.get("message") == "misconfigured"]
    assert line["level"] == "ERROR"
    return line


def _api_env(sb: Sandbox) -> dict[str, str]:
    return sb.inventory.functions["ApiFunction"].environment


@contextlib.contextmanager
def secret_holding(sb: Sandbox, variable: str, value: str) -> Iterator[None]:
    """The api's secret named by `variable` holds `value` while the block runs."""
    secrets, name = sb.client("secretsmanager"), _api_env(sb)[variable]
    before = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.put_secret_value(SecretId=name, SecretString=value)
    try:
        yield
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=before)


@contextlib.contextmanager
def policy_published(sb: Sandbox, document: dict[str, Any]) -> Iterator[None]:
    """`document` is the policy while the block runs; then the one published before is again."""
    ssm, parameter = sb.client("ssm"), sb.output("PolicyParameterName")
    published = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    sb.set_policy(document)
    try:
        yield
    finally:
        ssm.put_parameter(Name=parameter, Value=published, Type="String", Overwrite=True)


def test_an_empty_signing_secret_is_a_function_error_not_a_404(sb):
    with secret_holding(sb, "APPROVAL_SECRET_NAME", "{}"):
        invocations, logs = len(sb.invocations), len(sb.logs)
        status, _, text = call(sb, "GET", "/approvals/a.b")
    assert (status, json.loads(text)) == (502, GENERIC_502)  # was a 404 naming the secret's contents
    assert "secret" in _function_error(sb, invocations)["error"]
    assert "holds no key" in _misconfigured_log(sb, logs)["detail"]


def test_a_slack_secret_without_its_signing_secret_is_a_function_error_not_a_401(sb):
    with secret_holding(sb, "SLACK_SECRET_NAME", '{"signing_secret": ""}'):
        invocations, logs = len(sb.invocations), len(sb.logs)
        status, _, text = call(sb, "POST", "/slack/interactions", b"payload=%7B%7D", FORM)
    assert (status, json.loads(text)) == (502, GENERIC_502)
    _function_error(sb, invocations)
    assert "signing_secret" in _misconfigured_log(sb, logs)["detail"]


def test_no_promotion_queue_is_a_function_error(sb):
    env = _api_env(sb)
    queue, env["PROMOTION_QUEUE_URL"] = env["PROMOTION_QUEUE_URL"], ""
    try:
        invocations, logs = len(sb.invocations), len(sb.logs)
        status, _, text = call(
            sb, "POST", "/endpoints/churn-prod/rollback", b'{"reason": "drift"}', "application/json"
        )
    finally:
        env["PROMOTION_QUEUE_URL"] = queue
    assert (status, json.loads(text)) == (502, GENERIC_502)
    _function_error(sb, invocations)
    assert "PROMOTION_QUEUE_URL" in _misconfigured_log(sb, logs)["detail"]


def test_a_stage_approved_without_a_promotion_queue_is_a_function_error_not_a_404(sb):
    from steward.approvals.models import ApprovalRequest
    from tests.integration import test_promotion as promotion

    document = promotion.policy()
    document["default"]["stages"][1]["requires_approval"] = True
    with policy_published(sb, document):
        package = promotion.register(sb)
        promotion.approve(sb, package)  # staging deploys; prod waits for its own approval
        env = _api_env(sb)
        queue, env["PROMOTION_QUEUE_URL"] = env["PROMOTION_QUEUE_URL"], ""
        try:
            invocations, logs = len(sb.invocations), len(sb.logs)
            status, body = post_json(
                sb,
                f"/approval-requests/{ApprovalRequest.id_for(package, 'prod')}/decisions",
                {"decision": "approve", "as": "bob@example.com"},
            )
        finally:
            env["PROMOTION_QUEUE_URL"] = queue
    assert (status, body) == (502, GENERIC_502)  # was a 404 "no promotion queue configured"
    _function_error(sb, invocations)
    assert "PROMOTION_QUEUE_URL" in _misconfigured_log(sb, logs)["detail"]


def test_a_dependency_failure_is_a_503_to_retry(sb):
    with sb.faults("dynamodb.*", rate=1.0):
        status, headers, text = call(sb, "GET", f"/lineage?id={urllib.parse.quote(PACKAGE)}")
    assert status == 503, text
    assert json.loads(text)["error"] == "Unavailable" and "Throttling" not in text
    assert int(headers["Retry-After"]) > 0
    assert sb.invocations[-1]["ok"]  # the function answered: not a function error
    assert get(sb, "/lineage", id=PACKAGE)[0] == 200


def test_an_operator_deciding_on_an_expired_request_is_a_410(sb):
    from steward.approvals.models import ApprovalRequest

    with policy_published(sb, approvals.policy(expiry_hours=0.0003)):  # about a second
        package = approvals.register(sb)
        time.sleep(1.5)
        path = f"/approval-requests/{ApprovalRequest.id_for(package)}/decisions"
        status, body = post_json(sb, path, {"decision": "approve", "as": "alice@example.com"})
    assert (status, body) == (410, {"error": "expired", "message": "refused: expired"})  # was a 403


def test_a_bad_slack_signature_is_a_structured_401(sb):
    status, _, text = call(sb, "POST", "/slack/interactions", b"payload=%7B%7D", FORM)
    assert status == 401
    assert json.loads(text) == {"error": "Unauthorized", "message": "invalid or stale Slack signature"}
