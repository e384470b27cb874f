"""Accounts in the sandbox: Steward's own, and the workload accounts beside it (README "Multi-account").

moto keeps every account's resources apart and picks the account of a call from its access key: a key
held by an account's IAM belongs to that account (any other key, like the sandbox's default
"testing", to moto's default account 123456789012), and sts:AssumeRole of another account's role
returns credentials of that account. So each account of a sandbox gets one access key, registered in
its IAM when the sandbox starts: Steward's functions run with Steward's account key, `sb.client(service,
account="prod")` calls as someone of the prod account, and what promotion does with an assumed role
lands in the role's account.

A workload account is what a user sets up with `workload-account.yaml`: the sandbox resolves that same
file for each workload (its parameters name Steward's account, region and stack) and takes from it the
roles Steward may assume there (their trust and permission policies, enforced on every call made with
their credentials) and the rules forwarding the account's events to Steward's bus (an event a workload's
SageMaker emits reaches Steward only through a rule that matches it, whose role may put it on Steward's
bus, and whose account Steward's bus policy lets in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.template import ACCOUNT, Resolver, TemplateError

DEFAULT_ACCOUNT = ACCOUNT  # moto's DEFAULT_ACCOUNT_ID: the account of any key no IAM holds
WORKLOAD_TEMPLATE = Path(__file__).resolve().parent.parent / "workload-account.yaml"
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SECRET = "testing"  # noqa: S105 (moto checks no signature: any secret works; this one is obviously fake)


def check_account(account: str, what: str = "account") -> str:
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise ValueError(f"{what} {account!r} is not a 12-digit AWS account id")
    return account


def check_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region {region!r} is not an AWS region name (e.g. eu-west-1)")
    return region


def access_key_id(account: str) -> str:
    """The sandbox's access key of `account` (20 characters, as AWS key ids are, so moto reads it from
    the signature). The default account keeps "testing", the key every sandbox used before accounts."""
    return "testing" if account == DEFAULT_ACCOUNT else f"AKIA{account}SBOX"


def credentials(account: str) -> dict[str, str]:
    """The environment that makes an SDK call as `account` on the embedded AWS (fake values)."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_id(account),
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SECRET,
        "AWS_SECURITY_TOKEN": SECRET,
    }


def register(account: str) -> None:
    """Put the account's access key in its IAM, so moto answers that key's calls from that account."""
    from moto.iam.models import AccessKey, iam_backends

    key_id = access_key_id(account)
    if account == DEFAULT_ACCOUNT:
        return  # moto's default for a key no IAM holds
    keys = iam_backends[account]["aws"].access_keys
    if key_id not in keys:
        key = AccessKey(user_name=None, prefix="AKIA", account_id=account)
        key.access_key_id, key.secret_access_key = key_id, SECRET
        keys[key_id] = key


@dataclass(frozen=True)
class Workload:
    """A workload account beside Steward's: its id, region (default: the sandbox's) and the template it
    runs for Steward (default: the repository's workload-account.yaml, with `parameters` over what the
    sandbox fills in)."""

    account: str
    region: str | None = None
    template: str | Path | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def of(spec: Any) -> Workload:
        if isinstance(spec, Workload):
            return spec
        if isinstance(spec, str):
            return Workload(spec)
        if isinstance(spec, Mapping):
            return Workload(**spec)
        raise TypeError(f"a workload is an account id, a Workload or a mapping, not {type(spec).__name__}")


@dataclass
class ForwardingRule:
    name: str
    pattern: dict[str, Any]
    targets: list[dict[str, str | None]]  # {"arn": event bus ARN, "role": role ARN or None}
    enabled: bool = True


@dataclass
class DeployedWorkload:
    """workload-account.yaml as deployed in one workload account."""

    name: str
    account: str
    region: str
    roles: dict[str, Any]  # role ARN -> sandbox.iam.Role (with its trust statements)
    rules: list[ForwardingRule]
    outputs: dict[str, Any]

    @property
    def read_role_arn(self) -> str | None:
        return self.outputs.get("LineageReadRoleArn")

    @property
    def promotion_role_arn(self) -> str | None:
        return self.outputs.get("PromotionRoleArn")


def deploy(
    name: str,
    workload: Workload,
    region: str,
    steward: Mapping[str, str],
) -> DeployedWorkload:
    """Resolve the workload's template for its account and region. `steward` names what a user passes
    from Steward's stack: StewardAccountId, StewardRegion, StewardStackName, ManagedNamePrefix and
    ModelExecutionRoleName; `workload.parameters` override them."""
    from samtranslator.yaml_helper import yaml_parse

    from sandbox import iam

    if not _NAME.fullmatch(name):
        raise ValueError(f"workload name {name!r}: lower-case letters, digits and '-', at most 31")
    path = Path(workload.template) if workload.template else WORKLOAD_TEMPLATE
    try:
        cfn = yaml_parse(path.read_text())
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    declared = cfn.get("Parameters") or {}
    parameters = {k: v for k, v in steward.items() if k in declared} | dict(workload.parameters)
    stack = f"steward-workload-{name}"
    resolver = Resolver(cfn, parameters, region, stack, workload.account)
    resources = {
        k: v
        for k, v in (cfn.get("Resources") or {}).items()
        if "Condition" not in v or resolver.condition(v["Condition"])
    }
    for logical, resource in resources.items():  # physical ids first: the resources name each other
        raw = resource.get("Properties") or {}
        if resource["Type"] == "AWS::IAM::Role":
            role = str(resolver.resolve(raw.get("RoleName")) or f"{stack}-{logical}")
            resolver.physical[logical] = {
                "Ref": role,
                "Arn": f"arn:aws:iam::{workload.account}:role/{role}",
            }
        elif resource["Type"] == "AWS::Events::Rule":
            rule = str(resolver.resolve(raw.get("Name")) or f"{stack}-{logical}")
            resolver.physical[logical] = {
                "Ref": rule,
                "Arn": f"arn:aws:events:{region}:{workload.account}:rule/{rule}",
            }
        else:
            raise TemplateError(
                f"{path}: {logical} is a {resource['Type']}, which the sandbox does not deploy"
            )
    roles: dict[str, Any] = {}
    rules: list[ForwardingRule] = []
    for logical, resource in resources.items():
        props = resolver.resolve(resource.get("Properties") or {})
        phys = resolver.physical[logical]
        if resource["Type"] == "AWS::IAM::Role":
            statements: list[Any] = []
            for policy in props.get("Policies") or []:
                statements += iam.statements_of(policy.get("PolicyDocument"), str(policy.get("PolicyName")))
            if props.get("ManagedPolicyArns"):
                raise TemplateError(f"{path}: {logical}: the sandbox evaluates inline policies only")
            trust = trust_statements(props.get("AssumeRolePolicyDocument"), phys["Arn"], logical)
            iam.check_keys(statements + trust, logical)
            roles[phys["Arn"]] = iam.Role(
                function=f"{phys['Ref']} ({name} {workload.account})",
                logical_id=logical,
                name=phys["Ref"],
                statements=statements,
                log_group="",
                tracing=False,
                account=workload.account,
                trust=trust,
            )
        elif resource["Type"] == "AWS::Events::Rule":
            if props.get("EventBusName", "default") != "default":
                raise TemplateError(f"{path}: {logical}: the sandbox forwards from the default bus only")
            pattern = props.get("EventPattern")
            if not isinstance(pattern, dict):
                raise TemplateError(f"{path}: {logical}: an event pattern is needed to forward events")
            rules.append(
                ForwardingRule(
                    name=phys["Ref"],
                    pattern=pattern,
                    targets=[
                        {"arn": t.get("Arn"), "role": t.get("RoleArn")} for t in props.get("Targets") or []
                    ],
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                )
            )
    outputs = {
        k: resolver.resolve(v["Value"])
        for k, v in (cfn.get("Outputs") or {}).items()
        if "Condition" not in v or resolver.condition(v["Condition"])
    }
    return DeployedWorkload(name, workload.account, region, roles, rules, outputs)


def deploy_all(
    specs: Mapping[str, Any],
    parameters: dict[str, str],
    given: Mapping[str, str],
    steward_account: str,
    region: str,
    stack: str,
) -> dict[str, DeployedWorkload]:
    """Deploy each workload account of a sandbox (README "Multi-account"), then wire their accounts and
    roles into Steward's `parameters`, unless the deployer `given` them. Raises ValueError."""
    if not specs:
        return {}
    role = str(parameters.get("ModelExecutionRoleArn") or "")
    steward = {
        "StewardAccountId": steward_account,
        "StewardRegion": region,
        "StewardStackName": stack,
        "ManagedNamePrefix": str(parameters.get("ManagedNamePrefix", "")),
        "ModelExecutionRoleName": role.split(":role/", 1)[1] if ":role/" in role else "",
    }
    deployed: dict[str, DeployedWorkload] = {}
    seen = {steward_account}
    for name, spec in specs.items():
        try:
            workload = Workload.of(spec)
            check_account(workload.account, f"workload {name}'s account")
            workload_region = check_region(workload.region or region)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if workload.account in seen:
            raise ValueError(f"workload {name}: account {workload.account} is already in this sandbox")
        seen.add(workload.account)
        deployed[name] = deploy(name, workload, workload_region, steward)
    wired = {
        "WorkloadAccountIds": [w.account for w in deployed.values()],
        "WorkloadReadRoleArns": [w.read_role_arn for w in deployed.values() if w.read_role_arn],
        "WorkloadPromotionRoleArns": [
            w.promotion_role_arn for w in deployed.values() if w.promotion_role_arn
        ],
    }
    for key, values in wired.items():
        if key not in given:
            parameters[key] = ",".join(str(v) for v in values)
    return deployed


def trust_statements(document: Any, role_arn: str, where: str) -> list[Any]:
    """A role's trust policy as statements on the role itself (a trust policy names no Resource)."""
    from sandbox import iam

    raw = (document or {}).get("Statement") or []
    listed = raw if isinstance(raw, list) else [raw]
    return iam.statements_of(
        {"Statement": [{**s, "Resource": role_arn} for s in listed if isinstance(s, dict)]}, f"{where} trust"
    )


def principal_allowed(statements: list[Any], principal_arn: str, account: str) -> list[Any]:
    """The resource-policy statements whose Principal covers an IAM principal of `account`: the
    account itself (its id or its root), that exact principal, or everyone."""
    names = {
        f"aws:{account}",
        f"aws:arn:aws:iam::{account}:root",
        f"aws:{principal_arn}",
        "aws:*",
    }
    return [s for s in statements if any(p in names for p in s.principals)]


def bus_policy_statements(cfn: dict[str, Any], resolver: Resolver) -> list[Any]:
    """The statements of the EventBusPolicy resources Steward's template creates on its default bus."""
    from sandbox import iam

    found = []
    for logical, resource in (cfn.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Events::EventBusPolicy":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        if props.get("EventBusName", "default") != "default":
            continue
        if "Statement" in props:
            document: Any = {"Statement": [props["Statement"]]}
        elif "Policy" in props:
            document = props["Policy"]
        else:  # the legacy form: Principal (an account) and Action
            bus = f"arn:aws:events:{resolver.region}:{resolver.account}:event-bus/default"
            statement = {"Effect": "Allow", "Principal": {"AWS": props.get("Principal")}}
            document = {"Statement": [{**statement, "Action": props.get("Action"), "Resource": bus}]}
        found += iam.statements_of(document, logical)
    return found


def forwarded_by(
    workload: DeployedWorkload, event: dict[str, Any], bus_arn: str, bus_policy: list[Any]
) -> tuple[str | None, str]:
    """(the rule that forwards `event` to Steward's bus, or None; why), as EventBridge decides it: a rule
    of the workload's default bus in the event's region matches it, its target is Steward's bus, its role
    may put events there, and Steward's bus policy lets the workload's account in."""
    from sandbox import iam
    from sandbox.patterns import matches

    if event.get("region") != workload.region:
        return (
            None,
            f"no forwarding rule in {event.get('region')} (the workload's rules are in {workload.region})",
        )
    why = "no forwarding rule of the workload matches the event"
    for rule in workload.rules:
        if not rule.enabled or not matches(rule.pattern, event):
            continue
        for target in rule.targets:
            if target["arn"] != bus_arn:
                why = f"rule {rule.name} targets {target['arn']}, not Steward's bus {bus_arn}"
                continue
            role = workload.roles.get(str(target["role"])) if target["role"] else None
            put = iam.request(
                "events:PutEvents",
                bus_arn,
                **{"events:source": event.get("source"), "events:detail-type": event.get("detail-type")},
            )
            if target["role"] and (role is None or not iam.evaluate(role.statements, put).allowed):
                why = f"rule {rule.name}'s role {target['role']} may not put events on {bus_arn}"
                continue
            principal = str(target["role"] or f"arn:aws:iam::{workload.account}:root")
            allowed = principal_allowed(bus_policy, principal, workload.account)
            if not iam.evaluate(allowed, put).allowed:
                why = (
                    f"Steward's bus policy does not let account {workload.account} put events "
                    "(template parameter WorkloadAccountIds)"
                )
                continue
            return rule.name, f"forwarded by {rule.name}"
    return None, why
