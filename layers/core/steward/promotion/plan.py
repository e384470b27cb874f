"""Pure planning: resource names, the endpoint config and the DeploymentConfig a stage asks for."""

from __future__ import annotations

import re
from typing import Any

from steward.policy import Stage

MAX_NAME = 63


def resource_name(group: str, version: int | None, suffix: str) -> str:
    """`<group>-v<version>-<suffix>`, within SageMaker's 63 characters and its name pattern."""
    tail = f"-v{version if version is not None else 0}-{suffix}"
    head = re.sub(r"[^a-zA-Z0-9-]", "-", group).strip("-")[: MAX_NAME - len(tail)].rstrip("-")
    return f"{head or 'model'}{tail}"


def tags(
    deployment_id: str, package_arn: str, approval_request: str | None, stage: str
) -> list[dict[str, str]]:
    """Tags linking what promotion creates back to the package, the approval and the deployment."""
    values = {
        "steward:deployment": deployment_id,
        "steward:model-package": package_arn,
        "steward:approval-request": approval_request or "none",
        "steward:stage": stage,
        "managed-by": "steward",
    }
    return [{"Key": k, "Value": v[:256]} for k, v in values.items()]


def production_variants(stage: Stage, model_name: str) -> list[dict[str, Any]]:
    return [
        {
            "VariantName": "AllTraffic",
            "ModelName": model_name,
            "InitialInstanceCount": stage.instance_count,
            "InstanceType": stage.instance_type,
            "InitialVariantWeight": 1.0,
        }
    ]


def deployment_config(stage: Stage) -> dict[str, Any]:
    """Blue/green with the stage's traffic shifting, bake time and alarm-driven auto-rollback."""
    routing: dict[str, Any] = {
        "Type": {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}[stage.strategy],
        "WaitIntervalInSeconds": stage.bake_seconds,
    }
    if stage.strategy == "canary":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": stage.canary_percent}
    elif stage.strategy == "linear":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": stage.linear_step_percent}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": min(stage.bake_seconds, 3600),
            # Every shift step bakes; leave room for instance start-up on top.
            "MaximumExecutionTimeoutInSeconds": max(
                600, min(28800, _steps(stage) * stage.bake_seconds + 3600)
            ),
        }
    }
    if stage.auto_rollback and stage.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in stage.rollback_alarms]}
    return config


def _steps(stage: Stage) -> int:
    if stage.strategy == "canary":
        return 2
    if stage.strategy == "linear":
        return -(-100 // stage.linear_step_percent)
    return 1


def warnings_for(stage: Stage) -> list[str]:
    if stage.auto_rollback and not stage.rollback_alarms:
        return [
            f"stage {stage.name}: auto_rollback is on but no rollback_alarms are named, so SageMaker "
            "cannot roll back on its own; name CloudWatch alarms in stages[].rollback_alarms"
        ]
    return []


def execution_role(role_arn: str, account: str) -> str:
    """The execution role CreateModel passes in `account`: the stack's ModelExecutionRoleArn, or in another
    account the role of the same name (path included) there (README "Multi-account")."""
    parts = role_arn.split(":", 5)
    if len(parts) < 6 or parts[4] == account:
        return role_arn
    return ":".join([*parts[:4], account, parts[5]])
