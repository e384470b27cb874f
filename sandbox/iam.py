"""IAM in the sandbox: every AWS call a handler makes is checked against its function's role, as AWS would.

The roles come from the translated template (sandbox/template.py): each function's inline statements,
the SAM policy templates already expanded by the translator, and the AWS managed policies SAM attaches
(their documents are below; an unknown one stops the sandbox, it is never skipped). Each botocore call a
handler makes is turned into what IAM really authorizes for it (`requests_for`): the per-item actions
of a TransactWriteItems, each table of a BatchGetItem, the index ARN of a GSI query, sagemaker:AddTags
when a Create passes Tags, iam:PassRole for CreateModel's ExecutionRoleArn with iam:PassedToService,
kms:Decrypt for an object, secret or parameter encrypted with a customer key, the queue ARN behind a
QueueUrl, a secret's full ARN with its random suffix. What Lambda does with the role on the function's
behalf is checked too: its logs and traces, the SQS event source's polling, the on-failure destination.
An EventBridge rule's dead-letter queue is checked against the queue's resource policy. In a
multi-account sandbox (sandbox/accounts.py), sts:AssumeRole of a workload account's role is also
checked against that role's trust policy, and every call made with the credentials it returns is
checked against that role's policies, in its account.

Evaluation follows IAM's: an explicit Deny wins, then any Allow, else the implicit deny; Action and
NotAction, Resource and NotResource; `*` and `?` wildcards; actions compared case-insensitively,
resources case-sensitively, an ARN segment by segment (a `*` that ends a segment may run past colons);
Condition operators with IfExists and ForAnyValue/ForAllValues (README "IAM in the sandbox" has the
table of rules, each tested in tests/unit/test_iam_rules.py).

Modes (`Sandbox(iam=...)` or STEWARD_SANDBOX_IAM): "enforce" (the default) answers a call its role does
not allow with the AccessDenied the service returns, and `Sandbox.stop()` raises when anything was
denied during the run, so a handler that swallows the error still fails its test; "soft" lets the call
through and only records the denial; "off" installs nothing. `python -m sandbox.iam report` runs the
scenarios of tests/sandbox/iam_scenarios.py and prints, per function, what it used beside what it is
granted, with the reasons template.yaml gives (`# not in the sandbox: ...`) for what no scenario uses
(`make iam-report`). `dropping()` / STEWARD_SANDBOX_IAM_DROP run sandboxes without chosen statements: the
drop test (tests/sandbox/test_iam_drop.py, `make iam-drop`) shows each statement a function needs is needed.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import fnmatch
import functools
import json
import logging
import os
import re
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ENV_MODE = "STEWARD_SANDBOX_IAM"
ENV_USAGE = "STEWARD_SANDBOX_IAM_USAGE"  # a file each sandbox appends its usage to (JSON lines)
ENV_DROP = "STEWARD_SANDBOX_IAM_DROP"  # "function:Sid,...": statements every sandbox removes (a policy test)
MODES = ("enforce", "soft", "off")
_PARAMS = "steward_iam_params"
log = logging.getLogger("sandbox.iam")


class IamError(RuntimeError):
    """The template holds IAM the sandbox cannot evaluate faithfully (it says so rather than guess)."""


class AccessDeniedError(RuntimeError):
    """Raised by Sandbox.stop() in enforce mode when a call was denied during the run."""


def mode_from(value: str | None) -> str:
    mode = (value or os.environ.get(ENV_MODE) or "enforce").strip().lower()
    if mode not in MODES:
        raise ValueError(f"IAM mode {mode!r}: one of {', '.join(MODES)} ({ENV_MODE})")
    return mode


# --- patterns ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern[str]:
    """An Action: `*` any characters, `?` one, compared without regard to case."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _resource_regex(pattern: str) -> re.Pattern[str]:
    """A Resource, case-sensitive, matched ARN segment by segment: in the first five segments `*` and
    `?` stay inside the segment, except that a `*` ending a segment may run past the colons (IAM: "if
    the * wildcard is the last character of a resource ARN segment, it can expand to match beyond the
    colon boundaries"); in the resource segment they match anything, `/` and `:` included. The resource
    type (the resource segment up to its first `/` or `:`, as in `table/`) takes no wildcard (IAM ARNs:
    "you can't use a wildcard in the portion of the ARN that specifies the resource type"): there a `*`
    or `?` is a plain character, so `tab*/x` matches no table. S3 ARNs have no resource type."""
    if pattern == "*":
        return re.compile(".*", re.DOTALL)
    segments = pattern.split(":", 5)
    literal = 0  # how many leading characters of the resource segment are the resource type
    if len(segments) == 6 and not (segments[2] == "s3" and segments[3] == segments[4] == ""):
        cut = min((i for i in (segments[5].find("/"), segments[5].find(":")) if i >= 0), default=-1)
        literal = cut + 1
    parts = []
    for index, segment in enumerate(segments):
        last_segment = index == 5
        out = []
        for position, c in enumerate(segment):
            if last_segment and position < literal:
                out.append(re.escape(c))
            elif c == "*":
                ends = position == len(segment) - 1
                out.append(".*" if last_segment or ends else "[^:]*")
            elif c == "?":
                out.append("." if last_segment else "[^:]")
            else:
                out.append(re.escape(c))
        parts.append("".join(out))
    return re.compile(":".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _arn_like_regex(pattern: str) -> re.Pattern[str] | None:
    """An ArnLike/ArnEquals value: "each of the six colon-delimited components of the ARN is checked
    separately", `*` and `?` inside each (the resource component may hold colons itself)."""
    segments = pattern.split(":", 5)
    if len(segments) < 6:
        return None  # not an ARN: matches nothing
    parts = []
    for index, segment in enumerate(segments):
        any_char = "." if index == 5 else "[^:]"
        parts.append(
            "".join(f"{any_char}*" if c == "*" else any_char if c == "?" else re.escape(c) for c in segment)
        )
    return re.compile(":".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _action_regex(pattern).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    return _resource_regex(pattern).fullmatch(resource) is not None


def arn_like(pattern: str, arn: str) -> bool:
    regex = _arn_like_regex(pattern)
    return regex is not None and len(arn.split(":", 5)) == 6 and regex.fullmatch(arn) is not None


def _string_like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


# --- conditions --------------------------------------------------------------------------------------

_BASE_OPERATORS: dict[str, tuple[str, bool]] = {  # operator -> (comparison, negated)
    "StringEquals": ("eq", False),
    "StringNotEquals": ("eq", True),
    "StringEqualsIgnoreCase": ("ieq", False),
    "StringNotEqualsIgnoreCase": ("ieq", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "NumericEquals": ("num==", False),
    "NumericNotEquals": ("num==", True),
    "NumericLessThan": ("num<", False),
    "NumericLessThanEquals": ("num<=", False),
    "NumericGreaterThan": ("num>", False),
    "NumericGreaterThanEquals": ("num>=", False),
    "DateEquals": ("date==", False),
    "DateNotEquals": ("date==", True),
    "DateLessThan": ("date<", False),
    "DateLessThanEquals": ("date<=", False),
    "DateGreaterThan": ("date>", False),
    "DateGreaterThanEquals": ("date>=", False),
    "Bool": ("bool", False),
}


# Context keys that hold a set of values (ArrayOf... in the Service Authorization Reference): conditions on
# them need ForAnyValue/ForAllValues. Values of any other key are one value.
MULTIVALUED_KEYS = frozenset({
    "aws:tagkeys", "aws:calledvia", "aws:principalservicenameslist", "aws:principalorgpaths",
    "aws:sourceorgpaths", "aws:resourceorgpaths", "ses:recipients",
})  # fmt: skip


def _date(text: str) -> float:
    if re.fullmatch(r"\d+", text):
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _compare(kind: str, value: str, wanted: str) -> bool:
    if kind == "eq":
        return value == wanted
    if kind == "ieq":
        return value.lower() == wanted.lower()
    if kind == "like":
        return _string_like(wanted, value)
    if kind == "arn":
        return arn_like(wanted, value)
    if kind == "bool":
        return value.lower() == wanted.lower()
    try:
        if kind.startswith("num"):
            a, b = float(value), float(wanted)
        else:
            a, b = _date(value), _date(wanted)
    except ValueError:
        return False
    op = kind[4:] if kind.startswith("date") else kind[3:]
    return {"==": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # lower-cased (condition keys are case-insensitive)
    values: tuple[str, ...]

    def holds(self, context: dict[str, tuple[str, ...]]) -> bool:
        qualifier, _, name = self.operator.rpartition(":")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base = name[: -len("IfExists")] if if_exists else name
        present = context.get(self.key)
        if base == "Null":  # "true": the key is absent; "false": it is present
            return any((present is None) == (v.lower() == "true") for v in self.values)
        kind, negated = _BASE_OPERATORS[base]

        def one(value: str) -> bool:
            hit = any(_compare(kind, value, wanted) for wanted in self.values)
            return not hit if negated else hit

        if qualifier == "ForAllValues":  # true for a missing or empty key too
            return all(one(v) for v in present or ())
        if qualifier == "ForAnyValue":  # false for a missing or empty key, IfExists or not
            return any(one(v) for v in present or ())
        if present is None:
            # A missing key: IfExists makes the condition true; otherwise a negated operator is true and
            # a positive one false (IAM: "if the key is not present, the condition evaluates to false",
            # and for the negated operators the values cannot match, so the negation holds).
            return if_exists or negated
        if self.key in MULTIVALUED_KEYS:
            return False  # a multivalued key needs ForAnyValue/ForAllValues: alone, no operator matches it
        return all(one(v) for v in present) if negated else any(one(v) for v in present)


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    found = []
    for operator, block in (raw or {}).items():
        qualifier, _, name = str(operator).rpartition(":")
        base = name[: -len("IfExists")] if name.endswith("IfExists") else name
        if qualifier not in ("", "ForAnyValue", "ForAllValues") or (
            base not in _BASE_OPERATORS and base != "Null"
        ):
            raise IamError(f"{where}: condition operator {operator} is not one the sandbox evaluates")
        for key, values in (block or {}).items():
            listed = [_text(v) for v in (values if isinstance(values, list) else [values])]
            if any("${" in v for v in listed):
                raise IamError(
                    f"{where}: policy variable in {key}'s values (the sandbox does not substitute them)"
                )
            found.append(Condition(str(operator), str(key).lower(), tuple(listed)))
    return tuple(found)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
                    "context (sandbox/iam.py SUPPORTED_KEYS)"
                )
            if c.key in MULTIVALUED_KEYS and ":" not in c.operator and not c.operator.startswith("Null"):
                raise IamError(
                    f"{where} {s.sid}: {c.operator} on {c.key}, a multivalued key, matches nothing: "
                    "use ForAnyValue: or ForAllValues:"
                )


# --- what each call needs ----------------------------------------------------------------------------

IAM_PREFIX = {"sagemaker-runtime": "sagemaker", "sesv2": "ses", "monitoring": "cloudwatch"}
_ACCESS_DENIED = {  # service -> (error code, HTTP status) of its AccessDenied answer
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "ses": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "sesv2": ("AccessDeniedException", 403),
    "lambda": ("AccessDeniedException", 403),
}
_DEFAULT_DENIED = ("AccessDeniedException", 400)  # dynamodb, sagemaker, ssm, secretsmanager, kms, events


@dataclass
class Call:
    """What requests_for needs to know about a call beyond its parameters."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account: str


def _arn(c: Call, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
    region = c.region if region is None else region
    return f"arn:aws:{service}:{region}:{c.account if account is None else account}:{resource}"


def _tags(params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    if isinstance(tags, dict):  # some APIs take a map
        pairs = list(tags.items())
    else:
        pairs = [(t.get("Key"), t.get("Value")) for t in tags if isinstance(t, dict)]
    if not pairs:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    context["aws:TagKeys"] = [k for k, _ in pairs]
    return context


def _dynamodb(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation

    def table(name: str) -> str:
        return name if name.startswith("arn:") else _arn(c, "dynamodb", f"table/{name}")

    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "UpdateTimeToLive",
              "DescribeTimeToLive", "DescribeContinuousBackups"):  # fmt: skip
        return [request(f"dynamodb:{op}", table(p["TableName"]))]
    if op in ("Query", "Scan"):
        target = table(p["TableName"]) + (f"/index/{p['IndexName']}" if p.get("IndexName") else "")
        return [request(f"dynamodb:{op}", target)]
    if op in ("BatchGetItem", "BatchWriteItem"):  # one authorization per table named
        return [request(f"dynamodb:{op}", table(name)) for name in p.get("RequestItems") or {}]
    if op == "TransactWriteItems":  # no action of its own: each item's
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        found = []
        for item in p.get("TransactItems") or []:
            for kind, action in kinds.items():
                if kind in item:
                    found.append(request(f"dynamodb:{action}", table(item[kind]["TableName"])))
        return list(dict.fromkeys(found))
    if op == "TransactGetItems":
        return list(
            dict.fromkeys(
                request("dynamodb:GetItem", table(i["Get"]["TableName"]))
                for i in p.get("TransactItems") or []
            )
        )
    if op in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return [request(f"dynamodb:{op}", "*")]
    return None


# SageMaker operation -> (parameter naming the resource, resource type); the type is None when the
# parameter is already an ARN.
_CRUD = "Create", "Describe", "Update", "Delete", "Stop"
_SAGEMAKER_TYPES = {  # the noun of the operation -> (parameter, resource type)
    "Endpoint": ("EndpointName", "endpoint"),
    "EndpointConfig": ("EndpointConfigName", "endpoint-config"),
    "Model": ("ModelName", "model"),
    "TrainingJob": ("TrainingJobName", "training-job"),
    "ProcessingJob": ("ProcessingJobName", "processing-job"),
    "TransformJob": ("TransformJobName", "transform-job"),
    "HyperParameterTuningJob": ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    "Pipeline": ("PipelineName", "pipeline"),
    "ModelPackageGroup": ("ModelPackageGroupName", "model-package-group"),
    "MonitoringSchedule": ("MonitoringScheduleName", "monitoring-schedule"),
}
_SAGEMAKER: dict[str, tuple[str, str | None]] = {
    **{verb + noun: spec for noun, spec in _SAGEMAKER_TYPES.items() for verb in _CRUD},
    "StartPipelineExecution": ("PipelineName", "pipeline"),
    "ListPipelineExecutions": ("PipelineName", "pipeline"),
    "DescribePipelineExecution": ("PipelineExecutionArn", None),
    "StopPipelineExecution": ("PipelineExecutionArn", None),
    "ListPipelineExecutionSteps": ("PipelineExecutionArn", None),
    "ListPipelineParametersForExecution": ("PipelineExecutionArn", None),
    "DescribeModelPackage": ("ModelPackageName", "model-package"),
    "UpdateModelPackage": ("ModelPackageArn", None),
    "DeleteModelPackage": ("ModelPackageName", "model-package"),
    "ListTags": ("ResourceArn", None),
    "AddTags": ("ResourceArn", None),
    "DeleteTags": ("ResourceArn", None),
}  # fmt: skip


def _sagemaker_arn(c: Call, kind: str | None, name: str) -> str:
    if name.startswith("arn:"):
        return name
    # SageMaker ARNs carry the name in lower case (an endpoint "Churn-Prod" is ...:endpoint/churn-prod),
    # and IAM authorizes against that ARN: a Resource written with capitals never matches.
    return _arn(c, "sagemaker", f"{kind}/{name.lower()}")


def _sagemaker(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    if op in (
        "InvokeEndpoint",
        "InvokeEndpointAsync",
        "InvokeEndpointWithResponseStream",
    ):  # sagemaker-runtime
        action = (
            "sagemaker:InvokeEndpointAsync" if op == "InvokeEndpointAsync" else "sagemaker:InvokeEndpoint"
        )
        return [request(action, _sagemaker_arn(c, "endpoint", p["EndpointName"]))]
    if op == "CreateModelPackage":
        group = p.get("ModelPackageGroupName") or p.get("ModelPackageName") or ""
        target = (
            f"{_sagemaker_arn(c, 'model-package', group)}/*"
            if p.get("ModelPackageGroupName")
            else _sagemaker_arn(c, "model-package", group)
        )
        return [request("sagemaker:CreateModelPackage", target, **_tags(p))]
    if op not in _SAGEMAKER:
        return [request(f"sagemaker:{op}", "*")] if op.startswith(("List", "Search")) else None
    parameter, kind = _SAGEMAKER[op]
    target = _sagemaker_arn(c, kind, str(p.get(parameter, "")))
    tags = _tags(p)
    found = [request(f"sagemaker:{op}", target, **tags)]
    if tags and op.startswith("Create"):  # tagging at create is authorized as AddTags too
        found.append(request("sagemaker:AddTags", target, **tags))
    role = p.get("ExecutionRoleArn") or p.get("RoleArn")
    if role and op.startswith("Create"):
        found.append(request("iam:PassRole", role, **{"iam:PassedToService": "sagemaker.amazonaws.com"}))
    if p.get("KmsKeyId") and op == "CreateEndpointConfig":
        found.append(request("kms:CreateGrant", _kms_arn(c, p["KmsKeyId"])))
    if op in ("CreateEndpoint", "UpdateEndpoint"):
        key = _endpoint_config_key(c, str(p.get("EndpointConfigName", "")))
        if key:  # the endpoint's storage volumes are encrypted with the config's key
            found.append(request("kms:CreateGrant", _kms_arn(c, key)))
    return found


def _kms_arn(c: Call, key: str) -> str:
    if key.startswith("arn:"):
        return key
    return _arn(c, "kms", key if key.startswith("alias/") else f"key/{key}")


def _customer_key(key: str | None) -> bool:
    """A customer managed key: AWS managed keys (alias/aws/...) are usable through their service by
    any principal of the account, with no identity permission."""
    return bool(key) and "alias/aws/" not in str(key)


def _endpoint_config_key(c: Call, name: str) -> str | None:
    with contextlib.suppress(Exception):
        from moto.sagemaker.models import sagemaker_backends

        config = sagemaker_backends[c.account][c.region].endpoint_configs.get(name)
        return getattr(config, "kms_key_id", None) or None
    return None


def _s3(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    bucket = p.get("Bucket", "")
    obj = f"arn:aws:s3:::{bucket}/{p.get('Key', '')}"
    if op in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
        found = [request(action, obj)]
        stored = _s3_object(c, bucket, p.get("Key", ""))
        if stored is not None and stored.encryption == "aws:kms" and _customer_key(stored.kms_key_id):
            found.append(
                request(
                    "kms:Decrypt",
                    _kms_arn(c, stored.kms_key_id),
                    **{"kms:ViaService": f"s3.{c.region}.amazonaws.com"},
                )
            )
        return found
    if op == "PutObject":
        found = [request("s3:PutObject", obj, **_tags(p))]
        if p.get("SSEKMSKeyId") and _customer_key(p["SSEKMSKeyId"]):
            found.append(request("kms:GenerateDataKey", _kms_arn(c, p["SSEKMSKeyId"])))
        return found
    if op == "DeleteObject":
        return [request("s3:DeleteObject", obj)]
    if op in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        return [request("s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": p.get("Prefix")})]
    if op == "GetObjectTagging":
        return [request("s3:GetObjectTagging", obj)]
    return None


def _s3_object(c: Call, bucket: str, key: str) -> Any:
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        return s3_backends[c.account]["aws"].buckets[bucket].keys.get(key)
    return None


def s3_missing_key(c: Call) -> bool:
    """GetObject/HeadObject of a key that does not exist (S3 then answers 403 unless s3:ListBucket)."""
    if c.service != "s3" or c.operation not in ("GetObject", "HeadObject"):
        return False
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        found = s3_backends[c.account]["aws"].buckets.get(c.params.get("Bucket", ""))
        return found is not None and found.keys.get(c.params.get("Key", "")) is None
    return False


def _queue_arn(c: Call, url: str) -> str:
    parts = url.rstrip("/").split("/")
    account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (c.account, url)
    host = re.match(r"https?://sqs\.([a-z0-9-]+)\.", url)
    return _arn(
        c,
        "sqs",
        name,
        region=host.group(1) if host else c.region,
        account=account if account.isdigit() else c.account,
    )


def _sqs(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    base = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(op, op)  # fmt: skip
    if op == "GetQueueUrl":
        return [
            request(
                "sqs:GetQueueUrl", _arn(c, "sqs", p["QueueName"], account=p.get("QueueOwnerAWSAccountId"))
            )
        ]
    if op == "ListQueues":
        return [request("sqs:ListQueues", "*")]
    if "QueueUrl" in p:
        return [request(f"sqs:{base}", _queue_arn(c, p["QueueUrl"]))]
    return None


def _ssm_arn(c: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return _arn(c, "ssm", "parameter" + (name if name.startswith("/") else "/" + name))


def _ssm(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    names = [p["Name"]] if "Name" in p else list(p.get("Names") or [])
    if op == "GetParametersByPath":
        names = [p["Path"]]
    if not names:
        return None
    found = [request(f"ssm:{op}", _ssm_arn(c, n)) for n in names]
    if p.get("WithDecryption"):
        for n in names:
            stored = _ssm_parameter(c, n)
            if stored is not None and stored.parameter_type == "SecureString" and _customer_key(stored.keyid):
                found.append(request("kms:Decrypt", _kms_arn(c, stored.keyid)))
    return found


def _ssm_parameter(c: Call, name: str) -> Any:
    with contextlib.suppress(Exception):
        from moto.ssm.models import ssm_backends

        return ssm_backends[c.account][c.region].get_parameter(name)
    return None


def _secretsmanager(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    secret_id = p.get("SecretId")
    if secret_id is None:
        return [request(f"secretsmanager:{op}", "*")] if op.startswith(("List", "GetRandom")) else None
    stored = None
    with contextlib.suppress(Exception):
        from moto.secretsmanager.models import secretsmanager_backends

        stored = secretsmanager_backends[c.account][c.region].secrets.get(secret_id)
    # Authorized against the secret's full ARN, random suffix included; an unknown one by what was asked.
    arn = (
        stored.arn
        if stored is not None
        else (secret_id if secret_id.startswith("arn:") else _arn(c, "secretsmanager", f"secret:{secret_id}"))
    )
    context = {"secretsmanager:SecretId": secret_id, "secretsmanager:VersionId": p.get("VersionId"),
               "secretsmanager:VersionStage": p.get("VersionStage")}  # fmt: skip
    found = [request(f"secretsmanager:{op}", arn, **context)]
    if stored is not None and op == "GetSecretValue" and _customer_key(getattr(stored, "kms_key_id", None)):
        found.append(
            request(
                "kms:Decrypt",
                _kms_arn(c, stored.kms_key_id),
                **{"kms:ViaService": f"secretsmanager.{c.region}.amazonaws.com"},
            )
        )
    return found


def _ses(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    if op not in ("SendEmail", "SendRawEmail", "SendBulkEmail"):
        return None
    sender = str(p.get("FromEmailAddress") or p.get("Source") or "")
    address = re.sub(r"^.*<([^>]+)>.*$", r"\1", sender)
    destination = p.get("Destination") or {}
    recipients = [a for k in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(k) or []]
    recipients += list(p.get("Destinations") or [])
    # The identity SES sends as: the address when it is an identity itself, else its domain.
    identity = address
    with contextlib.suppress(Exception):
        from moto.ses.models import ses_backends

        if address not in ses_backends[c.account][c.region].email_identities:
            identity = address.rpartition("@")[2]
    context = {"ses:FromAddress": address, "ses:Recipients": recipients or None,
               "ses:ApiVersion": "2" if c.service == "sesv2" else "1"}  # fmt: skip
    target = p.get("FromEmailAddressIdentityArn") or _arn(c, "ses", f"identity/{identity}")
    found = [request(f"ses:{op}", target, **context)]
    if p.get("ConfigurationSetName"):
        found.append(
            request(f"ses:{op}", _arn(c, "ses", f"configuration-set/{p['ConfigurationSetName']}"), **context)
        )
    return found


def _other(c: Call) -> list[Request] | None:
    p, op, s = c.params, c.operation, c.service
    if s == "sts":
        if op == "GetCallerIdentity":
            return []  # needs no permission: IAM cannot deny it
        if op == "AssumeRole":
            ctx = {
                "sts:RoleSessionName": p.get("RoleSessionName"),
                "sts:ExternalId": p.get("ExternalId"),
                **_tags(p),
            }
            return [request("sts:AssumeRole", p["RoleArn"], **ctx)]
        return None
    if s == "cloudwatch":
        if op in ("ListTagsForResource", "TagResource", "UntagResource"):
            return [request(f"cloudwatch:{op}", p["ResourceARN"])]
        if op == "PutMetricData":
            return [request("cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": p.get("Namespace")})]
        if op == "DescribeAlarms" and p.get("AlarmNames"):
            return [
                request("cloudwatch:DescribeAlarms", _arn(c, "cloudwatch", f"alarm:{n}"))
                for n in p["AlarmNames"]
            ]
        if op.startswith(("Describe", "Get", "List")):
            return [request(f"cloudwatch:{op}", "*")]
        return None
    if s == "lambda" and op in ("Invoke", "InvokeAsync"):
        name = str(p["FunctionName"])
        arn = name if name.startswith("arn:") else _arn(c, "lambda", f"function:{name}")
        return [request("lambda:InvokeFunction", arn + (f":{p['Qualifier']}" if p.get("Qualifier") else ""))]
    if s == "events" and op == "PutEvents":
        found = []
        for entry in p.get("Entries") or []:
            bus = entry.get("EventBusName") or "default"
            arn = bus if bus.startswith("arn:") else _arn(c, "events", f"event-bus/{bus}")
            found.append(
                request(
                    "events:PutEvents",
                    arn,
                    **{"events:source": entry.get("Source"), "events:detail-type": entry.get("DetailType")},
                )
            )
        return list(dict.fromkeys(found))
    if s == "kms" and p.get("KeyId"):
        return [request(f"kms:{op}", _kms_arn(c, p["KeyId"]))]
    return None


_BY_SERVICE = {
    "dynamodb": _dynamodb, "sagemaker": _sagemaker, "sagemaker-runtime": _sagemaker, "s3": _s3, "sqs": _sqs,
    "ssm": _ssm, "secretsmanager": _secretsmanager, "ses": _ses, "sesv2": _ses,
}  # fmt: skip


def requests_for(c: Call) -> list[Request] | None:
    """What IAM authorizes for this call (None: the sandbox has no model of the operation)."""
    model = _BY_SERVICE.get(c.service, _other)
    try:
        return model(c)
    except (KeyError, TypeError, AttributeError):  # a malformed call: the service refuses it anyway
        return None


# --- the roles of a translated template ----------------------------------------------------------------


@dataclass
class Role:
    function: str  # the function's name (its folder), e.g. "record_lineage"; a workload role's label
    logical_id: str  # the role's
    name: str
    statements: list[Statement]
    log_group: str
    tracing: bool
    # A role of a workload account (workload-account.yaml) that a function assumes: its account, its
    # trust policy (as statements on the role) and the session it was assumed with.
    account: str | None = None
    trust: list[Statement] = field(default_factory=list)
    session: str = ""

    def principal(self, account: str) -> str:
        return (
            f"arn:aws:sts::{self.account or account}:assumed-role/{self.name}/{self.session or self.function}"
        )

    def arn(self, account: str) -> str:
        return f"arn:aws:iam::{self.account or account}:role/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.account or ''}/{self.name}"


@dataclass
class QueuePolicy:
    queues: list[str]  # queue URLs
    statements: list[Statement]


def roles_of(cfn: dict[str, Any], resolver: Any, functions: dict[str, Any]) -> dict[str, Role]:
    """Each function's role, resolved: {function logical id: Role}."""
    resources = cfn.get("Resources") or {}
    roles: dict[str, Role] = {}
    for logical, spec in functions.items():
        props = resources[logical].get("Properties") or {}
        ref = props.get("Role")
        role_logical = ref["Fn::GetAtt"][0] if isinstance(ref, dict) and "Fn::GetAtt" in ref else None
        if role_logical is None or role_logical not in resources:
            raise IamError(f"{logical}: its Role is not a role of the template ({ref!r})")
        role_props = resources[role_logical].get("Properties") or {}
        statements: list[Statement] = []
        for policy in resolver.resolve(role_props.get("Policies") or []):
            statements += statements_of(policy.get("PolicyDocument"), str(policy.get("PolicyName")))
        for arn in resolver.resolve(role_props.get("ManagedPolicyArns") or []):
            document = MANAGED_POLICIES.get(str(arn).replace("arn:aws-us-gov:", "arn:aws:"))
            if document is None:
                raise IamError(
                    f"{role_logical}: managed policy {arn} is not one the sandbox knows "
                    "(sandbox/iam.py MANAGED_POLICIES)"
                )
            statements += statements_of(document, str(arn))
        check_keys(statements, role_logical)
        logging_config = resolver.resolve(props.get("LoggingConfig") or {})
        roles[logical] = Role(
            function=spec.name,
            logical_id=role_logical,
            name=resolver.physical[role_logical]["Ref"],
            statements=statements,
            log_group=str(logging_config.get("LogGroup") or f"/aws/lambda/{spec.name}"),
            tracing=(props.get("TracingConfig") or {}).get("Mode") == "Active",
        )
    return roles


def queue_policies_of(cfn: dict[str, Any], resolver: Any) -> list[QueuePolicy]:
    found = []
    for logical, resource in (cfn.get("Resources") or {}).items():
        if resource.get("Type") == "AWS::SQS::QueuePolicy":
            props = resolver.resolve(resource.get("Properties") or {})
            statements = statements_of(props.get("PolicyDocument"), logical)
            check_keys(statements, logical)
            found.append(QueuePolicy([str(q) for q in props.get("Queues") or []], statements))
    return found


# --- usage ---------------------------------------------------------------------------------------------


_NEEDS_KEPT = 20
_SECRET_SUFFIX = re.compile(r"^(arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+)-[A-Za-z0-9]{6}$")


def stable(pattern: str) -> str:
    """A granted resource as the report names it across runs: a secret's ARN ends in a random suffix
    that each sandbox (and each stack) draws anew, shown as `-??????`."""
    return _SECRET_SUFFIX.sub(r"\1-??????", pattern)


@dataclass
class FunctionUsage:
    role: str
    granted: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # statement key -> units
    effects: dict[str, str] = field(default_factory=dict)  # statement key -> Allow | Deny
    used: Counter[tuple[str, str, str]] = field(
        default_factory=Counter
    )  # (statement, action, resource pattern)
    examples: dict[tuple[str, str, str], set[str]] = field(
        default_factory=dict
    )  # unit -> "action on resource"
    # statement key -> the (action, resource) requests it alone allowed: what removing it would deny
    needs: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "granted": {k: [list(u) for u in v] for k, v in self.granted.items()},
            "effects": self.effects,
            "used": [[*unit, n, sorted(self.examples.get(unit, ()))[:5]] for unit, n in self.used.items()],
            "needs": {k: sorted([list(r) for r in v]) for k, v in self.needs.items()},
        }


@dataclass
class Usage:
    functions: dict[str, FunctionUsage] = field(default_factory=dict)
    denials: list[dict[str, Any]] = field(default_factory=list)
    # Objects S3 reported missing as a 403 AccessDenied because s3:ListBucket is not allowed: not a
    # denial of the call (GetObject was allowed) but what the code sees, recorded with what would change it
    s3_refusals: list[dict[str, Any]] = field(default_factory=list)
    unmodelled: Counter[str] = field(default_factory=Counter)
    runs: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "functions": {name: f.as_json() for name, f in self.functions.items()},
            "denials": self.denials,
            "s3_refusals": self.s3_refusals,
            "unmodelled": dict(self.unmodelled),
            "runs": self.runs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Usage:
        usage = cls(
            denials=list(data.get("denials") or []),
            s3_refusals=list(data.get("s3_refusals") or []),
            unmodelled=Counter(data.get("unmodelled") or {}),
            runs=int(data.get("runs", 1)),
        )
        for name, f in (data.get("functions") or {}).items():
            fu = FunctionUsage(role=f["role"], effects=dict(f.get("effects") or {}))
            fu.granted = {k: [(a, r) for a, r in v] for k, v in f["granted"].items()}
            for s, a, r, n, examples in f["used"]:
                fu.used[(s, a, r)] += n
                fu.examples.setdefault((s, a, r), set()).update(examples)
            fu.needs = {k: {(a, r) for a, r in v} for k, v in (f.get("needs") or {}).items()}
            usage.functions[name] = fu
        return usage

    def merge(self, other: Usage) -> None:
        self.runs += other.runs
        self.denials += other.denials
        self.s3_refusals += other.s3_refusals
        self.unmodelled.update(other.unmodelled)
        for name, f in other.functions.items():
            mine = self.functions.setdefault(name, FunctionUsage(role=f.role))
            for key, units in f.granted.items():  # a statement dropped in one run is still granted
                mine.granted.setdefault(key, units)
            mine.effects.update(f.effects)
            mine.used.update(f.used)
            for unit, examples in f.examples.items():
                mine.examples.setdefault(unit, set()).update(examples)
            for key, needed in f.needs.items():
                kept = mine.needs.setdefault(key, set())
                kept.update(sorted(needed)[: max(0, _NEEDS_KEPT - len(kept))])


_collectors: list[Usage] = []
_collectors_lock = threading.Lock()


@contextlib.contextmanager
def collect() -> Iterator[Usage]:
    """Gather the usage of every sandbox that stops inside the block (for the report)."""
    usage = Usage()
    with _collectors_lock:
        _collectors.append(usage)
    try:
        yield usage
    finally:
        with _collectors_lock:
            _collectors.remove(usage)


_drops: list[tuple[str, str]] = []


@contextlib.contextmanager
def dropping(*statements: tuple[str, str]) -> Iterator[None]:
    """Every sandbox that starts inside the block runs without these (function, Sid) statements, as
    Enforcer.drop would remove them: how a test shows that a statement is needed, through scenarios that
    make their own sandboxes. STEWARD_SANDBOX_IAM_DROP="function:Sid,..." does the same for a process."""
    with _collectors_lock:
        _drops.extend(statements)
    try:
        yield
    finally:
        with _collectors_lock:
            for statement in statements:
                _drops.remove(statement)


def _dropped() -> list[tuple[str, str]]:
    listed = [tuple(d.split(":", 1)) for d in os.environ.get(ENV_DROP, "").split(",") if ":" in d]
    with _collectors_lock:
        return [*_drops, *((f.strip(), sid.strip()) for f, sid in listed)]


# --- enforcement ---------------------------------------------------------------------------------------


class Enforcer:
    """The sandbox's IAM: installed while a sandbox runs, checking the calls of the running handler."""

    def __init__(self, mode: str, account: str, region: str) -> None:
        self.mode = mode
        self.account, self.region = account, region
        self.roles: dict[str, Role] = {}  # function logical id -> Role
        self.queue_policies: list[QueuePolicy] = []
        self.usage = Usage(runs=1)
        self.exempt: set[int] = set()  # request signers of the sandbox's own clients
        # Which function's role the calls of this thread (and the pools it fans out to) are checked
        # against: a context variable, so a test's own calls beside a reacting sandbox are not the
        # running handler's, and parallel invocations each keep their own role.
        self._running: contextvars.ContextVar[tuple[Role, str | None] | None] = contextvars.ContextVar(
            f"steward-iam-{id(self)}", default=None
        )
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self._keys_used: dict[str, frozenset[str]] = {}
        # Roles of workload accounts a function may assume (role ARN -> Role), and those accounts: a call
        # made with such a role's credentials is checked against that role, in its account.
        self.assumable: dict[str, Role] = {}
        self.workload_accounts: set[str] = set()
        self._assumed: dict[str, Role | None] = {}  # access key id -> the assumed role it belongs to
        self._hooks: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.dropped: list[Statement] = []  # what drop() removed

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @property
    def denials(self) -> list[dict[str, Any]]:
        return self.usage.denials

    # -- set-up

    def load(self, cfn: dict[str, Any], resolver: Any, functions: dict[str, Any]) -> None:
        if not self.on:
            return
        self.roles = roles_of(cfn, resolver, functions)
        self.queue_policies = queue_policies_of(cfn, resolver)
        for role in self.roles.values():
            self._index(role)
        for function, sid in _dropped():
            self.drop(function, sid)

    def add_workload(self, account: str, roles: dict[str, Role]) -> None:
        """A workload account's roles (workload-account.yaml): assumable by the functions they trust."""
        self.workload_accounts.add(account)
        if not self.on:
            return
        for arn, role in roles.items():
            self.assumable[arn] = role
            self._index(role)

    def _index(self, role: Role) -> None:
        self._keys_used[role.key] = frozenset(c.key for s in role.statements for c in s.conditions)
        fu = self.usage.functions.setdefault(role.function, FunctionUsage(role=role.name))
        for s in role.statements:
            fu.granted.setdefault(s.key, [(a, stable(r)) for a, r in s.units()])
            fu.effects[s.key] = s.effect

    def drop(self, function: str, sid: str) -> Statement:
        """Remove one statement (by Sid or key) from a function's role: what a test of the policy does."""
        role = self._role(function)
        for s in role.statements:
            if sid in (s.sid, s.key):
                role.statements = [x for x in role.statements if x is not s]
                self.dropped.append(s)
                self._cache.clear()
                self._keys_used[role.key] = frozenset(c.key for x in role.statements for c in x.conditions)
                return s
        raise KeyError(f"{function} has no statement {sid} (has {', '.join(s.sid for s in role.statements)})")

    def _role(self, function: str) -> Role:
        for logical, role in self.roles.items():
            if function in (logical, role.function):
                return role
        for arn, role in self.assumable.items():  # a workload role, by its ARN or label
            if function in (arn, role.function):
                return role
        raise KeyError(f"no function {function}")

    def install(self) -> None:
        if not self.on:
            return
        from botocore.handlers import BUILTIN_HANDLERS

        self._hooks = [("before-parameter-build.*.*", self._remember), ("before-call.*.*", self._check)]
        BUILTIN_HANDLERS.extend(self._hooks)

    def uninstall(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        for hook in self._hooks:
            if hook in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(hook)
        self._hooks = []

    def finish(self) -> None:
        """The run's usage to the collectors, and to STEWARD_SANDBOX_IAM_USAGE's file when set."""
        if not self.on:
            return
        with _collectors_lock:
            for collector in _collectors:
                collector.merge(Usage.from_json(json.loads(json.dumps(self.usage.as_json()))))
        path = os.environ.get(ENV_USAGE)
        if path and not self.dropped:  # a run without some statements is not the template's usage
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(self.usage.as_json()) + "\n")

    def exempt_client(self, client: Any) -> None:
        self.exempt.add(id(client._request_signer))

    # -- checks

    @contextlib.contextmanager
    def running(self, function_logical_id: str) -> Iterator[None]:
        """While a handler runs: its calls are checked against its role. Lambda writes its logs (and
        traces) with the same role."""
        role = self.roles.get(function_logical_id) if self.on else None
        if role is None:
            yield
            return
        self._lambda_writes(role)
        token = self._running.set((role, os.environ.get("AWS_ACCESS_KEY_ID")))
        try:
            yield
        finally:
            self._running.reset(token)

    def _lambda_writes(self, role: Role) -> None:
        group = f"arn:aws:logs:{self.region}:{self.account}:log-group:{role.log_group}"
        needs = [
            request("logs:CreateLogStream", group),
            request("logs:PutLogEvents", f"{group}:log-stream:sandbox"),
        ]
        if role.tracing:
            needs += [request("xray:PutTraceSegments", "*"), request("xray:PutTelemetryRecords", "*")]
        self.lambda_may(role.function, needs, "Lambda (logs, traces)")

    def lambda_may(self, function: str, needs: list[Request], what: str) -> bool:
        """What the Lambda service does with the function's role (its logs, an SQS event source's polls,
        the on-failure destination): checked and recorded as the function's; False when denied."""
        if not self.on:
            return True
        role = self._role(function)
        for req in needs:
            decision = self._decide(role, req)
            if not decision.allowed:
                self._deny(role, req, decision, what)
                if self.mode == "enforce":
                    return False
            else:
                self._record(role, req, decision, lambda_service=True)
        return True

    def poll(self, function: str, queue_url: str) -> bool:
        """An SQS event source polling its queue (Lambda uses the function's role)."""
        arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        needs = [request(f"sqs:{a}", arn) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
        return self.lambda_may(function, needs, "Lambda (SQS event source)")

    def on_failure(self, function: str, queue_url: str) -> bool:
        """Lambda sending a failed invocation's record to the function's on-failure destination."""
        arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        return self.lambda_may(function, [request("sqs:SendMessage", arn)], "Lambda (on-failure destination)")

    def dead_letter(self, queue_url: str, rule_name: str) -> bool:
        """EventBridge sending an event it could not deliver to the rule target's DLQ."""
        queue_arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        return self.events_may_send(
            queue_url, queue_arn, f"arn:aws:events:{self.region}:{self.account}:rule/{rule_name}"
        )

    def events_may_send(self, queue_url: str, queue_arn: str, rule_arn: str) -> bool:
        """EventBridge delivering a dead letter: the queue's resource policy must allow it."""
        if not self.on:
            return True
        statements = [s for p in self.queue_policies if queue_url in p.queues for s in p.statements]
        statements = [
            s
            for s in statements
            if any(pr in ("service:events.amazonaws.com", "aws:*") for pr in s.principals)
        ]
        req = request(
            "sqs:SendMessage", queue_arn, **{"aws:SourceArn": rule_arn, "aws:SourceAccount": self.account}
        )
        decision = evaluate(statements, req)
        if not decision.allowed:
            self.usage.denials.append(
                {"function": None, "principal": "events.amazonaws.com", "action": req.action,
                 "resource": req.resource, "by": "resource policy", "rule": rule_arn,
                 "message": f"the queue policy of {queue_arn} does not let EventBridge rule {rule_arn} send"}
            )  # fmt: skip
            return self.mode != "enforce"
        return True

    def _remember(self, params: Any, context: Any = None, **_: Any) -> None:
        if self._running.get() is not None and context is not None:
            context[_PARAMS] = params

    def _check(self, model: Any, context: Any = None, request_signer: Any = None, **_: Any) -> Any:
        running = self._running.get()
        if running is None or id(request_signer) in self.exempt:
            return None
        role, own_key = running
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", own_key) if credentials is not None else own_key
        if key != own_key:
            assumed = self._assumed_role(key)
            if assumed is None:
                return None  # another principal (a role the handler assumed, in its own account)
            role = assumed  # a workload account's role: its policies decide, in its account
        service = model.service_model.service_name
        call = Call(
            service,
            model.name,
            (context or {}).get(_PARAMS) or {},
            (context or {}).get("client_region") or self.region,
            role.account or self.account,
        )
        needs = requests_for(call)
        if needs is None:
            self.usage.unmodelled[f"{service}.{model.name}"] += 1
            prefix = IAM_PREFIX.get(service, service)
            needs = [request(f"{prefix}:{model.name}", "*")]
        for req in needs:
            decision = self._decide(role, req)
            if not decision.allowed:
                self._deny(role, req, decision, f"{service}.{model.name}")
                if self.mode == "enforce":
                    return self._answer(service, role, req, decision)
            else:
                self._record(role, req, decision)
        if service == "sts" and model.name == "AssumeRole":
            refused = self._trust(role, str(call.params.get("RoleArn", "")), call)
            if refused is not None:
                return refused
        if s3_missing_key(call):
            # S3 answers 403, not 404, to whoever may not list the bucket: a missing object is not told
            # apart from a forbidden one. The code sees that answer; no permission is missing. The
            # s3:ListBucket that decides it is used when it allows.
            listing = request("s3:ListBucket", f"arn:aws:s3:::{call.params.get('Bucket')}")
            decision = self._decide(role, listing)
            if not decision.allowed:
                message = self.message(role, listing, decision)
                self.usage.s3_refusals.append(
                    {"function": role.function, "call": f"{service}.{model.name}", "action": listing.action,
                     "resource": listing.resource, "key": call.params.get("Key"),
                     "message": f"{message} (so S3 answered the missing object {call.params.get('Key')} "
                                "with 403 Access Denied, not 404 NoSuchKey)"}
                )  # fmt: skip
                log.info("IAM: %s", self.usage.s3_refusals[-1]["message"])
                return self._answer(service, role, None, None)
            self._record(role, listing, decision)
        return None

    def _assumed_role(self, access_key: str) -> Role | None:
        """The workload role whose assumed credentials carry `access_key` (None: not one of theirs)."""
        if access_key in self._assumed:
            return self._assumed[access_key]
        found = None
        with contextlib.suppress(Exception):
            from moto.sts.models import sts_backends

            for account in list(sts_backends):
                for assumed in list(sts_backends[account]["aws"].assumed_roles):
                    if assumed.access_key_id == access_key and assumed.role_arn in self.assumable:
                        found = dataclasses.replace(
                            self.assumable[assumed.role_arn], session=assumed.session_name
                        )
        self._assumed[access_key] = found
        return found

    def _trust(self, caller: Role, role_arn: str, call: Call) -> Any:
        """sts:AssumeRole of a workload account's role: the role must exist there and trust the caller
        (the caller's own policy was checked as for any call). None when allowed."""
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[4] not in self.workload_accounts:
            return None  # a role of Steward's own account (or one the sandbox does not hold): as before
        target = self.assumable.get(role_arn)
        principal = caller.arn(self.account)
        req = request(
            "sts:AssumeRole",
            role_arn,
            **{
                "aws:PrincipalArn": principal,
                "aws:PrincipalAccount": caller.account or self.account,
                "aws:PrincipalType": "AssumedRole",
                "sts:RoleSessionName": call.params.get("RoleSessionName"),
                "sts:ExternalId": call.params.get("ExternalId"),
            },
        )
        from sandbox.accounts import principal_allowed

        statements = (
            principal_allowed(target.trust, principal, caller.account or self.account) if target else []
        )
        decision = evaluate(statements, req)
        if decision.allowed:
            return None
        why = (
            f"{role_arn} is not a role of account {parts[4]} (workload-account.yaml)"
            if target is None
            else f"the trust policy of {role_arn} does not allow {principal}"
        )
        message = (
            f"User: {caller.principal(self.account)} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn} ({why})"
        )
        self.usage.denials.append(
            {"function": caller.function, "call": "sts.AssumeRole", "action": "sts:AssumeRole",
             "resource": role_arn, "by": "trust policy", "message": message}
        )  # fmt: skip
        level = logging.ERROR if self.mode == "enforce" else logging.WARNING
        log.log(level, "IAM (%s): %s", self.mode, message)
        if self.mode != "enforce":
            return None
        from botocore.awsrequest import AWSResponse

        body = {
            "Error": {"Code": "AccessDenied", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())},
        }
        return AWSResponse("https://sandbox.invalid", 403, {}, None), body

    def _decide(self, role: Role, req: Request) -> Decision:
        used = self._keys_used.get(role.key, frozenset())
        key = (role.key, req.action.lower(), req.resource, tuple(kv for kv in req.context if kv[0] in used))
        decision = self._cache.get(key)
        if decision is None:
            decision = evaluate(role.statements, req, self._principal_context(role, used))
            with self._lock:
                if len(self._cache) > 20000:
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _principal_context(self, role: Role, used: frozenset[str]) -> dict[str, tuple[str, ...]]:
        if not used:
            return {}
        now = datetime.now(UTC)
        values = {
            "aws:requestedregion": self.region,
            "aws:principalarn": role.arn(self.account),
            "aws:principalaccount": role.account or self.account,
            "aws:principaltype": "AssumedRole",
            "aws:userid": f"AROASANDBOX:{role.function}",
            "aws:securetransport": "true",
            "aws:viaawsservice": "false",
            "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:epochtime": str(int(now.timestamp())),
        }
        return {k: (v,) for k, v in values.items() if k in used}

    def _record(self, role: Role, req: Request, decision: Decision, lambda_service: bool = False) -> None:
        fu = self.usage.functions[role.function]
        with self._lock:
            for key, action, resource in decision.grants:
                unit = (key, action, stable(resource))
                fu.used[unit] += 1
                examples = fu.examples.setdefault(unit, set())
                if len(examples) < 5:
                    examples.add(
                        f"{req.action} on {req.resource}" + (" (by Lambda)" if lambda_service else "")
                    )
            granting = {key for key, _, _ in decision.grants}
            if len(granting) == 1:  # this statement alone allowed the request
                needed = fu.needs.setdefault(granting.pop(), set())
                if len(needed) < _NEEDS_KEPT:
                    needed.add((req.action, req.resource))

    def _deny(self, role: Role, req: Request, decision: Decision, call: str) -> None:
        message = self.message(role, req, decision)
        self.usage.denials.append(
            {"function": role.function, "call": call, "action": req.action, "resource": req.resource,
             "by": "explicit deny" if decision.denied_by else "no allow", "message": message}
        )  # fmt: skip
        level = logging.ERROR if self.mode == "enforce" else logging.WARNING
        log.log(level, "IAM (%s): %s", self.mode, message)

    def message(self, role: Role, req: Request, decision: Decision) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if decision.denied_by is not None
            else f"because no identity-based policy allows the {req.action} action"
        )
        who = role.principal(self.account)
        return f"User: {who} is not authorized to perform: {req.action} on resource: {req.resource} {why}"

    def _answer(self, service: str, role: Role, req: Request | None, decision: Decision | None) -> Any:
        from botocore.awsrequest import AWSResponse

        code, status = _ACCESS_DENIED.get(service, _DEFAULT_DENIED)
        message = "Access Denied" if req is None or decision is None else self.message(role, req, decision)
        body = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
        }
        return AWSResponse("https://sandbox.invalid", status, {}, None), body

    def raise_if_denied(self) -> None:
        if self.mode == "enforce" and self.usage.denials:
            lines = "\n  ".join(d["message"] for d in self.usage.denials[:20])
            more = f"\n  ... and {len(self.usage.denials) - 20} more" if len(self.usage.denials) > 20 else ""
            raise AccessDeniedError(
                f"IAM denied {len(self.usage.denials)} call(s) during this sandbox's run "
                f'(template.yaml\'s policies; README "IAM in the sandbox"):\n  {lines}{more}'
            )


# --- the report ----------------------------------------------------------------------------------------


@dataclass
class StatementUse:
    """How much of one statement a run used: its actions and its resources, each used or not."""

    function: str
    key: str
    effect: str
    calls: int
    unused_actions: list[str]
    unused_resources: list[str]
    examples: list[str]

    @property
    def sid(self) -> str:
        """The Sid, or the whole key when the statement has none (a managed policy's, SAM's generated)."""
        sid = self.key.rsplit("/", 1)[-1]
        return self.key if self.key.startswith("arn:") or sid.startswith("#") else sid

    @property
    def managed(self) -> bool:
        return self.key.startswith("arn:")


def statement_uses(usage: Usage) -> list[StatementUse]:
    """Per statement of each role: calls it allowed, and the action and resource patterns it lists
    that no call needed (a grant never used). Deny statements are listed with the calls they matched."""
    found = []
    for name in sorted(usage.functions):
        f = usage.functions[name]
        for key in sorted(f.granted, key=lambda k: (k.startswith("arn:"), k)):
            units = f.granted[key]
            used = {u[1:]: n for u, n in f.used.items() if u[0] == key}
            actions = list(dict.fromkeys(a for a, _ in units))
            resources = list(dict.fromkeys(r for _, r in units))
            examples = sorted({e for u, _ in f.used.items() if u[0] == key for e in f.examples.get(u, ())})
            found.append(
                StatementUse(
                    function=name,
                    key=key,
                    effect=f.effects.get(key, "Allow"),
                    calls=sum(used.values()),
                    unused_actions=[a for a in actions if not any(ua == a for ua, _ in used)],
                    unused_resources=[r for r in resources if not any(ur == r for _, ur in used)],
                    examples=examples,
                )
            )
    return found


_WHY = re.compile(r"#.*?not in the sandbox:\s*(?P<why>.*)$", re.IGNORECASE)
_RESOURCE = re.compile(r"^  (?P<logical>[A-Za-z0-9]+):\s*$")
_SID = re.compile(r"^\s*- Sid:\s*(?P<sid>[A-Za-z0-9]+)")


def justifications(template_text: str) -> dict[tuple[str, str], str]:
    """The reasons template.yaml gives for grants no scenario uses: a `# not in the sandbox: why` comment
    inside a policy statement (or on the comment lines just above its `- Sid:`), keyed by (resource logical
    id, Sid); one inside a function's EventInvokeConfig is keyed (logical id, "EventInvokeConfig"): it
    speaks for the on-failure destination's statement SAM generates from it."""
    found: dict[tuple[str, str], str] = {}
    lines = template_text.splitlines()
    logical, anchor = "", ""
    for number, line in enumerate(lines):
        if match := _RESOURCE.match(line):
            logical, anchor = match["logical"], ""
        elif match := _SID.match(line):
            anchor = match["sid"]
        elif line.strip().startswith("EventInvokeConfig:"):
            anchor = "EventInvokeConfig"
        elif line.strip().startswith(("Policies:", "Events:", "Environment:")):
            anchor = ""
        why = _WHY.search(line)
        if why is None or not logical:
            continue
        reason = why["why"].strip()
        for more in lines[number + 1 :]:  # the reason goes on over the comment lines that follow
            if not more.lstrip().startswith("#") or _WHY.search(more):
                break
            reason += " " + more.strip().lstrip("#").strip()
        target = anchor
        if line.lstrip().startswith("#"):  # comment lines right above a statement are that statement's
            following = next((x for x in lines[number + 1 :] if not x.lstrip().startswith("#")), "")
            if match := _SID.match(following):
                target = match["sid"]
        if target:
            key = (logical, target)
            found[key] = f"{found[key]} {reason}" if key in found else reason
    return found


def _function_logical(role: str) -> str:
    """The function's logical id from its role's name (`steward-local-NotifyFunctionRole`)."""
    return role.rsplit("-", 1)[-1].removesuffix("Role")


def _justification(use: StatementUse, role: str, reasons: dict[tuple[str, str], str]) -> str | None:
    logical = _function_logical(role)
    if "EventInvokeConfigOnFailure" in use.key:
        return reasons.get((logical, "EventInvokeConfig"))
    return reasons.get((logical, use.sid))


def _token(resource: str) -> str:
    """What a justification names a resource by: its last component that is not a wildcard."""
    parts = [p for p in re.split(r"[:/]", resource.removesuffix("-??????")) if p and "*" not in p]
    return parts[-1] if parts else resource


def _unjustified(use: StatementUse, why: str | None) -> list[str]:
    """The never-used grants of a statement its justification does not cover: the whole statement needs
    a reason; an action never used needs its name in it, a resource its last component."""
    if use.calls == 0:
        return [] if why else ["the whole statement"]
    text = why or ""
    missing = [f"action {a}" for a in use.unused_actions if a.rpartition(":")[2] not in text]
    return missing + [f"resource {r}" for r in use.unused_resources if _token(r) not in text]


def report(
    usage: Usage,
    out: Any = None,
    verbose: bool = False,
    reasons: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """Print, per function, each statement it is granted: used (by which actions on which resources),
    partly used or never used, with the reason template.yaml gives for what is never used. Returns the
    inline grants never used that no reason covers."""
    out = out or sys.stdout
    reasons = reasons or {}
    unjustified: list[str] = []
    justified = 0
    out.write(f"IAM: what each function used beside what it is granted ({usage.runs} sandbox run(s))\n")
    current = None
    for use in statement_uses(usage):
        role = usage.functions[use.function].role
        if use.function != current:
            current = use.function
            out.write(f"\n{use.function}  (role {role})\n")
        if use.effect == "Deny":
            out.write(f"  Deny        {use.sid}: matched {use.calls} call(s)\n")
            continue
        whole = not use.unused_actions and not use.unused_resources
        state = "used" if whole else "NEVER USED" if use.calls == 0 else "partly used"
        why = None if use.managed else _justification(use, role, reasons)
        needed = len(usage.functions[use.function].needs.get(use.key, ()))
        alone = f", {needed} only it allows" if needed else ""
        managed = "  [AWS managed: listed, not counted]" if use.managed and not whole else ""
        out.write(f"  {state:<11} {use.sid}  ({use.calls} calls{alone}){managed}\n")
        for example in use.examples if verbose else use.examples[:3]:
            out.write(f"      {example}\n")
        if len(use.examples) > 3 and not verbose:
            out.write(f"      ... {len(use.examples) - 3} more (--verbose)\n")
        if use.calls:
            for action in use.unused_actions:
                out.write(f"      action never used:   {action}\n")
            for resource in use.unused_resources:
                out.write(f"      resource never used: {resource}\n")
        if not whole and why:
            out.write(f"      not in the sandbox: {why}\n")
        if not use.managed and not whole:
            missing = _unjustified(use, why)
            justified += not missing
            unjustified += [f"{use.function}: {use.sid}: {m}" for m in missing]
    if usage.unmodelled:
        out.write('\nCalls the sandbox has no IAM model of (checked as the action on "*"):\n')
        for op, n in usage.unmodelled.most_common():
            out.write(f"  {op}: {n}\n")
    out.write(f"\nDenied: {len(usage.denials)}\n")
    for d in usage.denials[:50]:
        out.write(f"  {d['message']}\n")
    if usage.s3_refusals:
        out.write(f"\nMissing S3 objects answered 403 for want of s3:ListBucket: {len(usage.s3_refusals)}\n")
        for d in usage.s3_refusals[:20]:
            out.write(f"  {d['function']}: {d['resource']} ({d['key']})\n")
    out.write(
        f"\nInline grants never used: {justified} statement(s) with a reason in template.yaml, "
        f"{len(unjustified)} grant(s) without one\n"
    )
    for line in unjustified:
        out.write(f"  {line}\n")
    return unjustified


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(prog="python -m sandbox.iam", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="what each function used beside what it is granted")
    rep.add_argument(
        "--scenario", action="append", help="a scenario of tests/sandbox/iam_scenarios.py (default: all)"
    )
    rep.add_argument("--usage", action="append", default=[], help=f"also merge a usage file ({ENV_USAGE})")
    rep.add_argument("--template", default=str(repo / "template.yaml"), help="where the reasons are read")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--verbose", action="store_true", help="every call of each statement")
    args = parser.parse_args(argv)
    os.environ[ENV_MODE] = "soft"  # the report lists what is denied instead of stopping at it
    logging.getLogger("sandbox.iam").setLevel(logging.CRITICAL)
    sys.path.insert(0, str(repo))
    from tests.sandbox import iam_scenarios

    names = (
        args.scenario if args.scenario is not None else ([] if args.usage else list(iam_scenarios.SCENARIOS))
    )
    usage = Usage()
    for name in names:
        usage.merge(iam_scenarios.run(name).usage)
    for path in args.usage:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    usage.merge(Usage.from_json(json.loads(line)))
    if args.json:
        json.dump(usage.as_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    reasons = justifications(Path(args.template).read_text(encoding="utf-8"))
    unjustified = report(usage, verbose=args.verbose, reasons=reasons)
    return 1 if usage.denials or unjustified else 0


if __name__ == "__main__":  # run as sandbox.iam's own module, so the sandboxes report to its collectors
    from sandbox.iam import main as _main

    raise SystemExit(_main())
