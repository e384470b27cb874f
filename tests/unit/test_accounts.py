"""Multi-account, the pure parts: which role reaches which account, where a stage's endpoint is, and who
describes a forwarded endpoint's configs."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from steward.events import parse_event
from steward.kernel.settings import Settings, roles_by_account
from steward.lineage.extract import EndpointConfigFacts, ModelFacts
from steward.lineage.record import record_lineage
from steward.policy import Stage
from steward.promotion import plan
from steward.promotion.service import Deps, stage_endpoint_arn
from tests.conftest import load

PROD = "222222222222"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"


def test_workload_roles_are_one_per_account():
    roles = roles_by_account(
        f" arn:aws:iam::{PROD}:role/steward-lineage-read,,arn:aws:iam::111111111111:role/r "
    )
    assert roles == {
        PROD: f"arn:aws:iam::{PROD}:role/steward-lineage-read",
        "111111111111": "arn:aws:iam::111111111111:role/r",
    }
    assert roles_by_account("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("arn:aws:iam::22:role/x", "is not an IAM role ARN"),
        ("steward-lineage-read", "is not an IAM role ARN"),
        (f"arn:aws:iam::{PROD}:role/a,arn:aws:iam::{PROD}:role/b", "one role per workload account"),
    ],
)
def test_a_malformed_role_list_is_a_misconfiguration_that_fails_fast(value, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"WORKLOAD_READ_ROLE_ARNS": value})


def test_the_execution_role_in_another_account_is_the_role_of_the_same_name_there():
    role = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-1"
    assert plan.execution_role(role, "123456789012") == role
    assert (
        plan.execution_role(role, PROD)
        == f"arn:aws:iam::{PROD}:role/service-role/AmazonSageMaker-ExecutionRole-1"
    )


def deps(default_account=None):
    return Deps(None, None, None, None, None, "", default_account=default_account)  # type: ignore[arg-type]


def test_a_stages_endpoint_is_where_the_stage_says_else_the_target_roles_account_else_the_registrys():
    assert stage_endpoint_arn(PACKAGE, Stage(name="prod", endpoint="Churn-Prod"), deps()) == (
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod"
    )
    assert stage_endpoint_arn(PACKAGE, Stage(name="prod", endpoint="churn-prod"), deps("333333333333")) == (
        "arn:aws:sagemaker:us-east-1:333333333333:endpoint/churn-prod"
    )
    stage = Stage(name="prod", endpoint="churn-prod", account=PROD, region="eu-west-1")
    assert stage_endpoint_arn(PACKAGE, stage, deps("333333333333")) == (
        f"arn:aws:sagemaker:eu-west-1:{PROD}:endpoint/churn-prod"
    )


@pytest.mark.parametrize("field", [{"account": "2222"}, {"region": "Europe"}])
def test_a_stage_location_is_validated(field):
    with pytest.raises(ValidationError):
        Stage(name="prod", endpoint="churn-prod", **field)


class FakeStore:
    def __init__(self):
        self.applied = []

    def get_nodes(self, ids):
        return {}

    def get_nodes_for_event(self, ids, event_id):
        return {}, False

    def apply(self, change):
        self.applied.append(change)
        return "recorded"


class FakeSageMaker:
    def __init__(self, account):
        self.account, self.asked = account, []

    def describe_endpoint_config(self, name):
        self.asked.append(name)
        arn = f"arn:aws:sagemaker:us-east-1:{self.account}"
        model = ModelFacts(name=name, arn=f"{arn}:model/{name}", model_package_arn=PACKAGE)
        return EndpointConfigFacts(name=name, arn=f"{arn}:endpoint-config/{name}", models=[model])

    def describe_model(self, name):
        raise AssertionError("not asked")


def prod_endpoint_event(region="us-east-1", account=PROD):
    event = copy.deepcopy(load("endpoint/in_service.json"))
    event["account"], event["region"] = account, region
    event["detail"]["EndpointArn"] = f"arn:aws:sagemaker:{region}:{account}:endpoint/churn-prod"
    return parse_event(event)


def test_a_forwarded_endpoint_is_described_with_its_accounts_reader():
    home, theirs = FakeSageMaker("123456789012"), FakeSageMaker(PROD)
    store = FakeStore()
    outcome = record_lineage(
        prod_endpoint_event(),
        store,
        home,
        home=("us-east-1", "123456789012"),
        elsewhere=lambda account, region: theirs if (account, region) == (PROD, "us-east-1") else None,
    )
    assert outcome.degraded == () and home.asked == [] and theirs.asked == ["churn-prod-v3-5d1c"]
    edges = {(e.source, e.relation.value) for e in store.applied[0].edges}
    assert (PACKAGE, "instantiated-as") in edges


def test_without_a_reader_a_forwarded_endpoint_is_recorded_by_name_saying_why():
    home = FakeSageMaker("123456789012")
    other_account = record_lineage(
        prod_endpoint_event(), FakeStore(), home, home=("us-east-1", "123456789012")
    )
    assert other_account.degraded == (
        f"endpoint in {PROD}/us-east-1: configs recorded by name only "
        f"(no read role for account {PROD}: template parameter WorkloadReadRoleArns)",
    )
    other_region = record_lineage(
        prod_endpoint_event("eu-west-1", "123456789012"),
        FakeStore(),
        home,
        home=("us-east-1", "123456789012"),
        elsewhere=lambda account, region: None,
    )
    assert "another region of this account" in other_region.degraded[0]
    assert home.asked == []
