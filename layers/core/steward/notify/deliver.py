"""Use case: deliver one notification to every target its route names, once per dedupe window."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from steward.notify.models import Kind, Notification
from steward.policy import Policy, Severity


class DeliveryError(Exception):
    """A delivery failed. `permanent` failures (bad address, 4xx) are recorded and not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(message)


class RetryLaterError(Exception):
    """At least one target failed in a way worth retrying, or is being sent by another invocation right
    now: the message goes back to the queue. `failed` is False when nothing failed (only in flight)."""

    def __init__(self, message: str, *, failed: bool = True) -> None:
        self.failed = failed
        super().__init__(message)


# How long a claim to send to one target holds off other invocations (copies of the same message, SQS
# delivering at least once): longer than the notifier may run (30 s), shorter than the queue hides a
# message it delivered (180 s), so the redelivery after a crash finds the claim lapsed and sends.
SENDING_LEASE_SECONDS = 60


@dataclass(frozen=True)
class Target:
    channel: str  # slack | email | webhook
    address: str  # channel name / email address / webhook name
    # This message's id for this target, the same on every retry and redelivery (a webhook's webhook-id,
    # the Standard Webhooks idempotency key); `deliver` sets it, and it is not part of the target's key.
    message_id: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.address}"


OCCURRENCE_MARK = "*occurrence:"


def occurrence_of(notification: Notification) -> str:
    """What identifies this occurrence of a notification when no earlier attempt recorded one: its
    dedupe key and creation time (both carried in the queued message, so unchanged by redelivery)."""
    basis = f"{notification.dedupe_key}\n{notification.created_at.isoformat()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def message_id(occurrence: str, target: Target) -> str:
    """`msg_` and a digest of the occurrence and the target: stable, distinct per target."""
    return "msg_" + hashlib.sha256(f"{occurrence}\n{target.key}".encode()).hexdigest()[:32]


class Channel(Protocol):
    def send(self, target: Target, notification: Notification) -> dict[str, Any]: ...


class DeliveryLog(Protocol):
    def claim(self, dedupe_key: str, window_seconds: int) -> tuple[bool, set[str]]: ...
    def claim_target(self, dedupe_key: str, target_key: str, lease_seconds: int) -> str: ...
    def release_target(self, dedupe_key: str, target_key: str) -> None: ...
    def hold_for_digest(self, bucket: str, notification: Notification) -> None: ...
    def mark(self, dedupe_key: str, target_key: str) -> None: ...
    def complete(self, dedupe_key: str) -> None: ...
    def record(self, attempt: dict[str, Any]) -> None: ...


@dataclass
class DeliveryReport:
    deduplicated: bool = False
    digested: bool = False
    sent: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def digest_bucket(group: str | None, policy: Policy, severity: Severity) -> str:
    """The digest a notification joins: its route's (the group's own, or the default's)."""
    owner = group if group in policy.groups and policy.groups[group].notifications else "*default"
    return f"{owner}#{severity.value}"


def plan(notification: Notification, policy: Policy) -> list[Target]:
    """The targets: explicit recipients (approval links go to one approver each), else the route."""
    if notification.recipients is not None:
        return [Target("email" if "@" in r else "slack", r) for r in notification.recipients]
    route = policy.routes(notification.model_group).for_severity(notification.severity)
    if route is None:
        return []
    return (
        [Target("slack", c) for c in route.slack]
        + [Target("email", a) for a in route.email]
        + [Target("webhook", w) for w in route.webhooks]
    )


def _occurrence(notification: Notification, log: DeliveryLog, done: set[str], targets: list[Target]) -> str:
    """The id of this occurrence (one per dedupe window): the first attempt's, recorded beside the served
    targets, so that every retry, redelivery, duplicate of the notification or digest re-run within the
    window sends the same webhook-id; a repeat after the window is a new occurrence with new ids.
    Recorded only when a webhook is still to be sent (nothing else needs it)."""
    recorded = sorted(d.removeprefix(OCCURRENCE_MARK) for d in done if d.startswith(OCCURRENCE_MARK))
    if recorded:
        return recorded[0]
    occurrence = occurrence_of(notification)
    if any(t.channel == "webhook" for t in targets):
        log.mark(notification.dedupe_key, OCCURRENCE_MARK + occurrence)
    return occurrence


def deliver(
    notification: Notification, policy: Policy, log: DeliveryLog, channels: dict[str, Channel]
) -> DeliveryReport:
    """Send to each target not yet served for this dedupe key; raise RetryLaterError if one should retry."""
    report = DeliveryReport()
    is_new, done = log.claim(notification.dedupe_key, policy.dedupe_window_seconds)
    base = {
        "dedupeKey": notification.dedupe_key,
        "kind": notification.kind.value,
        "subject": notification.subject[:200],
        "severity": notification.severity.value,
    }
    if not is_new and "*complete" in done:
        report.deduplicated = True
        log.record({**base, "channel": "-", "recipient": "-", "status": "deduplicated"})
        return report
    route = (
        None
        if notification.recipients is not None
        else policy.routes(notification.model_group).for_severity(notification.severity)
    )
    if route is not None and route.digest and notification.kind is not Kind.DIGEST:
        log.hold_for_digest(
            digest_bucket(notification.model_group, policy, notification.severity), notification
        )
        log.record({**base, "channel": "-", "recipient": "-", "status": "held-for-digest"})
        log.complete(notification.dedupe_key)
        report.digested = True
        return report
    retry: list[str] = []
    in_flight: list[str] = []
    targets = [t for t in plan(notification, policy) if t.key not in done]  # others: served earlier
    occurrence = _occurrence(notification, log, done, targets)
    for planned in targets:
        target = replace(planned, message_id=message_id(occurrence, planned))
        # Another copy of the message may be delivering it at this moment: one send per target
        taken = log.claim_target(notification.dedupe_key, target.key, SENDING_LEASE_SECONDS)
        if taken == "delivered":  # by that copy, since this one read what was served
            continue
        if taken == "in-flight":  # this copy comes back later, and finds it sent (or the claim lapsed)
            in_flight.append(target.key)
            continue
        try:
            details = channels[target.channel].send(target, notification)
        except DeliveryError as exc:
            log.record(
                {
                    **base,
                    "channel": target.channel,
                    "recipient": target.address,
                    "status": "failed",
                    "error": str(exc)[:500],
                    "permanent": exc.permanent,
                }
            )
            report.failed.append({"target": target.key, "error": str(exc)[:500]})
            if exc.permanent:
                log.mark(notification.dedupe_key, target.key)
            else:
                log.release_target(notification.dedupe_key, target.key)  # the retry may send it at once
                retry.append(target.key)
            continue
        except Exception:
            # Not the channel's answer (its own bookkeeping failed, e.g. a throttled read of a Slack thread
            # anchor): the invocation fails and is retried, at once in the sandbox; held, the claim would
            # make every retry within its lease find the target in flight. A crash keeps it (BaseException).
            log.release_target(notification.dedupe_key, target.key)
            raise
        log.mark(notification.dedupe_key, target.key)
        log.record(
            {**base, "channel": target.channel, "recipient": target.address, "status": "sent", **details}
        )
        report.sent.append(target.key)
    if retry:
        raise RetryLaterError(f"will retry {', '.join(retry + in_flight)}")
    if in_flight:
        raise RetryLaterError(f"in flight in another invocation: {', '.join(in_flight)}", failed=False)
    log.complete(notification.dedupe_key)
    return report
