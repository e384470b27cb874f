"""The IAM evaluation rules the sandbox implements (README "IAM in the sandbox", the rules table): one test
per rule, named in the table. tests/unit/test_iam_oracle.py checks the same evaluator against an
independent IAM simulator on generated statement/request pairs."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from sandbox.iam import (
    MANAGED_POLICIES,
    IamError,
    check_keys,
    evaluate,
    request,
    roles_of,
    statements_of,
)

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/steward-local-lineage"
OBJECT = "arn:aws:s3:::steward-reports/models/churn/v3/metrics.json"
LOG_STREAM = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/notify:log-stream:2026/11/27/x"


def statements(*raw: dict[str, Any]) -> list[Any]:
    return statements_of({"Statement": list(raw)}, "TestPolicy")


def allow(action: Any = "dynamodb:GetItem", resource: Any = TABLE, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def verdict(
    raw: list[dict[str, Any]], action: str = "dynamodb:GetItem", resource: str = TABLE, **context: Any
) -> str:
    decision = evaluate(statements(*raw), request(action, resource, **context))
    return "allowed" if decision.allowed else "explicit deny" if decision.denied_by else "implicit deny"


# --- the decision ----------------------------------------------------------------------------------------


def test_no_statement_that_matches_is_an_implicit_deny():
    assert verdict([]) == "implicit deny"
    assert verdict([allow(action="dynamodb:PutItem")]) == "implicit deny"
    assert verdict([allow(resource=TABLE + "-other")]) == "implicit deny"


def test_a_matching_allow_allows_and_names_the_grant():
    decision = evaluate(statements(allow(Sid="Read")), request("dynamodb:GetItem", TABLE))
    assert decision.allowed
    assert decision.grants == (("TestPolicy/Read", "dynamodb:GetItem", TABLE),)


@pytest.mark.parametrize("deny_first", [True, False])
def test_an_explicit_deny_wins_over_any_allow_in_any_order(deny_first):
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*", "Sid": "NoDynamo"}
    raw = [deny, allow()] if deny_first else [allow(), deny]
    decision = evaluate(statements(*raw), request("dynamodb:GetItem", TABLE))
    assert not decision.allowed
    assert decision.denied_by is not None and decision.denied_by.sid == "NoDynamo"


def test_a_deny_that_does_not_match_leaves_the_allow():
    deny = {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}
    assert verdict([deny, allow()]) == "allowed"


def test_any_listed_action_or_resource_matches():
    raw = [allow(action=["dynamodb:PutItem", "dynamodb:GetItem"], resource=[TABLE + "-x", TABLE])]
    assert verdict(raw) == "allowed"
    assert verdict(raw, action="dynamodb:Query") == "implicit deny"


@pytest.mark.parametrize(
    ("effect", "action", "expected"),
    [
        ("Allow", "dynamodb:PutItem", "allowed"),  # not listed: the statement applies
        ("Allow", "dynamodb:DeleteItem", "implicit deny"),  # listed: it does not
        ("Deny", "dynamodb:PutItem", "explicit deny"),
        ("Deny", "dynamodb:DeleteItem", "allowed"),
    ],
)
def test_not_action_applies_to_every_action_but_those_listed(effect, action, expected):
    raw = [allow(action="dynamodb:*")] if effect == "Deny" else []
    raw.append({"Effect": effect, "NotAction": ["dynamodb:DeleteItem", "dynamodb:Scan"], "Resource": TABLE})
    assert verdict(raw, action=action) == expected


def test_not_action_still_needs_its_resource():
    raw = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": TABLE}]
    assert verdict(raw, action="dynamodb:PutItem", resource=TABLE + "-other") == "implicit deny"


@pytest.mark.parametrize(
    ("effect", "resource", "expected"),
    [
        ("Allow", TABLE, "allowed"),
        ("Allow", TABLE + "/index/gsi1", "implicit deny"),
        ("Deny", TABLE, "explicit deny"),
        ("Deny", TABLE + "/index/gsi1", "allowed"),
    ],
)
def test_not_resource_applies_to_every_resource_but_those_listed(effect, resource, expected):
    raw = [allow(action="dynamodb:*", resource="*")] if effect == "Deny" else []
    raw.append({"Effect": effect, "Action": "dynamodb:*", "NotResource": f"{TABLE}/index/*"})
    assert verdict(raw, action="dynamodb:Query", resource=resource) == expected


# --- actions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("s3:GetObject", True),
        ("S3:GETOBJECT", True),  # action names are case-insensitive, service prefix included
        ("s3:getobject", True),
        ("s3:Get*", True),
        ("s3:*Object", True),
        ("s3:G?tObject", True),
        ("s3:*", True),
        ("*", True),
        ("s3:Get", False),  # no prefix match without a wildcard
        ("s3:GetObject?", False),  # `?` is exactly one character
        ("s3:GetObjectVersion", False),
        ("s3express:*", False),
        ("s??:GetObject", False),  # `?` is one character, never none
    ],
)
def test_action_wildcards_and_case_insensitive_names(pattern, matches):
    raw = [allow(action=pattern, resource="*")]
    assert (verdict(raw, action="s3:GetObject", resource=OBJECT) == "allowed") is matches


# --- resources ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("*", LOG_STREAM, True),
        ("arn:aws:s3:::steward-reports/*", OBJECT, True),  # `*` crosses `/` in the resource segment
        ("arn:aws:s3:::steward-reports/models/*/metrics.json", OBJECT, True),
        ("arn:aws:s3:::steward-reports/models/churn/v?/metrics.json", OBJECT, True),
        ("arn:aws:s3:::steward-reports/models/churn/v??/metrics.json", OBJECT, False),
        ("arn:aws:s3:::steward-*", OBJECT, True),  # S3 ARNs have no resource type: the bucket may be wild
        (f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/*", LOG_STREAM, True),  # and `:` too
        (f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/notify", LOG_STREAM, False),
        (f"{TABLE}/index/*", TABLE + "/index/gsi1", True),
        (f"{TABLE}/index/*", TABLE, False),  # the table is not one of its indexes
        (f"{TABLE}*", TABLE + "/index/gsi1", True),
    ],
)
def test_resource_wildcards_cross_slashes_and_colons_in_the_resource_segment(pattern, resource, matches):
    assert (verdict([allow(action="*", resource=pattern)], resource=resource) == "allowed") is matches


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        (TABLE, True),
        (TABLE.replace("steward-local-lineage", "Steward-Local-Lineage"), False),
        ("arn:aws:s3:::Steward-reports/*", False),
    ],
)
def test_resources_are_case_sensitive(pattern, matches):
    resource = OBJECT if pattern.startswith("arn:aws:s3") else TABLE
    assert (verdict([allow(action="*", resource=pattern)], resource=resource) == "allowed") is matches


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        (f"arn:aws:dynamodb:*:{ACCOUNT}:table/steward-local-lineage", True),
        (f"arn:aws:dynamodb:us-east-?:{ACCOUNT}:table/steward-local-lineage", True),
        # `?` stays in its segment
        (f"arn:aws:dynamodb:us-east-??:{ACCOUNT}:table/steward-local-lineage", False),
        (f"arn:aws:dynamodb:us-*-1:{ACCOUNT}:table/steward-local-lineage", True),
        ("arn:aws:dynamodb:us*1:table/steward-local-lineage", False),  # a `*` inside a segment stays there
        ("arn:aws:dynamodb:us-east-*", True),  # a `*` ending a segment may run past the colons
        ("arn:aws:dynamo*:table/steward-local-lineage", True),  # (IAM's documented rule; see the oracle test)
        ("arn:aws:dynamodb:us-east-1:999999999999:*", False),
        ("arn:aws:sqs:*", False),
    ],
)
def test_wildcards_in_the_first_five_segments_stay_in_their_segment_unless_they_end_it(pattern, matches):
    assert (verdict([allow(action="*", resource=pattern)]) == "allowed") is matches


@pytest.mark.parametrize(
    "pattern",
    [
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:tab*/steward-local-lineage",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:*/steward-local-lineage",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:t?ble/steward-local-lineage",
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log*group:/aws/lambda/notify:log-stream:2026/11/27/x",
    ],
)
def test_a_wildcard_in_the_resource_type_matches_nothing(pattern):
    resource = LOG_STREAM if ":logs:" in pattern else TABLE
    assert verdict([allow(action="*", resource=pattern)], resource=resource) == "implicit deny"
    # and so a NotResource with it excludes nothing
    raw = [{"Effect": "Allow", "Action": "*", "NotResource": pattern}]
    assert verdict(raw, resource=resource) == "allowed"


# --- conditions --------------------------------------------------------------------------------------------

SOURCE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/steward-local-notify"


def conditioned(condition: dict[str, Any], effect: str = "Allow") -> list[dict[str, Any]]:
    statement = {"Effect": effect, "Action": "*", "Resource": "*", "Condition": condition}
    return [statement] if effect == "Allow" else [allow(action="*", resource="*"), statement]


def holds(condition: dict[str, Any], **context: Any) -> bool:
    return verdict(conditioned(condition), **context) == "allowed"


def test_condition_values_are_ored_keys_and_operators_anded():
    team = {"aws:PrincipalTag/team": ["ml", "data"]}
    assert holds({"StringEquals": team}, **{"aws:PrincipalTag/team": "data"})  # any value of one key
    both_keys = {"StringEquals": {**team, "aws:RequestedRegion": "us-east-1"}}
    assert holds(both_keys, **{"aws:PrincipalTag/team": "ml", "aws:RequestedRegion": "us-east-1"})
    assert not holds(both_keys, **{"aws:PrincipalTag/team": "ml", "aws:RequestedRegion": "eu-west-1"})
    both_operators = {"StringEquals": team, "Bool": {"aws:SecureTransport": "true"}}
    assert holds(both_operators, **{"aws:PrincipalTag/team": "ml", "aws:SecureTransport": "true"})
    assert not holds(both_operators, **{"aws:PrincipalTag/team": "ml", "aws:SecureTransport": "false"})


def test_a_deny_whose_condition_does_not_hold_does_not_deny():
    raw = conditioned({"Bool": {"aws:SecureTransport": "false"}}, effect="Deny")
    assert verdict(raw, **{"aws:SecureTransport": "true"}) == "allowed"
    assert verdict(raw, **{"aws:SecureTransport": "false"}) == "explicit deny"


def test_condition_key_names_are_case_insensitive_and_their_values_are_not():
    assert holds({"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "ml"}}, **{"aws:PrincipalTag/team": "ml"})
    assert not holds({"StringEquals": {"aws:PrincipalTag/team": "ML"}}, **{"aws:PrincipalTag/team": "ml"})


@pytest.mark.parametrize(
    ("operator", "key", "wanted", "value", "expected"),
    [
        ("StringEquals", "aws:PrincipalTag/team", "ml-platform", "ml-platform", True),
        ("StringEquals", "aws:PrincipalTag/team", "ml-*", "ml-platform", False),  # no wildcards
        ("StringNotEquals", "aws:PrincipalTag/team", "data", "ml-platform", True),
        ("StringNotEquals", "aws:PrincipalTag/team", "ml-platform", "ml-platform", False),
        ("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "ML-Platform", "ml-platform", True),
        ("StringNotEqualsIgnoreCase", "aws:PrincipalTag/team", "ML-Platform", "ml-platform", False),
        ("StringLike", "aws:PrincipalTag/team", "ml-*", "ml-platform", True),
        ("StringLike", "aws:PrincipalTag/team", "ml-platfor?", "ml-platform", True),
        ("StringLike", "aws:PrincipalTag/team", "ML-*", "ml-platform", False),  # case-sensitive
        ("StringLike", "aws:userid", "AROA*:*", "AROASANDBOX:notify/run", True),  # `*` crosses `:` and `/`
        ("StringLike", "aws:PrincipalTag/team", "[ml]-platform", "m-platform", False),  # `[` is a character
        ("StringNotLike", "aws:PrincipalTag/team", "data*", "ml-platform", True),
        ("ArnEquals", "aws:SourceArn", SOURCE, SOURCE, True),
        ("ArnLike", "aws:SourceArn", f"arn:aws:events:*:{ACCOUNT}:rule/steward-*", SOURCE, True),
        (
            "ArnLike",
            "aws:SourceArn",
            f"arn:aws:events:us-east-1:{ACCOUNT}:rule/steward-local-notif?",
            SOURCE,
            True,
        ),
        ("ArnLike", "aws:SourceArn", "arn:aws:events:*", SOURCE, False),  # six components, each on its own
        ("ArnLike", "aws:SourceArn", "arn:aws:events:us-*:rule/steward-local-notify", SOURCE, False),
        ("ArnNotEquals", "aws:SourceArn", SOURCE, SOURCE, False),
        ("ArnNotLike", "aws:SourceArn", "arn:aws:events:*:999999999999:rule/*", SOURCE, True),
        ("ArnLike", "aws:SourceArn", "arn:aws:events:*:*:*", "not-an-arn", False),
        ("NumericEquals", "aws:MultiFactorAuthAge", "300", "300.0", True),
        ("NumericNotEquals", "aws:MultiFactorAuthAge", "300", "301", True),
        ("NumericLessThan", "aws:MultiFactorAuthAge", "3600", "300", True),
        ("NumericLessThanEquals", "aws:MultiFactorAuthAge", "300", "300", True),
        ("NumericGreaterThan", "aws:MultiFactorAuthAge", "3600", "300", False),
        ("NumericGreaterThanEquals", "aws:MultiFactorAuthAge", "300", "300", True),
        ("NumericLessThan", "aws:MultiFactorAuthAge", "3600", "soon", False),  # not a number: no match
        ("DateEquals", "aws:CurrentTime", "2026-11-27T03:01:22Z", "2026-11-27T04:01:22+01:00", True),
        ("DateNotEquals", "aws:CurrentTime", "2026-11-27T03:01:22Z", "2026-11-27T03:01:23Z", True),
        ("DateLessThan", "aws:CurrentTime", "2027-01-01", "2026-11-27T03:01:22Z", True),  # a date alone
        ("DateLessThanEquals", "aws:CurrentTime", "2026-11-27T03:01:22Z", "2026-11-27T03:01:22Z", True),
        ("DateGreaterThan", "aws:CurrentTime", "2027-01-01T00:00:00Z", "2026-11-27T03:01:22Z", False),
        ("DateGreaterThanEquals", "aws:EpochTime", "1795748482", "1795748482", True),
        ("DateEquals", "aws:EpochTime", "2026-11-27T03:01:22Z", "1795748482", True),  # epoch seconds = ISO
        ("DateLessThan", "aws:CurrentTime", "2027-01-01", "yesterday", False),  # not a date: no match
        ("Bool", "aws:SecureTransport", "true", "true", True),
        ("Bool", "aws:SecureTransport", "true", "TRUE", True),
        ("Bool", "aws:SecureTransport", "true", "false", False),
        ("Bool", "aws:SecureTransport", True, "true", True),  # YAML's true reads as "true"
    ],
)
def test_condition_operator(operator, key, wanted, value, expected):
    assert holds({operator: {key: wanted}}, **{key: value}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),  # a missing key: a positive operator is false
        ("StringLike", False),
        ("ArnLike", False),
        ("NumericLessThan", False),
        ("DateLessThan", False),
        ("Bool", False),
        ("StringNotEquals", True),  # and a negated one true
        ("ArnNotLike", True),
        ("NumericNotEquals", True),
        ("StringEqualsIfExists", True),  # IfExists: true when the key is missing
        ("BoolIfExists", True),
        ("StringNotEqualsIfExists", True),
    ],
)
def test_a_missing_key(operator, expected):
    value = {"Bool": "true", "Numeric": "1", "Date": "2027-01-01", "Arn": SOURCE}
    wanted = next((v for prefix, v in value.items() if operator.startswith(prefix)), "x")
    assert holds({operator: {"aws:PrincipalTag/team": wanted}}) is expected


def test_null_checks_whether_the_key_is_there():
    assert holds({"Null": {"aws:PrincipalTag/team": "true"}})
    assert not holds({"Null": {"aws:PrincipalTag/team": "true"}}, **{"aws:PrincipalTag/team": "ml"})
    assert holds({"Null": {"aws:PrincipalTag/team": "false"}}, **{"aws:PrincipalTag/team": "ml"})
    assert not holds({"Null": {"aws:PrincipalTag/team": "false"}})


@pytest.mark.parametrize(
    ("operator", "wanted", "tag_keys", "expected"),
    [
        ("ForAnyValue:StringEquals", ["team"], ["team", "cost-center"], True),  # one request value matches
        ("ForAnyValue:StringEquals", ["owner"], ["team", "cost-center"], False),
        ("ForAnyValue:StringEquals", ["team"], [], False),  # empty: false
        ("ForAnyValue:StringEquals", ["team"], None, False),  # missing: false
        ("ForAnyValue:StringEqualsIfExists", ["team"], None, False),  # and IfExists does not change that
        ("ForAnyValue:StringNotEquals", ["team"], ["team", "cost-center"], True),  # some value is not "team"
        ("ForAnyValue:StringLike", ["cost-*"], ["team", "cost-center"], True),
        ("ForAllValues:StringEquals", ["team", "cost-center"], ["team"], True),  # every value is listed
        ("ForAllValues:StringEquals", ["team"], ["team", "cost-center"], False),
        ("ForAllValues:StringEquals", ["team"], [], True),  # empty: true
        ("ForAllValues:StringEquals", ["team"], None, True),  # missing: true
        ("ForAllValues:StringNotEquals", ["owner"], ["team", "cost-center"], True),
        ("ForAllValues:StringLike", ["t*", "c*"], ["team", "cost-center"], True),
        ("ForAllValues:StringEqualsIgnoreCase", ["TEAM"], ["team"], True),
    ],
)
def test_set_operators_on_a_multivalued_key(operator, wanted, tag_keys, expected):
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert holds({operator: {"aws:TagKeys": wanted}}, **context) is expected


def test_a_set_operator_on_a_single_valued_key_treats_it_as_a_set_of_one():
    assert holds(
        {"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": "ml"}}, **{"aws:PrincipalTag/team": "ml"}
    )
    assert holds(
        {"ForAllValues:StringLike": {"aws:PrincipalTag/team": "m*"}}, **{"aws:PrincipalTag/team": "ml"}
    )


@pytest.mark.parametrize("operator", ["StringEquals", "StringNotEquals", "StringLike"])
def test_a_multivalued_key_needs_a_set_operator(operator):
    # Without ForAnyValue/ForAllValues no operator matches a multivalued key (evaluated as IAM does) ...
    assert not holds({operator: {"aws:TagKeys": "team"}}, **{"aws:TagKeys": ["team"]})
    # ... and a template that writes one is refused when it loads, rather than carry a dead condition
    with pytest.raises(IamError, match="multivalued"):
        check_keys(statements(conditioned({operator: {"aws:TagKeys": "team"}})[0]), "Role")


# --- what the loader refuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        allow(resource="arn:aws:s3:::steward-reports/${aws:username}/*"),
        allow(
            resource=f"{TABLE}",
            Condition={"StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/x}"}},
        ),
    ],
)
def test_policy_variables_are_refused_when_the_template_loads(statement):
    with pytest.raises(IamError, match="policy variable"):
        statements(statement)


@pytest.mark.parametrize(
    "operator",
    [
        "IpAddress",
        "NotIpAddress",
        "BinaryEquals",
        "StringEqualz",
        "ForSomeValues:StringEquals",
        "ArnLikeIfExist",
    ],
)
def test_an_operator_the_sandbox_does_not_evaluate_is_refused_when_the_template_loads(operator):
    with pytest.raises(IamError, match="condition operator"):
        statements(allow(Condition={operator: {"aws:SourceIp": "10.0.0.0/8"}}))


def test_a_condition_key_the_sandbox_does_not_set_is_refused_when_the_template_loads():
    check_keys(
        statements(allow(Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})),
        "Role",
    )
    check_keys(statements(allow(Condition={"StringEquals": {"aws:RequestTag/team": "ml"}})), "Role")
    with pytest.raises(IamError, match="aws:sourcevpce"):
        check_keys(statements(allow(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})), "Role")


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"Effect": "Permit", "Action": "*", "Resource": "*"}, "Effect"),
        ({"Effect": "Allow", "Action": "*", "NotAction": "iam:*", "Resource": "*"}, "exactly one"),
        ({"Effect": "Allow", "Resource": "*"}, "exactly one"),
        ({"Effect": "Allow", "Action": "*"}, "exactly one"),
    ],
)
def test_a_malformed_statement_is_refused_when_the_template_loads(statement, message):
    with pytest.raises(IamError, match=message):
        statements(statement)


class _Resolver:
    """What roles_of needs of the sandbox's resolver: values as they are, and the role's name."""

    physical: ClassVar[dict[str, Any]] = {"FnRole": {"Ref": "steward-local-FnRole"}}

    def resolve(self, value: Any) -> Any:
        return value


def _role(managed: list[str]) -> dict[str, Any]:
    return {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}},
            },
            "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": managed}},
        }
    }


def test_an_unknown_managed_policy_is_refused_and_a_known_one_is_its_published_document():
    class Spec:
        name = "fn"

    known = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    role = roles_of(_role([known]), _Resolver(), {"Fn": Spec()})["Fn"]
    assert [s.actions for s in role.statements] == [tuple(MANAGED_POLICIES[known]["Statement"][0]["Action"])]
    with pytest.raises(IamError, match="AmazonSageMakerFullAccess"):
        roles_of(_role(["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]), _Resolver(), {"Fn": Spec()})
