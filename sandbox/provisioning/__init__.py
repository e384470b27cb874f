"""CloudFormation provisioning: the translated template's resources, made in the embedded AWS.

One provisioner per resource type (sandbox/provisioning/registry.py; the types in storage, messaging,
compute, routing and observability); `provision` runs their three passes in the order CloudFormation's
dependencies need.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.provisioning import compute, messaging, observability, routing, storage  # noqa: F401 (register)
from sandbox.provisioning.registry import PROVISIONERS, Provisioner, Stack, for_type, provisioner
from sandbox.template import Inventory, Resolver, translate

__all__ = ["PROVISIONERS", "Provisioner", "Stack", "provision", "provisioner"]


def provision(
    template_path: Path,
    parameters: dict[str, str],
    *,
    stack: str,
    account: str,
    region: str,
    client: Callable[[str], Any],
) -> tuple[dict[str, Any], Resolver, Inventory]:
    """Translate the template, create its resources and return (CloudFormation, resolver, inventory)."""
    cfn = translate(template_path, parameters, region)
    resolver = Resolver(cfn, parameters, region, stack, account)
    ctx = Stack(stack, account, region, template_path.parent, resolver, client)
    inventory = Inventory(cfn=cfn)
    resources = cfn.get("Resources", {})
    included = {
        k: v for k, v in resources.items() if "Condition" not in v or resolver.condition(v["Condition"])
    }
    # Physical ids first (everything can Ref everything), then create what moto can hold.
    for logical, resource in included.items():
        resolver.physical[logical] = for_type(resource["Type"]).physical(ctx, logical, _props(resource))
    # Dead-letter queues before the queues whose redrive policy names them.
    for logical, resource in sorted(included.items(), key=lambda kv: "RedrivePolicy" in _props(kv[1])):
        props = resolver.resolve(_props(resource))
        for_type(resource["Type"]).create(ctx, logical, props, resolver.physical[logical])
    # Functions first: invoke configs, rules and event sources refer to them.
    for logical, resource in sorted(
        included.items(), key=lambda kv: kv[1]["Type"] != "AWS::Lambda::Function"
    ):
        for_type(resource["Type"]).wire(ctx, logical, _props(resource), inventory)
    for name, output in (cfn.get("Outputs") or {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        inventory.outputs[name] = resolver.resolve(output["Value"])
    inventory.physical = resolver.physical
    return cfn, resolver, inventory


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}
