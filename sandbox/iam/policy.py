"""Policy statements and their evaluation (an explicit deny, then an allow), the AWS managed policies
SAM attaches, and the condition keys the sandbox can evaluate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.iam.conditions import (
    MULTIVALUED_KEYS,
    Condition,
    _conditions,
    _text,
    action_matches,
    resource_matches,
)
from sandbox.iam.settings import IamError

# --- statements and evaluation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    policy: str  # the inline policy's name, or the managed policy's ARN
    sid: str  # the Sid, or "#n" (its position) when it has none
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...] = ()
    principals: tuple[str, ...] = ()  # resource policies only: "service:events.amazonaws.com", "aws:*"

    @property
    def key(self) -> str:
        return f"{self.policy}/{self.sid}"

    @property
    def managed(self) -> bool:
        return self.policy.startswith("arn:")

    def matched_actions(self, action: str) -> list[str]:
        hits = [p for p in self.actions if action_matches(p, action)]
        if self.not_action:
            return [] if hits else ["NotAction:" + ",".join(self.actions)]
        return hits

    def matched_resources(self, resource: str) -> list[str]:
        hits = [p for p in self.resources if resource_matches(p, resource)]
        if self.not_resource:
            return [] if hits else ["NotResource:" + ",".join(self.resources)]
        return hits

    def units(self) -> list[tuple[str, str]]:
        """The grants this statement is made of: each action pattern on each resource pattern."""
        actions = ["NotAction:" + ",".join(self.actions)] if self.not_action else list(self.actions)
        resources = ["NotResource:" + ",".join(self.resources)] if self.not_resource else list(self.resources)
        return [(a, r) for a in actions for r in resources]


def statements_of(document: Any, policy: str) -> list[Statement]:
    """The statements of one resolved policy document."""
    raw = (document or {}).get("Statement") or []
    listed = raw if isinstance(raw, list) else [raw]
    found = []
    for index, s in enumerate(listed):
        if not isinstance(s, dict):
            continue
        where = f"{policy} statement {s.get('Sid') or index}"
        effect = str(s.get("Effect", ""))
        if effect not in ("Allow", "Deny"):
            raise IamError(f"{where}: Effect {effect!r}")
        if ("Action" in s) == ("NotAction" in s) or ("Resource" in s) == ("NotResource" in s):
            raise IamError(f"{where}: needs exactly one of Action/NotAction and one of Resource/NotResource")

        def listed_of(key: str, statement: dict[str, Any] = s) -> tuple[str, ...]:
            value = statement.get(key)
            return tuple(_text(v) for v in (value if isinstance(value, list) else [value]) if v is not None)

        resources = listed_of("Resource") or listed_of("NotResource")
        for resource in resources:
            if "${" in resource:
                raise IamError(
                    f"{where}: policy variable in {resource} (the sandbox does not substitute them)"
                )
        found.append(
            Statement(
                policy=policy,
                sid=str(s.get("Sid") or f"#{index}"),
                effect=effect,
                actions=listed_of("Action") or listed_of("NotAction"),
                not_action="NotAction" in s,
                resources=resources,
                not_resource="NotResource" in s,
                conditions=_conditions(s.get("Condition"), where),
                principals=_principals(s.get("Principal")),
            )
        )
    return found


def _principals(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if raw == "*":
        return ("aws:*",)
    found = []
    for kind, values in (raw or {}).items():
        for value in values if isinstance(values, list) else [values]:
            found.append(f"{str(kind).lower()}:{value}")
    return tuple(found)


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for a call: an action on a resource, with its context keys."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()  # lower-cased keys, sorted


def request(action: str, resource: str, **context: Any) -> Request:
    """A Request, its context keys as written in policies: request(a, r, **{"iam:PassedToService": s})."""
    return Request(action, resource, _context(context))


def _context(values: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    items = []
    for key, value in values.items():
        if value is None:
            continue
        listed = value if isinstance(value, list | tuple) else [value]
        items.append((key.lower(), tuple(_text(v) for v in listed)))
    return tuple(sorted(items))


@dataclass
class Decision:
    allowed: bool
    denied_by: Statement | None = None  # the explicit Deny, when there is one
    grants: tuple[tuple[str, str, str], ...] = ()  # (statement key, action pattern, resource pattern)


def evaluate(
    statements: Iterable[Statement], req: Request, extra: dict[str, tuple[str, ...]] | None = None
) -> Decision:
    """IAM's evaluation of identity-based statements: explicit Deny, then Allow, else implicit deny."""
    context = dict(req.context)
    if extra:
        context.update(extra)
    grants: list[tuple[str, str, str]] = []
    for s in statements:
        actions = s.matched_actions(req.action)
        if not actions:
            continue
        resources = s.matched_resources(req.resource)
        if not resources or not all(c.holds(context) for c in s.conditions):
            continue
        if s.effect == "Deny":
            return Decision(False, denied_by=s)
        grants += [(s.key, a, r) for a in actions for r in resources]
    return Decision(bool(grants), grants=tuple(grants))


# --- what AWS attaches -------------------------------------------------------------------------------

_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    # The documents AWS publishes for the managed policies SAM attaches to function roles.
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Statement": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}]
    },
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            }
        ]
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
                "Resource": "*",
            }
        ]
    },
}

# Condition keys the sandbox puts in a request's context. A statement conditioned on another key is
# refused when the template loads: evaluating it as "absent" would be a guess.
SUPPORTED_KEYS = {
    "aws:requestedregion", "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid",
    "aws:securetransport", "aws:currenttime", "aws:epochtime", "aws:viaawsservice", "aws:tagkeys",
    "aws:sourcearn", "aws:sourceaccount", "iam:passedtoservice", "sts:rolesessionname", "sts:externalid",
    "secretsmanager:secretid", "secretsmanager:versionid", "secretsmanager:versionstage", "ses:fromaddress",
    "ses:recipients", "ses:apiversion", "cloudwatch:namespace", "s3:prefix", "events:source",
    "events:detail-type", "kms:viaservice", "kms:calleraccount",
}  # fmt: skip
SUPPORTED_PREFIXES = ("aws:requesttag/",)


def check_keys(statements: Iterable[Statement], where: str) -> None:
    for s in statements:
        for c in s.conditions:
            if c.key not in SUPPORTED_KEYS and not c.key.startswith(SUPPORTED_PREFIXES):
                raise IamError(
                    f"{where} {s.sid}: condition key {c.key} is not one the sandbox puts in a request's "
                    "context (sandbox/iam/policy.py SUPPORTED_KEYS)"
                )
            if c.key in MULTIVALUED_KEYS and ":" not in c.operator and not c.operator.startswith("Null"):
                raise IamError(
                    f"{where} {s.sid}: {c.operator} on {c.key}, a multivalued key, matches nothing: "
                    "use ForAnyValue: or ForAllValues:"
                )
