"""Provisioners of what runs: Lambda functions and layers, their invoke configs and event sources, roles."""

from __future__ import annotations

from typing import Any

from sandbox.provisioning.registry import Provisioner, Stack, provisioner
from sandbox.template import CODE_BUCKET, FunctionSpec, Inventory, QueueMappingSpec, TemplateError


@provisioner("AWS::Lambda::Function")
class Function(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        code = props.get("Code", {})
        name = (  # the function's folder name: what tests and the CLI call it by
            str(code.get("S3Key", logical)).rstrip("/").rsplit("/", 1)[-1]
            if code.get("S3Bucket") == CODE_BUCKET
            else logical
        )
        name = stack.name_of(logical, props, "FunctionName") if props.get("FunctionName") else name
        return {"Ref": name, "Arn": f"arn:aws:lambda:{stack.arn_base}:function:{name}"}

    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        wanted = ("Environment", "Timeout", "MemorySize", "Handler", "Code")
        resolved = stack.resolver.resolve({k: v for k, v in props.items() if k in wanted})
        code = resolved.get("Code", {})
        if code.get("S3Bucket") != CODE_BUCKET:
            raise TemplateError(f"{logical}: the sandbox runs functions whose CodeUri is a local folder")
        env = {k: str(v) for k, v in (resolved.get("Environment") or {}).get("Variables", {}).items()}
        physical = stack.resolver.physical[logical]
        inventory.functions[logical] = FunctionSpec(
            logical_id=logical,
            name=physical["Ref"],
            code_dir=(stack.template_dir / code["S3Key"]).resolve(),
            handler=resolved["Handler"],
            environment=env,
            timeout=int(resolved.get("Timeout", 3)),
            memory=int(resolved.get("MemorySize", 128)),
            arn=physical["Arn"],
        )


@provisioner("AWS::Lambda::LayerVersion")
class LayerVersion(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"Ref": f"arn:aws:lambda:{stack.arn_base}:layer:{logical}:1"}


@provisioner("AWS::Lambda::EventInvokeConfig")
class EventInvokeConfig(Provisioner):
    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        resolved = stack.resolver.resolve(props)
        target = stack.function_by_ref(inventory, resolved["FunctionName"])
        target.retries = int(resolved.get("MaximumRetryAttempts", 2))
        on_failure = ((resolved.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        target.on_failure = stack.queue_url_for_arn(on_failure) if on_failure else None


@provisioner("AWS::Lambda::EventSourceMapping")
class EventSourceMapping(Provisioner):
    def wire(self, stack: Stack, logical: str, props: dict[str, Any], inventory: Inventory) -> None:
        resolved = stack.resolver.resolve(props)
        source = str(resolved.get("EventSourceArn", ""))
        if not source.startswith("arn:aws:sqs:"):
            return  # only SQS event sources are polled in the sandbox
        function = stack.function_by_ref(inventory, resolved["FunctionName"])
        inventory.queue_mappings.append(
            QueueMappingSpec(
                function=function.logical_id,
                queue_url=stack.queue_url_for_arn(source) or "",
                batch_size=int(resolved.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (resolved.get("FunctionResponseTypes") or []),
            )
        )


@provisioner("AWS::IAM::Role")
class Role(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        name = f"{stack.name}-{logical}"
        return {"Ref": name, "Arn": f"arn:aws:iam::{stack.account}:role/{name}"}
