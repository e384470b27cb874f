"""The provisioning registry: one provisioner per CloudFormation resource type.

A provisioner answers three questions about a resource of its type, each in its own pass over the
template (sandbox/provisioning/__init__.py runs them): its physical ids and attributes (what Ref and
Fn::GetAtt return), what to create in the embedded AWS, and what the sandbox itself routes by (the
functions, rules, event sources and API routes of the Inventory). A type without a provisioner gets
placeholder ids and nothing else: the sandbox does not run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.template import FunctionSpec, Inventory, Resolver, TemplateError


@dataclass
class Stack:
    """What a provisioner may use: the stack's names, the embedded AWS's clients, the resolver."""

    name: str
    account: str
    region: str
    template_dir: Path
    resolver: Resolver
    client: Callable[[str], Any]

    @property
    def arn_base(self) -> str:
        return f"{self.region}:{self.account}"

    def name_of(self, logical: str, props: dict[str, Any], key: str) -> str:
        """The resource's name property resolved, or the name CloudFormation makes up (stack-logical)."""
        value = props.get(key)
        return str(self.resolver.resolve(value)) if value else f"{self.name}-{logical}"

    def name_and_arn(
        self, logical: str, props: dict[str, Any], key: str, service: str, resource: str = "{}"
    ) -> tuple[str, str]:
        """The resource's name (as `name_of`) and its ARN in this stack: `resource` is the ARN's resource
        part with `{}` for the name (e.g. "table/{}")."""
        name = self.name_of(logical, props, key)
        return name, f"arn:aws:{service}:{self.arn_base}:{resource.format(name)}"

    def function_by_ref(self, inventory: Inventory, ref: str) -> FunctionSpec:
        for spec in inventory.functions.values():
            if ref in (spec.name, spec.arn, spec.logical_id):
                return spec
        raise TemplateError(f"no function {ref}")

    def function_logical_by_arn(self, arn: str) -> str | None:
        physical = self.resolver.physical
        return next((k for k, v in physical.items() if v.get("Arn") == arn and ":function:" in arn), None)

    def queue_url_for_arn(self, arn: str | None) -> str | None:
        return next(
            (
                v["QueueUrl"]
                for v in self.resolver.physical.values()
                if v.get("Arn") == arn and "QueueUrl" in v
            ),
            None,
        )


class Provisioner:
    """The default: placeholder ids, nothing created, nothing routed. Subclasses override a pass."""

    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        """Ref and attributes, from the raw (unresolved) properties: everything may Ref everything."""
        return {"Ref": f"{stack.name}-{logical}", "Arn": f"arn:aws:sandbox:{stack.arn_base}:{logical}"}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        """Create the resource in moto, from its resolved properties (may update `physical`)."""

    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        """Record what the sandbox routes by, from the raw properties (functions are wired first)."""


PROVISIONERS: dict[str, Provisioner] = {}
DEFAULT = Provisioner()


def provisioner(*kinds: str) -> Callable[[type[Provisioner]], type[Provisioner]]:
    """Register the decorated class as the provisioner of each resource type in `kinds`."""

    def register(cls: type[Provisioner]) -> type[Provisioner]:
        for kind in kinds:
            if kind in PROVISIONERS:
                raise ValueError(f"two provisioners for {kind}")
            PROVISIONERS[kind] = cls()
        return cls

    return register


def for_type(kind: str) -> Provisioner:
    return PROVISIONERS.get(kind, DEFAULT)
