"""What an operator does once the stack is deployed: the Slack secret pointed at the local receiver,
the policy published to its SSM parameter (README "The sandbox")."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.facade import Sandbox


def configure_notifications(sb: Sandbox) -> None:
    """Start the local receiver, point the Slack secret at it and publish the policy (if any)."""
    from sandbox.receiver import Receiver

    assert sb.inventory is not None
    outputs = sb.inventory.outputs
    sb.receiver = Receiver()
    sb.receiver.start()
    if "SlackSecretName" in outputs:
        sb.client("secretsmanager").put_secret_value(
            SecretId=outputs["SlackSecretName"],
            SecretString=json.dumps(
                {
                    "bot_token": "xoxb-sandbox",
                    "api_base_url": f"{sb.receiver.url}/slack/api",
                    "signing_secret": secrets.token_hex(16),
                }
            ),
        )
    if sb.policy is not None:
        publish_policy(sb)


def publish_policy(sb: Sandbox) -> None:
    """The sandbox's policy, checked, in the policy parameter; the parameter caches cleared."""
    from steward.policy import parse_policy

    assert sb.inventory is not None and sb.receiver is not None
    if "PolicyParameterName" not in sb.inventory.outputs:
        return
    # Webhooks in a sandbox policy may point at the local receiver: ${sandbox.receiver}/webhooks/NAME
    document = policy_json(sb.policy).replace("${sandbox.receiver}", sb.receiver.url)
    parse_policy(document)  # a bad policy fails here, naming the field, before anything runs
    sb.client("ssm").put_parameter(
        Name=sb.inventory.outputs["PolicyParameterName"],
        Value=document,
        Type="String",
        Overwrite=True,
        Tier="Advanced",
    )
    # Invocations read it afresh (their Parameters cache is their own); code outside them too.
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    for provider in list(DEFAULT_PROVIDERS.values()):
        provider.clear_cache()


def policy_json(policy: Any) -> str:
    """A policy given as a file, a Policy model or a plain value, as the JSON text to publish."""
    if isinstance(policy, str | Path) and Path(policy).is_file():
        return Path(policy).read_text()
    if hasattr(policy, "model_dump_json"):
        return str(policy.model_dump_json())
    return json.dumps(policy)


def fresh_providers() -> None:
    """Powertools' providers keep the boto3 clients they made (of the previous sandbox's moto): new ones
    for this sandbox. Their cached values are per invocation (sandbox/isolation.py): a test may change the
    policy between two invocations."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
