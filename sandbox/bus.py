"""The default event bus of Steward's account: PutEvents' envelope and limits, the template's rules
matched by their patterns (sandbox/patterns.py), each matched rule's Lambda targets invoked
asynchronously, schedules fired on demand, and workload accounts' events forwarded by their rules."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sandbox import accounts
from sandbox.errors import SandboxError
from sandbox.patterns import matches
from sandbox.template import RuleSpec

if TYPE_CHECKING:
    from sandbox.facade import Sandbox

log = logging.getLogger("sandbox")

# PutEvents' limits (EventBridge API reference): an entry of at most 256 KB, counted as Time (14 bytes),
# Source, DetailType, Detail and each Resource in UTF-8; JSON nested at most 1100 levels deep.
MAX_ENTRY_BYTES = 256 * 1024
MAX_NESTING = 1100


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:  # iterative: the value may be nested deeper than Python's recursion limit
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def put_events_refusal(event: dict[str, Any]) -> dict[str, str] | None:
    """What PutEvents answers for an entry it refuses (None when it takes it)."""
    detail = event.get("detail")
    if _depth(detail) > MAX_NESTING:
        return {"code": "MalformedDetail", "message": f"Detail is nested deeper than {MAX_NESTING} levels"}
    try:
        size = (
            14
            + len(str(event.get("source", "")).encode())
            + len(str(event.get("detail-type", "")).encode())
            + len(json.dumps(detail).encode())
            + sum(len(str(r).encode()) for r in event.get("resources") or [])
        )
    except (TypeError, ValueError) as exc:
        return {"code": "MalformedDetail", "message": f"Detail is not JSON: {exc}"[:300]}
    if size > MAX_ENTRY_BYTES:
        return {"code": "ValidationException", "message": f"entry is {size} bytes, over {MAX_ENTRY_BYTES}"}
    return None


def _routed(event: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event.get("id"), "detail_type": event.get("detail-type"), "targets": []}


class Bus:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.policy: list[dict[str, Any]] = []  # the bus's resource policy (who may put events on it)

    def envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        """What EventBridge adds on PutEvents: id, time, account, region, version."""
        if not isinstance(event, dict):
            raise SandboxError("an event is a JSON object")
        full = dict(event)
        full.setdefault("version", "0")
        full.setdefault("id", str(uuid.uuid4()))
        full.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        full.setdefault("account", self.sb.account)
        full.setdefault("region", self.sb.region)
        full.setdefault("resources", [])
        return full

    def put_events(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        sb = self.sb
        results: list[dict[str, Any]] = []
        deliveries: list[tuple[int, RuleSpec, dict[str, Any]]] = []  # parallel: all at once, after routing
        for event in events:
            full = sb._envelope(event)
            refused = put_events_refusal(full)
            if refused:  # EventBridge refuses the entry: no rule sees it
                results.append(
                    {
                        "event_id": None,
                        "detail_type": full.get("detail-type"),
                        "targets": [],
                        "error": refused,
                    }
                )
            elif sb.parallel:
                results.append(_routed(full))
                deliveries += [(len(results) - 1, rule, full) for rule in self.matching(full)]
            else:
                results.append(self.route(full))
        delivered = sb._delivery.concurrently([partial(self.deliver, r, e) for _, r, e in deliveries])
        for (index, _, _), outcome in zip(deliveries, delivered, strict=True):
            results[index]["targets"].extend(outcome["targets"])
        sb.drain()
        return results

    def route(self, event: dict[str, Any]) -> dict[str, Any]:
        result = _routed(event)
        for rule in self.matching(event):
            result["targets"].extend(self.deliver(rule, event)["targets"])
        return result

    def matching(self, event: dict[str, Any]) -> list[RuleSpec]:
        assert self.sb.inventory is not None
        return [
            rule
            for rule in self.sb.inventory.rules
            if rule.enabled and rule.pattern is not None and matches(rule.pattern, event)
        ]

    def deliver(self, rule: RuleSpec, event: dict[str, Any]) -> dict[str, Any]:
        """Each Lambda target of the rule, invoked asynchronously (with its Input, if it has one)."""
        assert self.sb.inventory is not None
        outcomes = []
        for target in rule.targets:
            spec = self.sb.inventory.functions[target["function"]]
            payload = json.loads(target["input"]) if target.get("input") else event
            outcomes.append(self.sb._lambdas.invoke_async(spec, target, payload, rule))
        return {"rule": rule.name, "targets": outcomes}

    def run_schedules(self, match: str | None) -> list[dict[str, Any]]:
        sb = self.sb
        assert sb.inventory is not None
        fired = [
            partial(
                self.deliver,
                rule,
                sb._envelope(
                    {
                        "source": "aws.events",
                        "detail-type": "Scheduled Event",
                        "detail": {},
                        "resources": [f"arn:aws:events:{sb.region}:{sb.account}:rule/{rule.name}"],
                    }
                ),
            )
            for rule in sb.inventory.rules
            if rule.schedule and rule.enabled and (match is None or match in rule.name)
        ]
        results = sb._delivery.concurrently(fired) if sb.parallel else [deliver() for deliver in fired]
        sb.drain()
        return results

    def forwarded(self, event: dict[str, Any]) -> bool:
        """Whether an event reaches this bus: Steward's own account's are on it already; a workload
        account's only as that account's forwarding rules (and this bus's policy) let it through."""
        sb = self.sb
        workload = next((w for w in sb.workloads.values() if w.account == event.get("account")), None)
        if workload is None:
            return True
        assert sb.inventory is not None
        bus_arn = f"arn:aws:events:{sb.region}:{sb.account}:event-bus/default"
        rule, why = accounts.forwarded_by(workload, event, bus_arn, self.policy)
        sb.forwarding.append(
            {
                "event_id": event.get("id"),
                "detail_type": event.get("detail-type"),
                "account": event.get("account"),
                "region": event.get("region"),
                "workload": workload.name,
                "forwarded": rule is not None,
                "rule": rule,
                "reason": why,
            }
        )
        if rule is None:
            log.info("event %s of workload %s not forwarded: %s", event.get("id"), workload.name, why)
        return rule is not None
