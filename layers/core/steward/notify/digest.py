"""Use case: send each digest route's held notifications as one message (scheduled)."""

from __future__ import annotations

from typing import Any, Protocol

from steward.notify.deliver import Channel, DeliveryLog, RetryLaterError, deliver, digest_bucket
from steward.notify.models import Fact, Kind, Notification
from steward.policy import Policy

MAX_LISTED = 20


class DigestStore(DeliveryLog, Protocol):
    def held(self, bucket: str) -> list[tuple[str, Notification]]: ...
    def release(self, bucket: str, keys: list[str]) -> None: ...


def send_digests(policy: Policy, store: DigestStore, channels: dict[str, Channel]) -> list[dict[str, Any]]:
    """One digest per route with held notifications; held items are released only once delivered."""
    sent = []
    for group, severity, _route in policy.digest_routes():
        bucket = digest_bucket(group, policy, severity)
        held = store.held(bucket)
        if not held:
            continue
        items = [n for _, n in held]
        listed = [
            Fact(label=n.created_at.strftime("%Y-%m-%d %H:%M"), value=n.subject[:300])
            for n in items[:MAX_LISTED]
        ]
        more = len(items) - len(listed)
        digest = Notification(
            kind=Kind.DIGEST,
            severity=severity,
            model_group=group,
            subject=f"{len(items)} {severity.value} notification{'s' if len(items) != 1 else ''}"
            + (f" for {group}" if group else ""),
            summary=f"Held for this digest since {items[0].created_at:%Y-%m-%d %H:%M} UTC."
            + (f" {more} more not listed." if more > 0 else ""),
            facts=listed[:20],
            dedupe_key=f"digest:{bucket}:{held[0][0]}:{held[-1][0]}:{len(held)}",
        )
        try:
            deliver(digest, policy, store, channels)
        except RetryLaterError:
            continue  # kept: the next run sends them (same items, same dedupe key)
        store.release(bucket, [key for key, _ in held])
        sent.append({"bucket": bucket, "count": len(items)})
    return sent
