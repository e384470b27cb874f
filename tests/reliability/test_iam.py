"""No IAM statement of the stack allows every action, or SageMaker writes on every resource.

tests/infra/test_template.py::test_no_iam_statement_allows_every_action_or_writes_on_every_resource
checks the roles' plain statements. This one also reads what that one passes over: statements behind
`Fn::If` (both branches), `NotAction` / `NotResource` (an Allow of "everything but"), wildcarded action
names (`sagemaker:Create*`), resources that are an ARN of nothing but wildcards, managed policies, and
resource policies (queues, topics, the event bus) open to any principal without a condition.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.test_template import cfn

SAGEMAKER_WRITES = ("Create", "Update", "Delete", "Add", "Start", "Stop", "Put", "Register", "Associate")
READS = ("Describe", "Get", "List", "BatchGet", "Query", "Search", "Scan")
BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AmazonSageMakerFullAccess")
_SUB = re.compile(r"\$\{[^}]+\}")


def _branches(value: Any) -> Iterator[Any]:
    """A value, or each branch of an Fn::If (AWS::NoValue dropped), recursively."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif not (isinstance(value, dict) and value.get("Ref") == "AWS::NoValue"):
        yield value


def _listed(value: Any) -> list[Any]:
    return [v for item in (value if isinstance(value, list) else [value]) for v in _branches(item)]


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template["Resources"].items():
        props = resource.get("Properties") or {}
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument") for p in _listed(props.get("Policies") or [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy",
                                  "AWS::SNS::TopicPolicy"):  # fmt: skip
            documents = [props.get("PolicyDocument")]
        elif resource["Type"] == "AWS::Events::EventBusPolicy":
            documents = [{"Statement": props.get("Statement")}] if props.get("Statement") else []
        for document in documents:
            for statement in _listed((document or {}).get("Statement") or []):
                if isinstance(statement, dict):
                    yield name, statement


def _text(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return _SUB.sub("x", sub[0] if isinstance(sub, list) else sub)
    return value if isinstance(value, str) else "<ref>"  # a Ref or GetAtt names one resource


def _everything(resource: Any) -> bool:
    text = _text(resource)
    return text == "*" or bool(re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", text))


def problems_of(name: str, statement: dict[str, Any]) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    found = []
    if "NotAction" in statement or "NotResource" in statement:
        found.append(f"{name}: Allow with NotAction/NotResource grants everything but a list")
    actions = [_text(a) for a in _listed(statement.get("Action") or [])]
    resources = _listed(statement.get("Resource") or [])
    everywhere = any(_everything(r) for r in resources)
    for action in actions:
        service, _, operation = action.partition(":")
        if action == "*" or operation == "*":
            found.append(f"{name}: {action} allows every action")
        if everywhere and not operation.startswith(READS):
            found.append(f"{name}: {action} on every resource")
        writes = [w + "*" for w in SAGEMAKER_WRITES]
        if service == "sagemaker" and everywhere and any(fnmatch.fnmatch(operation, w) or
                                                         fnmatch.fnmatch(w, operation) for w in writes):  # fmt: skip
            found.append(f"{name}: SageMaker write {action} on every resource")
    principal = statement.get("Principal")
    if principal in ("*", {"AWS": "*"}) and not statement.get("Condition"):
        found.append(f"{name}: open to any principal without a condition")
    return found


def test_no_statement_allows_every_action_or_sagemaker_writes_on_every_resource():
    template = cfn()
    checked = list(statements(template))
    assert len(checked) >= 30  # the roles' statements, conditional ones included, and resource policies
    assert any("Fn::If" in str(r.get("Properties")) for r in template["Resources"].values())
    problems = [p for name, statement in checked for p in problems_of(name, statement)]
    assert problems == []


def test_no_role_has_a_broad_managed_policy():
    for name, resource in cfn()["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in _listed(resource["Properties"].get("ManagedPolicyArns") or []):
                assert not any(_text(arn).endswith("/" + broad) for broad in BROAD_MANAGED), (name, arn)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": ["sqs:*"], "Resource": "arn:aws:sqs:us-east-1:1:q"},
        {"Effect": "Allow", "Action": "sagemaker:CreateEndpoint", "Resource": "*"},
        {"Effect": "Allow", "Action": "sagemaker:Update*", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:*"}},
        {"Effect": "Allow", "Action": "sagemaker:*Endpoint", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:1:q", "Principal": "*"},
    ],
)  # fmt: skip
def test_the_check_finds_what_it_is_for(statement):
    conditional = {"Fn::If": ["SomeCondition", statement, {"Ref": "AWS::NoValue"}]}
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [conditional]}}]}}
        }
    }  # fmt: skip
    assert [p for name, s in statements(template) for p in problems_of(name, s)]
