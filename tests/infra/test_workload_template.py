"""workload-account.yaml, what a user deploys in each workload account: least privilege, and forwarding
every event Steward's rules listen to (cfn-lint runs on it with template.yaml, test_template.py)."""

from __future__ import annotations

from functools import cache

import pytest
from samtranslator.yaml_helper import yaml_parse

from sandbox.accounts import WORKLOAD_TEMPLATE
from sandbox.patterns import matches
from tests.conftest import all_event_files, load
from tests.infra.test_template import resources as steward_resources

pytestmark = pytest.mark.infra


@cache
def template() -> dict:
    return yaml_parse(WORKLOAD_TEMPLATE.read_text())


def of_type(kind: str) -> dict[str, dict]:
    return {k: v for k, v in template()["Resources"].items() if v["Type"] == kind}


def statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def test_each_role_steward_assumes_trusts_one_function_of_stewards_account():
    trusted = {
        "LineageReadRole": "RecordLineageFunctionRole",
        "PromotionRole": "PromoteModelFunctionRole",
    }
    for logical, function_role in trusted.items():
        (trust,) = of_type("AWS::IAM::Role")[logical]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {
            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${StewardAccountId}:root"}
        }
        assert trust["Action"] == "sts:AssumeRole"
        (arn,) = trust["Condition"]["ArnLike"].values()
        assert arn["Fn::Sub"].endswith(f":role/${{StewardStackName}}-{function_role}*"), logical


def test_the_read_role_can_only_describe_configs_and_models_of_its_account():
    (statement,) = statements(of_type("AWS::IAM::Role")["LineageReadRole"])
    assert statement["Action"] == ["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"]
    for resource in statement["Resource"]:
        assert ":${AWS::Region}:${AWS::AccountId}:" in resource["Fn::Sub"]


def test_the_promotion_role_writes_only_under_the_prefix_and_passes_one_role():
    found = {s["Sid"]: s for s in statements(of_type("AWS::IAM::Role")["PromotionRole"])}
    for sid in ("ReadManagedEndpoints", "DeployUnderManagedPrefix", "IntegrationTests", "RegistryPackages"):
        for resource in listed(found[sid]["Resource"]):
            assert resource["Fn::Sub"].endswith("/${ManagedNamePrefix}*"), sid
    pass_role = found["PassOnlyTheExecutionRole"]
    assert pass_role["Action"] == ["iam:PassRole"]
    assert pass_role["Resource"]["Fn::Sub"].endswith(":role/${ModelExecutionRoleName}")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert of_type("AWS::IAM::Role")["PromotionRole"]["Condition"] == "HasPromotionRole"


def test_events_are_forwarded_to_stewards_default_bus_with_a_role_that_may_only_put_them_there():
    (put,) = statements(of_type("AWS::IAM::Role")["ForwardingRole"])
    bus = "arn:${AWS::Partition}:events:${StewardRegion}:${StewardAccountId}:event-bus/default"
    assert put["Action"] == ["events:PutEvents"] and put["Resource"] == {"Fn::Sub": bus}
    for name, rule in of_type("AWS::Events::Rule").items():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::Sub": bus}, name
        assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardingRole", "Arn"]}, name


def test_every_event_stewards_rules_listen_to_is_forwarded():
    steward = [
        r["Properties"]["EventPattern"]
        for r in steward_resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern")
    ]
    forwarding = [r["Properties"]["EventPattern"] for r in of_type("AWS::Events::Rule").values()]
    heard = 0
    for path in all_event_files():
        event = load(str(path.relative_to(path.parents[1])))
        if any(matches(p, event) for p in steward):
            heard += 1
            assert any(matches(p, event) for p in forwarding), (
                f"{path.name} would stay in the workload account"
            )
    assert heard > 30


def test_only_the_two_functions_that_need_a_workload_role_may_assume_one():
    assumes = {}
    for name, role in steward_resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies") or []:
            for statement in policy["PolicyDocument"]["Statement"]:
                inner = statement["Fn::If"][1] if "Fn::If" in statement else statement
                if "sts:AssumeRole" in listed(inner.get("Action", [])):
                    assumes.setdefault(name, []).append(inner["Resource"])
    assert assumes == {
        "RecordLineageFunctionRole": [{"Ref": "WorkloadReadRoleArns"}],
        "PromoteModelFunctionRole": [{"Ref": "TargetAccountRoleArn"}, {"Ref": "WorkloadPromotionRoleArns"}],
    }
