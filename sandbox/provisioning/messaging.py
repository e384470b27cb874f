"""Provisioners of what carries messages: SQS queues, SNS topics, SES identities."""

from __future__ import annotations

import json
from typing import Any

from sandbox.provisioning.registry import Provisioner, Stack, provisioner

QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MessageRetentionPeriod",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "ReceiveMessageWaitTimeSeconds",
)


@provisioner("AWS::SQS::Queue")
class Queue(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        queue = stack.name_of(logical, props, "QueueName")
        url = f"https://sqs.{stack.region}.amazonaws.com/{stack.account}/{queue}"
        return {
            "Ref": url,
            "QueueName": queue,
            "Arn": f"arn:aws:sqs:{stack.arn_base}:{queue}",
            "QueueUrl": url,
        }

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        attributes = {k: str(v) for k, v in props.items() if k in QUEUE_ATTRIBUTES}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        stack.client("sqs").create_queue(QueueName=physical["QueueName"], Attributes=attributes)


@provisioner("AWS::SNS::Topic")
class Topic(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        topic, arn = stack.name_and_arn(logical, props, "TopicName", "sns")
        return {"Ref": arn, "TopicName": topic, "TopicArn": arn}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        stack.client("sns").create_topic(Name=physical["TopicName"])


@provisioner("AWS::SES::EmailIdentity")
class EmailIdentity(Provisioner):
    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        identity = str(props["EmailIdentity"])
        stack.client("sesv2").create_email_identity(EmailIdentity=identity)
        stack.client("ses").verify_email_identity(EmailAddress=identity)  # as if the owner clicked the link
