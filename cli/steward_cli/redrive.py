"""Use case: send what failed past its retries back to the function that failed it, and report.

A DLQ holds two shapes: Lambda's on-failure destination record (`requestPayload` is the event,
`responsePayload` the error, `requestContext.functionArn` the function) and EventBridge's target
dead letter (the event itself, the error in message attributes). Both are unwrapped to the original
event; a message is deleted only once its function succeeded, so nothing is lost by redriving.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class DeadLetter:
    receipt: str
    event: Any
    function_arn: str | None
    error: str | None


class DeadLetterQueue(Protocol):
    def receive(self, max_messages: int) -> list[dict[str, Any]]: ...
    def delete(self, receipt: str) -> None: ...


@dataclass
class RedriveReport:
    redriven: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"redriven": self.redriven, "failed": self.failed, "unreadable": self.unreadable}


def unwrap(message: dict[str, Any]) -> DeadLetter | None:
    """The original event of a DLQ message (either shape), or None if the body is not JSON."""
    try:
        body = json.loads(message["Body"])
    except (KeyError, ValueError):
        return None
    if isinstance(body, dict) and "requestPayload" in body and "requestContext" in body:
        response = body.get("responsePayload") or {}
        error = (
            f"{response.get('errorType')}: {response.get('errorMessage')}"
            if isinstance(response, dict)
            else None
        )
        arn = (body.get("requestContext") or {}).get("functionArn")
        return DeadLetter(message["ReceiptHandle"], body["requestPayload"], arn, error)
    attributes = message.get("MessageAttributes") or {}
    error = (attributes.get("ERROR_MESSAGE") or {}).get("StringValue")
    # EventBridge names the rule target it could not reach: the event goes back to that function.
    target = (attributes.get("TARGET_ARN") or {}).get("StringValue")
    function = target if target and ":function:" in target else None
    return DeadLetter(message["ReceiptHandle"], body, function, error)


def redrive(
    queue: DeadLetterQueue, invoke: Callable[[Any, str | None], tuple[bool, str | None]], limit: int = 1000
) -> RedriveReport:
    """Re-run each dead letter (up to `limit`) through `invoke(event, function_arn) -> (ok, error)`."""
    report = RedriveReport()
    seen = 0
    while seen < limit:
        batch = queue.receive(min(10, limit - seen))
        if not batch:
            break
        for message in batch:
            seen += 1
            letter = unwrap(message)
            if letter is None:
                report.unreadable += 1
                continue
            ok, error = invoke(letter.event, letter.function_arn)
            event_id = letter.event.get("id") if isinstance(letter.event, dict) else None
            if ok:
                queue.delete(letter.receipt)
                report.redriven.append({"eventId": event_id, "previousError": letter.error})
            else:
                report.failed.append({"eventId": event_id, "error": error})
    return report
