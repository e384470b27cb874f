"""Lineage queries on the sandbox: walks, prefixes, deployment history, time travel, reconciliation, scale."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sandbox import Sandbox
from sandbox.demo.replay import create_sagemaker_resources
from steward_cli import main
from tests.conftest import EVENTS, load, story

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
ENDPOINT = f"{ACC}:endpoint/churn-prod"
RAW = "s3://churn-datalake-123456789012/raw/customers/dt=2026-11-01"
PACKAGE = f"{ACC}:model-package/churn-models/3"
ROLLBACK = [
    "endpoint_deployment/rollback_canary_baking.json",
    "endpoint/rolling_back.json",
    "endpoint/rolled_back_in_service.json",
]


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as sandbox:
        create_sagemaker_resources(
            sandbox.client("sagemaker"), json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        sandbox.put_events(story() + [load(p) for p in ROLLBACK])
        yield sandbox


def get(sb, path, **params):
    url = f"{sb.api_url}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def ids(graph):
    return {n["id"] for n in graph["nodes"]}


def test_upstream_from_the_endpoint_reaches_raw_data_and_code(sb):
    status, graph = get(sb, "/lineage", id=ENDPOINT, direction="upstream", depth=10)
    assert status == 200
    assert RAW in ids(graph)
    assert f"{ACC}:pipeline/churn-train/execution/8xq2n4vd1k7m" in ids(graph)
    assert any(n["kind"] == "dataset" and n["id"].endswith("preprocess.py") for n in graph["nodes"])


def test_downstream_from_raw_data_finds_the_endpoint(sb):
    status, graph = get(sb, "/lineage", id=RAW, direction="downstream", depth=10)
    assert status == 200
    assert ENDPOINT in ids(graph)
    assert all(e["from"] in ids(graph) and e["to"] in ids(graph) for e in graph["edges"])


def test_depth_limits_the_walk(sb):
    _, one = get(sb, "/lineage", id=PACKAGE, direction="downstream", depth=1)
    _, three = get(sb, "/lineage", id=PACKAGE, direction="downstream", depth=3)
    # One hop: the model it became, and what monitoring recorded against it while it served
    assert ids(one) == {
        PACKAGE,
        f"{ACC}:model/churn-models-v3-5d1c",
        f"{ACC}:processing-job/model-monitoring-202611031000-ad4c27ed8808925848eff223",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-feature-drift-tenure",
    }
    assert ENDPOINT in ids(three)


def test_a_prefix_that_is_not_a_node_resolves_to_the_datasets_under_it(sb):
    prefix = "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/"
    status, graph = get(sb, "/lineage", id=prefix, direction="downstream", depth=1)
    assert status == 200
    assert {prefix.rstrip("/") + "/train", prefix.rstrip("/") + "/test"} <= ids(graph)


def test_a_file_inside_an_output_folder_walks_up_to_it(sb):
    metrics = "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/EvaluateChurnModel/output/evaluation/evaluation.json"
    _, graph = get(sb, "/lineage", id=metrics, direction="upstream", depth=2)
    assert f"{ACC}:processing-job/pipelines-8xq2n4vd1k7m-evaluatechurnmodel-lp5nc8vb1x" in ids(graph)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"id": "not-an-arn"}, "id:"),
        ({"id": PACKAGE, "depth": "99"}, "depth"),
        ({"id": PACKAGE, "depth": "deep"}, "depth"),
        ({"id": PACKAGE, "direction": "sideways"}, "direction"),
        ({}, "id"),
    ],
)
def test_bad_lineage_input_is_a_400_naming_the_problem(sb, params, needle):
    status, body = get(sb, "/lineage", **params)
    assert status == 400
    assert needle in body["message"]
    assert "Traceback" not in json.dumps(body)


def test_unknown_node_is_a_404(sb):
    status, body = get(sb, "/lineage", id=f"{ACC}:training-job/never-ran")
    assert status == 404
    assert body["error"] == "NotFound"


def test_deployment_history_shows_success_then_silent_rollback(sb):
    status, body = get(sb, "/endpoints/churn-prod/deployments")
    assert status == 200
    newest, older = body["items"][0], body["items"][1]
    assert (newest["endpointConfigName"], newest["outcome"], newest["previousEndpointConfigName"]) == (
        "churn-prod-v5-e2a9",
        "rolled-back",
        "churn-prod-v3-5d1c",
    )
    assert (older["endpointConfigName"], older["outcome"], older["previousEndpointConfigName"]) == (
        "churn-prod-v3-5d1c",
        "succeeded",
        "churn-prod-v2-4c7a",
    )


def test_deployments_are_paginated(sb):
    _, first = get(sb, "/endpoints/churn-prod/deployments", limit=1)
    assert len(first["items"]) == 1 and first["next"]
    _, second = get(sb, "/endpoints/churn-prod/deployments", limit=1, next=first["next"])
    assert second["items"][0]["id"] != first["items"][0]["id"]
    status, _body = get(sb, "/endpoints/churn-prod/deployments", next="garbage")
    assert status == 400


@pytest.mark.parametrize(
    ("at", "config", "version"),
    [
        ("2026-11-02T09:20:00Z", "churn-prod-v2-4c7a", 2),  # blue/green: the old fleet still serves
        ("2026-11-03T14:00:00Z", "churn-prod-v3-5d1c", 3),
        ("2026-11-09T09:15:00Z", "churn-prod-v3-5d1c", 3),  # during the v5 canary rollback
    ],
)
def test_what_was_serving_at_a_time(sb, at, config, version):
    status, body = get(sb, "/endpoints/churn-prod/serving", at=at)
    assert status == 200
    assert body["endpointConfigName"] == config
    assert body["modelPackages"] == [f"{ACC}:model-package/churn-models/{version}"]


def test_bad_time_and_unknown_endpoint(sb):
    assert get(sb, "/endpoints/churn-prod/serving", at="last tuesday")[0] == 400
    assert get(sb, "/endpoints/nope/deployments")[0] == 404
    assert get(sb, "/endpoints/bad_name!/deployments")[0] == 400


def test_openapi_document_lists_the_routes(sb):
    status, doc = get(sb, "/openapi.json")
    assert status == 200
    assert {"/lineage", "/endpoints/{name}/deployments", "/endpoints/{name}/serving"} <= set(doc["paths"])


def test_cli_and_api_return_the_same_graph(sb, capsys):
    _, from_api = get(sb, "/lineage", id=PACKAGE, direction="upstream", depth=4)
    assert (
        main(["lineage", PACKAGE, "--upstream", "--depth", "4", "--format", "json", "--api-url", sb.api_url])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == from_api


@pytest.mark.parametrize("fmt", ["tree", "dot", "mermaid"])
def test_cli_renders_pictures(sb, capsys, fmt):
    assert main(["lineage", ENDPOINT, "--upstream", "--format", fmt, "--api-url", sb.api_url]) == 0
    out = capsys.readouterr().out
    assert {"tree": "endpoint: churn-prod [InService]", "dot": "digraph lineage", "mermaid": "flowchart LR"}[
        fmt
    ] in out


def test_cli_deployments_and_time_travel(sb, capsys):
    assert main(["deployments", "churn-prod", "--api-url", sb.api_url]) == 0
    assert "rolled-back" in capsys.readouterr().out
    assert main(["deployments", "churn-prod", "--at", "2026-11-03T14:00:00Z", "--api-url", sb.api_url]) == 0
    assert "churn-prod-v3-5d1c" in capsys.readouterr().out


def test_cli_without_a_target_says_how(capsys, monkeypatch):
    monkeypatch.delenv("STEWARD_API_URL", raising=False)
    assert main(["lineage", PACKAGE]) == 2
    assert "--stack" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"id": "s3://churn-datalake-123456789012"}, 200),
        ({"id": "s3://"}, 400),
        ({"id": f"{ACC}:pipeline/churn-train/execution/8xq2n4vd1k7m/step/PrepareData"}, 200),
    ],
)
def test_bucket_roots_step_ids_and_empty_uris(sb, params, status):
    assert get(sb, "/lineage", **params)[0] == status


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_out_of_range_are_a_400(sb, at):
    assert get(sb, "/endpoints/churn-prod/serving", at=at)[0] == 400


def test_hostile_page_tokens_are_a_400(sb):
    import base64

    for offset in ("1e999", "-5", "true"):
        token = base64.urlsafe_b64encode(('{"offset": ' + offset + "}").encode()).decode()
        assert get(sb, "/endpoints/churn-prod/deployments", next=token)[0] == 400


def test_a_file_inside_a_dataset_folder_walks_downstream_too(sb):
    status, graph = get(sb, "/lineage", id=f"{RAW}/part-0001.csv", direction="downstream", depth=4)
    assert status == 200 and RAW in ids(graph)


def test_delivery_log_since_long_ago_answers_quickly(sb):
    status, _ = get(sb, "/notifications", since="0001-01-01T00:00:00+01:00")
    assert status == 400
    status, body = get(sb, "/notifications", since="1990-01-01T00:00:00Z")
    assert status == 200 and isinstance(body["items"], list)


def test_each_deployment_names_its_versions(sb):
    _, body = get(sb, "/endpoints/churn-prod/deployments")
    older = body["items"][1]
    assert [v["modelPackageArn"] for v in older["versions"]] == [PACKAGE]
    assert older["versions"][0]["version"] == 3 and older["versions"][0]["status"] == "Approved"
    assert [v["modelPackageArn"] for v in older["previousVersions"]] == [
        f"{ACC}:model-package/churn-models/2"
    ]


def test_another_accounts_endpoint_is_asked_by_account_and_region(sb):
    assert get(sb, "/endpoints/churn-prod/deployments", account="999999999999", region="eu-west-1")[0] == 404
    assert get(sb, "/endpoints/churn-prod/deployments", account="12", region="eu-west-1")[0] == 400
    assert get(sb, "/endpoints/churn-prod/deployments", account="123456789012", region="us-east-1")[0] == 200
