"""Generated IAM statement/request pairs for the oracle cross-check (tests/unit/test_iam_oracle.py).

Each case is one role's statements and one request in the role's account: the request's action and
resource come from the calls Steward makes, the statements from patterns derived from them (exact,
wildcarded, cut short, one character changed, another action or account) and from conditions on global
keys of every type the evaluator supports. A seed fixes the whole set.
"""

from __future__ import annotations

import random
from typing import Any

ACCOUNT = "123456789012"
# (action, resource) pairs as Steward's calls produce them; the resource segment of the logs ARN holds
# colons, the secret's a random suffix, the index's slashes.
CALLS = [
    ("s3:GetObject", "arn:aws:s3:::steward-reports/models/churn/v3/metrics.json"),
    ("s3:ListBucket", "arn:aws:s3:::sagemaker-us-east-1-monitoring"),
    ("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/steward-local-lineage/index/gsi1"),
    ("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/steward-local-lineage"),
    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:steward-local-notifications"),
    ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod"),
    ("sagemaker:UpdateModelPackage", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn-models/3"),
    ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:steward/local/slack-AbCdEf"),
    ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/steward/local/policy"),
    ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/notify:log-stream:2026/11/27/x"),
]  # fmt: skip
OTHER_ACTION = {
    "s3": "s3:PutObject",
    "dynamodb": "dynamodb:Scan",
    "sqs": "sqs:DeleteMessage",
    "sagemaker": "sagemaker:DeleteEndpoint",
    "secretsmanager": "secretsmanager:PutSecretValue",
    "ssm": "ssm:PutParameter",
    "logs": "logs:CreateLogStream",
}

# Global condition keys, by the type of their values: (key, request values to choose from, policy values).
# A request value None leaves the key out of the request.
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/steward-local-notify"
KEYS: dict[str, list[tuple[str, list[Any], list[str]]]] = {
    "string": [
        ("aws:PrincipalTag/team", ["ml-platform", "ML-Platform", "data", None],
         ["ml-platform", "ML-PLATFORM", "ml-*", "*platform", "ml-platfor?", "data", "d?ta", "*"]),
        ("aws:RequestedRegion", ["us-east-1", "eu-west-1", None], ["us-east-1", "us-*", "eu-west-?", "US-EAST-1"]),
    ],
    "arn": [
        ("aws:SourceArn", [RULE, f"arn:aws:events:us-east-1:{ACCOUNT}:rule/other", None],
         [RULE, f"arn:aws:events:us-east-1:{ACCOUNT}:rule/*", f"arn:aws:events:*:{ACCOUNT}:rule/steward-*",
          f"arn:aws:events:us-east-1:{ACCOUNT}:rule/steward-local-notif?", "arn:aws:events:us-east-1:999999999999:rule/*"]),
    ],
    "numeric": [
        ("aws:MultiFactorAuthAge", ["300", "3600", "0", None], ["300", "3600", "100", "86400"]),
    ],
    "date": [
        ("aws:CurrentTime", ["2026-11-27T03:01:22Z", "2025-01-01T00:00:00Z", None],
         ["2026-11-27T03:01:22Z", "2026-01-01T00:00:00Z", "2027-01-01", "2026-11-27T04:01:22+01:00"]),
        ("aws:EpochTime", ["1795748482", None], ["1795748482", "1700000000", "1795748483"]),
    ],
    "bool": [
        ("aws:SecureTransport", ["true", "false", None], ["true", "false"]),
        ("aws:ViaAWSService", ["true", "false", None], ["true", "false"]),
    ],
    "set": [
        ("aws:TagKeys", [["team"], ["team", "cost-center"], ["Team"], [], None],
         ["team", "cost-center", "owner", "t*", "Team"]),
        ("aws:CalledVia", [["cloudformation.amazonaws.com"], ["athena.amazonaws.com", "cloudformation.amazonaws.com"], None],
         ["cloudformation.amazonaws.com", "*.amazonaws.com", "athena.amazonaws.com"]),
    ],
}  # fmt: skip
OPERATORS = {
    "string": ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike"],
    "arn": ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "StringEquals", "StringLike"],
    "numeric": ["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                "NumericGreaterThan", "NumericGreaterThanEquals"],
    "date": ["DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
             "DateGreaterThanEquals"],
    "bool": ["Bool"],
    "set": ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase"],
}  # fmt: skip


def _action_pattern(rng: random.Random, action: str) -> str:
    service, _, name = action.partition(":")
    choice = rng.randrange(9)
    if choice == 0:
        return action
    if choice == 1:
        return action.lower() if rng.random() < 0.5 else action.upper()
    if choice == 2:
        return f"{service}:{name[: rng.randrange(len(name))]}*"
    if choice == 3:
        return f"{service}:*" if rng.random() < 0.8 else "*"
    if choice == 4:
        i = rng.randrange(len(name))
        return f"{service}:{name[:i]}?{name[i + 1 :]}"
    if choice == 5:
        return OTHER_ACTION[service]
    if choice == 6:
        i, j = sorted(rng.sample(range(len(name) + 1), 2))
        return f"{service}:{name[:i]}*{name[j:]}"
    if choice == 7:
        return f"{service}:{name}?"  # one character too many
    return f"{service}:{name[:-1]}"  # one too few


def _resource_pattern(rng: random.Random, resource: str) -> str:
    parts = resource.split(":", 5)
    head, tail = ":".join(parts[:5]) + ":", parts[5]  # the resource segment apart
    choice = rng.randrange(12)
    if choice == 0:
        return resource
    if choice == 1:
        return "*"
    if choice == 2:  # cut short, then *
        return head + tail[: rng.randrange(len(tail))] + "*"
    if choice == 3:
        i = rng.randrange(len(tail))
        return head + tail[:i] + "?" + tail[i + 1 :]
    if choice == 4:
        i, j = sorted(rng.sample(range(len(tail) + 1), 2))
        return head + tail[:i] + "*" + tail[j:]
    if choice == 5:  # one character changed in case: resources are case-sensitive
        letters = [i for i, c in enumerate(tail) if c.isalpha()]
        i = rng.choice(letters)
        return head + tail[:i] + tail[i].swapcase() + tail[i + 1 :]
    if choice == 6:
        return head + tail + rng.choice(["x", "/", "/*", "?"])
    if choice == 7 and ":us-east-1:" in head:
        return head.replace(":us-east-1:", rng.choice([":*:", ":us-east-?:", ":us-west-2:", ":us-*:"])) + tail
    if choice == 8 and f":{ACCOUNT}:" in head:
        return head.replace(f":{ACCOUNT}:", rng.choice([":*:", ":999999999999:", ":12345678901?:"])) + tail
    if choice == 9:  # a short ARN: the service's resources in any region and account
        return ":".join(resource.split(":")[:3]) + ":*"
    if choice == 10:
        return head + tail.replace("-", "*", 1)
    return head + tail[: len(tail) // 2]


def _condition(rng: random.Random, context: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(rng.choice([1, 1, 1, 2])):
        kind = rng.choice(list(KEYS))
        key, request_values, policy_values = rng.choice(KEYS[kind])
        operator = "Null" if rng.random() < 0.08 else rng.choice(OPERATORS[kind])
        if operator == "Null":
            values: Any = rng.choice(["true", "false"])
        else:
            values = rng.sample(policy_values, rng.choice([1, 1, 2]))
            values = values[0] if len(values) == 1 and rng.random() < 0.5 else values
            if kind == "set" or rng.random() < 0.05:
                operator = rng.choice(["ForAnyValue:", "ForAllValues:"]) + operator
            if rng.random() < 0.2:
                operator += "IfExists"
        block.setdefault(operator, {})[key] = values
        if key not in context:
            value = rng.choice(request_values)
            if value is not None:
                context[key] = value
    return block


def generate(seed: int, count: int) -> list[dict[str, Any]]:
    """`count` cases, the same for the same seed."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        action, resource = rng.choice(CALLS)
        context: dict[str, Any] = {}
        statements = []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            effect = "Deny" if rng.random() < 0.25 else "Allow"
            actions = [_action_pattern(rng, action) for _ in range(rng.choice([1, 1, 2]))]
            resources = [_resource_pattern(rng, resource) for _ in range(rng.choice([1, 1, 2]))]
            statement: dict[str, Any] = {"Effect": effect}
            statement["NotAction" if rng.random() < 0.12 else "Action"] = (
                actions[0] if len(actions) == 1 else actions
            )
            statement["NotResource" if rng.random() < 0.12 else "Resource"] = (
                resources[0] if len(resources) == 1 else resources
            )
            if rng.random() < 0.45:
                statement["Condition"] = _condition(rng, context)
            statements.append(statement)
        cases.append({"statements": statements, "action": action, "resource": resource, "context": context})
    return cases
