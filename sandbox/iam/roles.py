"""The roles of a translated template: each function's execution role, the queue policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.iam.policy import MANAGED_POLICIES, Statement, check_keys, statements_of
from sandbox.iam.settings import IamError

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
                    "(sandbox/iam/policy.py MANAGED_POLICIES)"
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
