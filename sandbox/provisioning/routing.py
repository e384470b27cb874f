"""Provisioners of what sends work to functions: EventBridge rules and the API Gateway REST API."""

from __future__ import annotations

import json
from typing import Any

from sandbox.patterns import validate_pattern
from sandbox.provisioning.registry import Provisioner, Stack, provisioner
from sandbox.template import Inventory, RouteSpec, RuleSpec


@provisioner("AWS::Events::Rule")
class Rule(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        rule = stack.name_of(logical, props, "Name")
        return {"Ref": rule, "Arn": f"arn:aws:events:{stack.arn_base}:rule/{rule}"}

    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        resolved = stack.resolver.resolve(props)
        pattern = resolved.get("EventPattern")
        if isinstance(pattern, str):  # CloudFormation accepts the pattern as a JSON string too
            pattern = json.loads(pattern)
        if pattern is not None:
            validate_pattern(pattern)
        targets = []
        for target in resolved.get("Targets", []):
            function = stack.function_logical_by_arn(target["Arn"])
            if function is None:
                continue  # only Lambda targets run in the sandbox
            dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
            targets.append(
                {
                    "function": function,
                    "dlq": stack.queue_url_for_arn(dlq) if dlq else None,
                    "input": target.get("Input"),
                    "retry": target.get("RetryPolicy"),
                }
            )
        inventory.rules.append(
            RuleSpec(
                logical,
                stack.resolver.physical[logical]["Ref"],
                pattern,
                resolved.get("ScheduleExpression"),
                targets,
                resolved.get("State", "ENABLED") == "ENABLED",
            )
        )


@provisioner("AWS::ApiGateway::RestApi")
class RestApi(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"Ref": "sandboxapi", "RootResourceId": "root"}

    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        body = props.get("Body") or {}
        for path, methods in (body.get("paths") or {}).items():
            for method, spec in methods.items():
                function = _integrated_function(spec)
                if not function:
                    continue
                security = spec.get("security") or body.get("security") or []
                auth = "AWS_IAM" if any("AWS_IAM" in s for s in security) else "NONE"
                method_name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                inventory.routes.append(RouteSpec(method_name, path, function, auth))


def _integrated_function(spec: dict[str, Any]) -> str | None:
    """The logical id of the function a method's Lambda proxy integration invokes (None: not a function)."""
    integration = spec.get("x-amazon-apigateway-integration") or {}
    uri = integration.get("uri", {})
    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
    text = text[0] if isinstance(text, list) else text
    return text.split("${", 2)[-1].split(".Arn}", 1)[0] if ".Arn}" in text else None
