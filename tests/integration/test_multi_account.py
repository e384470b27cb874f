"""Multi-account, as AWS customers run it: the registry (and Steward) in one account, staging and prod in
two workload accounts that run workload-account.yaml. Their SageMaker events reach Steward through their
forwarding rules, lineage describes their configs and models through their read roles, and promotion
deploys into them through their promotion roles; the sandbox enforces every one of those policies."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime

import pytest

from sandbox import Sandbox, Workload
from tests.integration.test_promotion import APPROVERS, approve, http, register

REGISTRY, STAGING, PROD = "123456789012", "111111111111", "222222222222"
PROD_REGION = "eu-west-1"  # prod serves from another region too
WORKLOADS = {"staging": STAGING, "prod": Workload(PROD, region=PROD_REGION)}


def policy():
    return {
        "default": {
            "notifications": {
                "info": {"email": ["ops@example.com"]},
                "warning": {"email": ["ops@example.com"]},
                "critical": {"email": ["oncall@example.com"]},
            },
            "approval": {"approvers": APPROVERS, "quorum": 1, "gate": {"thresholds": {"auc": {"min": 0.5}}}},
            "stages": [
                {
                    "name": "staging",
                    "endpoint": "fraud-staging",
                    "account": STAGING,
                    "strategy": "all-at-once",
                    "bake_seconds": 0,
                    # sent to the staging account's endpoint with its promotion role, before prod
                    "integration_test": {
                        "requests": [{"name": "echo", "body": {"x": 1}, "expect_status": 200}]
                    },
                },
                {
                    "name": "prod",
                    "endpoint": "fraud-prod",
                    "account": PROD,
                    "region": PROD_REGION,
                    "strategy": "canary",
                    "canary_percent": 25,
                    "rollback_alarms": ["fraud-prod-5xx"],
                },
            ],
        }
    }


PROD_ARN = f"arn:aws:sagemaker:{PROD_REGION}:{PROD}"
WHERE = f"account={PROD}&region={PROD_REGION}"


def serving_config(sb, workload, endpoint):
    d = sb.client("sagemaker", account=workload).describe_endpoint(EndpointName=endpoint)
    return d["EndpointStatus"], d["EndpointConfigName"]


def results(sb, function="record_lineage"):
    return [
        i["result"] for i in sb.invocations if i["function"] == function and isinstance(i.get("result"), dict)
    ]


def prod_history(sb):
    status, body = http(sb, "GET", f"/endpoints/fraud-prod/deployments?{WHERE}")
    assert status == 200, body
    return body


@pytest.fixture
def sb():
    with Sandbox(policy=policy(), workloads=WORKLOADS) as sandbox:
        yield sandbox


def test_a_registry_version_is_promoted_into_staging_then_prod_through_their_roles(sb):
    # Given a version registered in the registry account, when it is approved
    package = register(sb)
    approve(sb, package)
    # Then it serves in the staging account, then in the prod account (its region), deployed by promotion
    assert serving_config(sb, "staging", "fraud-staging")[0] == "InService"
    status, config = serving_config(sb, "prod", "fraud-prod")
    assert status == "InService" and config.startswith("fraud-v1-")
    model = sb.client("sagemaker", account="prod").describe_model(ModelName=config)
    assert model["PrimaryContainer"]["ModelPackageName"] == package  # exactly the registry's version
    assert model["ExecutionRoleArn"] == f"arn:aws:iam::{PROD}:role/steward-sandbox-sagemaker-execution"
    # And nothing of it exists in the registry account
    assert sb.client("sagemaker").list_endpoints()["Endpoints"] == []
    # And staging's integration test reached the staging account's endpoint before prod was touched
    status, staging = http(
        sb, "GET", f"/endpoints/fraud-staging/deployments?account={STAGING}&region=us-east-1"
    )
    assert staging["items"][0]["steward"]["integrationTest"]["passed"] is True
    # And each endpoint was tracked by its own account's forwarded events
    forwarded = {(f["workload"], f["forwarded"]) for f in sb.forwarding}
    assert forwarded == {("staging", True), ("prod", True)}
    assert sb.aws_calls["sts.AssumeRole"] >= 2


def test_the_prod_endpoint_has_the_whole_chain_described_through_the_read_role(sb):
    package = register(sb)
    approve(sb, package)
    config = serving_config(sb, "prod", "fraud-prod")[1]
    # Then lineage links package -> model -> endpoint config -> endpoint in prod, nothing degraded
    assert not any(r.get("degraded") for r in results(sb))
    edges = {(e["from"], e["relation"], e["to"]) for e in sb.lineage()["edges"]}
    model, endpoint_config = f"{PROD_ARN}:model/{config}", f"{PROD_ARN}:endpoint-config/{config}"
    assert (package.lower(), "instantiated-as", model) in edges
    assert (model, "used-by", endpoint_config) in edges
    assert (endpoint_config, "configures", f"{PROD_ARN}:endpoint/fraud-prod") in edges
    # And Steward's own deployment links the package to the endpoint as well
    deployment = next(
        t for (s, r, t) in edges if s == package.lower() and r == "deployed-as" and PROD_ARN in t
    )
    assert (deployment, "deployed-to", f"{PROD_ARN}:endpoint/fraud-prod") in edges
    # And upstream of the prod endpoint is the registry's version
    walk = sb.lineage(id=f"{PROD_ARN}:endpoint/fraud-prod", direction="upstream", depth=3)
    assert package.lower() in {n["id"] for n in walk["nodes"]}


def test_history_serving_and_rollback_answer_for_the_prod_account(sb):
    # Given v1 then v2 promoted to prod
    v1 = register(sb)
    approve(sb, v1)
    v2 = register(sb, artifact="s3://models/fraud/v2.tar.gz")
    approve(sb, v2)
    assert serving_config(sb, "prod", "fraud-prod")[1].startswith("fraud-v2-")
    between = datetime.now(UTC).isoformat()
    # When an operator rolls the prod account's endpoint back
    status, asked = http(sb, "POST", f"/endpoints/fraud-prod/rollback?{WHERE}", {"reason": "v2 drifts"})
    assert status == 202 and asked["endpoint"] == f"{PROD_ARN}:endpoint/fraud-prod"
    # Then v1 serves in prod again, through the prod account's role
    assert serving_config(sb, "prod", "fraud-prod")[1].startswith("fraud-v1-")
    history = prod_history(sb)
    assert history["endpoint"] == f"{PROD_ARN}:endpoint/fraud-prod"
    mine = [e["steward"] for e in history["items"] if e.get("steward")]
    assert [(d["kind"], d["version"], d["status"]) for d in mine] == [
        ("rollback", 1, "succeeded"),
        ("promotion", 2, "succeeded"),
        ("promotion", 1, "succeeded"),
    ]
    assert mine[0]["reason"] == "v2 drifts" and mine[0]["previousVersion"] == 2
    assert [v["version"] for v in history["items"][0]["versions"]] == [1]
    # And /serving answers what served at a time, for the prod account's endpoint
    status, then = http(sb, "GET", f"/endpoints/fraud-prod/serving?at={urllib.parse.quote(between)}&{WHERE}")
    assert status == 200 and then["modelPackages"] == [v2.lower()]
    status, now = http(sb, "GET", f"/endpoints/fraud-prod/serving?at=9998-01-01T00:00:00Z&{WHERE}")
    assert now["modelPackages"] == [v1.lower()]
    # And the registry account's endpoint of the same name is not it
    status, _ = http(sb, "GET", "/endpoints/fraud-prod/deployments")
    assert status == 404


def test_without_a_read_role_lineage_degrades_and_says_so_but_steward_s_deployments_still_link():
    with Sandbox(policy=policy(), workloads=WORKLOADS, parameters={"WorkloadReadRoleArns": ""}) as sb:
        package = register(sb)
        approve(sb, package)
        degraded = [d for r in results(sb) for d in r.get("degraded") or []]
        history = prod_history(sb)
        _, now = http(sb, "GET", f"/endpoints/fraud-prod/serving?at=9998-01-01T00:00:00Z&{WHERE}")
        graph = sb.lineage()
    # Then the prod endpoint's configs are recorded by name only, and the result says why
    assert any(f"endpoint in {PROD}/{PROD_REGION}: configs recorded by name only" in d for d in degraded)
    assert any("no read role for account" in d and "WorkloadReadRoleArns" in d for d in degraded)
    config = next(n for n in graph["nodes"] if n["kind"] == "endpoint-config" and PROD_ARN in n["id"])
    assert config["resolved"] is False
    # And Steward's own record still names the version that serves (no Describe needed)
    versions = history["items"][0]["versions"]
    assert [(v["modelPackageArn"], v["version"]) for v in versions] == [(package.lower(), 1)]
    assert versions[0]["fromDeployment"] == history["items"][0]["steward"]["deploymentId"]
    assert now["modelPackages"] == [package.lower()]
    edges = {(e["from"], e["relation"]) for e in graph["edges"]}
    assert (package.lower(), "deployed-as") in edges


def test_a_stage_in_an_account_without_a_promotion_role_is_refused_naming_the_parameter():
    roles = f"arn:aws:iam::{STAGING}:role/steward-promotion"  # staging only
    with Sandbox(policy=policy(), workloads=WORKLOADS, parameters={"WorkloadPromotionRoleArns": roles}) as sb:
        approve(sb, register(sb))
        assert serving_config(sb, "staging", "fraud-staging")[0] == "InService"
        refused = prod_history(sb)["requests"]
        assert sb.client("sagemaker", account="prod").list_endpoints()["Endpoints"] == []
    assert [(r["stage"], r["status"]) for r in refused] == [("prod", "refused")]
    assert f"no promotion role for account {PROD}" in refused[0]["failureReason"]
    assert "WorkloadPromotionRoleArns" in refused[0]["failureReason"]


def test_events_of_an_account_the_bus_policy_does_not_let_in_never_reach_steward():
    # Given Steward's bus lets only staging in
    with Sandbox(policy=policy(), workloads=WORKLOADS, parameters={"WorkloadAccountIds": STAGING}) as sb:
        approve(sb, register(sb))
        prod = [f for f in sb.forwarding if f["workload"] == "prod"]
        status, _ = serving_config(sb, "prod", "fraud-prod")
        history = prod_history(sb)
        # (the promotion sweep asks prod's SageMaker itself, through the prod account's role)
        swept = sb.run_schedules("promotion-sweep")[0]["targets"][0]["result"]
        after = prod_history(sb)["requests"]
    # Then prod's endpoint events stayed in prod: Steward recorded none, and waited on its deployment
    assert prod and not any(f["forwarded"] for f in prod)
    assert "bus policy" in prod[0]["reason"] and "WorkloadAccountIds" in prod[0]["reason"]
    assert status == "InService"
    assert history["items"] == []
    assert [(d["stage"], d["status"]) for d in history["requests"]] == [("prod", "started")]
    # until the sweep ended it from DescribeEndpoint in the prod account
    assert len(swept["ended"]) == 1 and [d["status"] for d in after] == ["succeeded"]


def test_a_role_only_trusts_the_function_it_is_for():
    # Given record_lineage pointed at the promotion roles, which trust promote_model only
    promotion_roles = (
        f"arn:aws:iam::{STAGING}:role/steward-promotion,arn:aws:iam::{PROD}:role/steward-promotion"
    )
    sb = Sandbox(policy=policy(), workloads=WORKLOADS, parameters={"WorkloadReadRoleArns": promotion_roles})
    with sb:
        approve(sb, register(sb))
        degraded = [d for r in results(sb) for d in r.get("degraded") or []]
        status, _ = serving_config(sb, "prod", "fraud-prod")
        denials = list(sb.iam.denials)
        sb.iam.usage.denials.clear()  # checked here: left, they fail the run when the sandbox stops
    # Then record_lineage may not assume them: recorded degraded, saying so; promotion's own role works
    assert any("cannot assume" in d and "AccessDenied" in d for d in degraded)
    assert denials and all(d["by"] == "trust policy" for d in denials)
    assert "RecordLineageFunctionRole" in denials[0]["message"]
    assert status == "InService"


def test_calls_made_with_an_assumed_role_are_that_roles_in_its_account():
    # Given the prod promotion role without its deploy statement (soft: the calls go on, denials noted)
    with Sandbox(policy=policy(), workloads=WORKLOADS, iam="soft") as sb:
        sb.iam.drop(f"arn:aws:iam::{PROD}:role/steward-promotion", "DeployUnderManagedPrefix")
        approve(sb, register(sb))
        denied = [d for d in sb.iam.denials if d["action"] == "sagemaker:CreateModel"]
    # Then the denial is the assumed role's in prod, not promote_model's own role
    assert denied
    assert f"arn:aws:sts::{PROD}:assumed-role/steward-promotion/steward-promotion" in denied[0]["message"]
    assert denied[0]["resource"].startswith(f"{PROD_ARN}:model/")


def test_the_cli_asks_about_and_rolls_back_a_workload_accounts_endpoint(sb, capsys):
    from steward_cli import main

    approve(sb, register(sb))
    approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
    where = ["--account", PROD, "--endpoint-region", PROD_REGION, "--api-url", sb.api_url]
    assert main(["rollback", "fraud-prod", "--reason", "v2 drifts", "--wait", "0", *where]) == 0
    capsys.readouterr()
    assert main(["deployments", "fraud-prod", "--json", *where]) == 0
    history = json.loads(capsys.readouterr().out)
    assert history["endpoint"] == f"{PROD_ARN}:endpoint/fraud-prod"
    assert history["items"][0]["steward"]["kind"] == "rollback"
    assert main(["deployments", "fraud-prod", "--at", "9998-01-01T00:00:00Z", "--json", *where]) == 0
    assert json.loads(capsys.readouterr().out)["versions"][0]["version"] == 1
    # Without saying where, the name is looked for in Steward's own account, where there is none
    assert main(["deployments", "fraud-prod", "--api-url", sb.api_url]) != 0
