"""A sandbox of any account and region: everything in it is of that account, as a deployed stack is."""

from __future__ import annotations

import json
import urllib.request

import pytest

from sandbox import Sandbox, SandboxError
from sandbox.demo.replay import create_sagemaker_resources
from steward_cli import main
from tests.conftest import EVENTS, story

ACCOUNT, REGION = "444455556666", "eu-west-1"


def moved(value, account: str = ACCOUNT, region: str = REGION):
    """The churn story (or its resources) as recorded in another account and region."""
    text = json.dumps(value).replace("123456789012", account).replace("us-east-1", region)
    return json.loads(text)


def resources():
    return json.loads((EVENTS / "sagemaker_resources.json").read_text())


def recorded(sb: Sandbox) -> list[dict]:
    """(results of each target) after replaying the moved story with its resources."""
    create_sagemaker_resources(sb.client("sagemaker"), moved(resources()))
    results = sb.put_events(moved(story()))
    return [t for r in results for t in r["targets"]]


def test_a_sandbox_of_another_account_and_region_provisions_everything_there():
    # Given a sandbox of another account and region
    with Sandbox(account=ACCOUNT, region=REGION, serve_api=False) as sb:
        # Then the stack's resources, the functions' roles and the caller are of that account
        assert sb.output("PromoteModelQueueUrl") == (
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/steward-local-promotion"
        )
        table = sb.client("dynamodb").describe_table(TableName=sb.output("LineageTableName"))["Table"]
        assert table["TableArn"].startswith(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/")
        assert {f.arn.split(":")[4] for f in sb.inventory.functions.values()} == {ACCOUNT}
        assert sb.client("sts").get_caller_identity()["Account"] == ACCOUNT
        assert sb.parameters["ModelExecutionRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")


def test_what_the_emulated_sagemaker_emits_is_of_the_sandboxs_account():
    # Given a sandbox of another account
    with Sandbox(account=ACCOUNT, region=REGION, serve_api=False) as sb:
        seen = []
        original = sb.emit
        sb.emit = lambda event: (seen.append(event), original(event))
        sm = sb.client("sagemaker")
        # When a version is registered there
        sm.create_model_package_group(ModelPackageGroupName="churn-models")
        sm.create_model_package(
            ModelPackageGroupName="churn-models",
            InferenceSpecification={
                "Containers": [{"Image": "1.dkr.ecr/x:1", "ModelDataUrl": "s3://m/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
        sb.drain()
        # Then SageMaker's event names that account and region, and lineage records it as its own
        assert [(e["account"], e["region"]) for e in seen] == [(ACCOUNT, REGION)]
        package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-models/1"
        assert package in {n["id"] for n in sb.lineage()["nodes"]}


def test_iam_denials_name_the_sandboxs_account():
    # Given a sandbox of another account whose record_lineage may not describe endpoint configs
    with Sandbox(account=ACCOUNT, region=REGION, serve_api=False, iam="soft") as sb:
        sb.iam.drop("record_lineage", "DescribeWhatEventsDoNotCarry")
        # When an endpoint event needs its config described
        recorded(sb)
        # Then the denial is the function's role of that account, on a resource of that account
        denial = next(d for d in sb.iam.denials if d["action"] == "sagemaker:DescribeEndpointConfig")
        assert (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/steward-local-RecordLineageFunctionRole/"
            in denial["message"]
        )
        assert denial["resource"].startswith(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/")


def test_a_story_recorded_in_another_account_replays_as_its_own_with_nothing_degraded():
    # Given the churn story as recorded in account 444455556666, eu-west-1 (replayed in the default
    # sandbox its endpoint is another account's, configs by name only: see the replay test below)
    # When it is replayed in a sandbox of that account and region
    with Sandbox(account=ACCOUNT, region=REGION) as sb:
        targets = recorded(sb)
        graph = sb.lineage()
        serving = json.loads(
            urllib.request.urlopen(
                f"{sb.api_url}/endpoints/churn-prod/serving?at=2026-11-05T00:00:00Z"
            ).read()
        )
    # Then every delivery succeeds, nothing is degraded, and the whole chain is there
    assert all(t["ok"] for t in targets)
    assert not any((t.get("result") or {}).get("degraded") for t in targets)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    edges = {(e["from"], e["relation"], e["to"]) for e in graph["edges"]}
    assert (
        f"{arn}:model-package/churn-models/3",
        "instantiated-as",
        f"{arn}:model/churn-models-v3-5d1c",
    ) in edges
    assert (
        f"{arn}:model/churn-models-v3-5d1c",
        "used-by",
        f"{arn}:endpoint-config/churn-prod-v3-5d1c",
    ) in edges
    assert (f"{arn}:endpoint-config/churn-prod-v3-5d1c", "configures", f"{arn}:endpoint/churn-prod") in edges
    assert serving["endpoint"] == f"{arn}:endpoint/churn-prod"
    assert serving["modelPackages"] == [f"{arn}:model-package/churn-models/3"]
    # And it is the graph the story records at home, account for account
    with Sandbox(serve_api=False) as home:
        create_sagemaker_resources(home.client("sagemaker"), resources())
        home.put_events(story())
        expected = moved(home.lineage())
    assert sorted(n["id"] for n in graph["nodes"]) == sorted(n["id"] for n in expected["nodes"])
    assert len(graph["edges"]) == len(expected["edges"])


def test_code_outside_the_sandbox_calls_as_the_account_whose_credentials_it_exports():
    import boto3

    # Given a sandbox of another account serving its AWS, with a workload account beside it
    with Sandbox(account=ACCOUNT, region=REGION, workloads={"prod": "222222222222"}, serve_aws=True) as sb:

        def client(service, account=None):
            keys = sb.credentials(account)
            return boto3.session.Session(
                aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                region_name=keys["AWS_DEFAULT_REGION"],
            ).client(service, endpoint_url=sb.aws_endpoint_url)

        # Then the exported keys are that account's, and each sees its own resources
        assert client("sts").get_caller_identity()["Account"] == ACCOUNT
        assert sb.output("LineageTableName") in client("dynamodb").list_tables()["TableNames"]
        assert client("sts", "prod").get_caller_identity()["Account"] == "222222222222"
        assert client("dynamodb", "prod").list_tables()["TableNames"] == []


def test_replay_takes_the_account_and_region_the_events_name(capsys, tmp_path):
    # Given the story of another account in a file, and its resources
    path, setup = tmp_path / "story.jsonl", tmp_path / "resources.json"
    path.write_text("\n".join(json.dumps(e) for e in moved(story())))
    setup.write_text(json.dumps(moved(resources())))
    # When replayed without saying where
    code = main(["local", "replay", "--json", "--setup", str(setup), str(path)])
    # Then the sandbox was of that account and region: nothing degraded
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert not any((t.get("result") or {}).get("degraded") for r in out["results"] for t in r["targets"])
    assert f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn-prod" in {
        n["id"] for n in out["lineage"]["nodes"]
    }


def test_replay_in_an_account_asked_for_records_the_events_as_forwarded(capsys, tmp_path):
    path, setup = tmp_path / "story.jsonl", tmp_path / "resources.json"
    path.write_text("\n".join(json.dumps(e) for e in moved(story())))
    setup.write_text(json.dumps(moved(resources())))
    where = ["--account", "123456789012", "--region", "us-east-1"]
    assert main(["local", "replay", "--json", "--setup", str(setup), *where, str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    results = [(t.get("result") or {}) for r in out["results"] for t in r["targets"]]
    degraded = [d for result in results for d in result.get("degraded") or []]
    assert degraded and "configs recorded by name only" in degraded[0]
    assert f"no read role for account {ACCOUNT}" in degraded[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account": "12345"}, "is not a 12-digit AWS account id"),
        ({"region": "Europe"}, "is not an AWS region name"),
        ({"workloads": {"prod": "123456789012"}}, "already in this sandbox"),
        ({"workloads": {"Prod!": "111111111111"}}, "workload name"),
    ],
)
def test_a_bad_account_region_or_workload_is_refused_before_anything_starts(kwargs, message):
    with pytest.raises(SandboxError, match=message):
        Sandbox(**kwargs)
