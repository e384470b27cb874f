"""What a CloudWatch alarm is about: its endpoint (dimensions, the policy's alarm names, tags) and its
nature (drift, errors, latency). Pure, except for the tag lookup passed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from steward.events import models as ev
from steward.policy import Policy

# Model Monitor publishes to aws/sagemaker/Endpoints/{data,model,bias,explainability}-metrics (and the
# .../ModelMonitoring namespaces of batch jobs); endpoint metrics are AWS/SageMaker with EndpointName.
# AWS's documentation also spells the namespace with a leading slash (/aws/sagemaker/Endpoints/...).
_MONITOR_NAMESPACE_PREFIX = "aws/sagemaker/endpoints/"
_ENDPOINT_DIMENSIONS = ("EndpointName", "Endpoint")
# Tags an operator can put on an alarm whose metric does not name the endpoint.
ENDPOINT_TAGS = ("steward:endpoint", "sagemaker:endpoint-name", "EndpointName")


class AlarmTagReader(Protocol):
    def alarm_tags(self, alarm_arn: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class AlarmFacts:
    arn: str
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    previous: str | None
    reason: str
    nature: str  # drift | errors | latency | other
    metrics: tuple[str, ...]  # "namespace/metric" of each metric the alarm watches
    endpoint: str | None
    mapped_by: str | None  # how the endpoint was found: dimension:<name>, policy:<field>, tag:<key>

    @property
    def recovered(self) -> bool:
        return self.state == "OK" and self.previous == "ALARM"


def _metrics(detail: ev.AlarmDetail) -> list[tuple[str, str]]:
    found = []
    for metric in detail.configuration.get("metrics") or []:
        inner = ((metric or {}).get("metricStat") or {}).get("metric") or {}
        found.append((str(inner.get("namespace") or ""), str(inner.get("name") or "")))
    return found


def nature(detail: ev.AlarmDetail, drift_alarms: list[str]) -> str:
    """drift for Model Monitor metrics and alarms the policy names; else errors / latency / other."""
    metrics = _metrics(detail)
    if detail.alarm_name in drift_alarms or any(
        ns.lower().lstrip("/").startswith(_MONITOR_NAMESPACE_PREFIX) for ns, _ in metrics
    ):
        return "drift"
    names = " ".join(name.lower() for _, name in metrics)
    if "5xx" in names or "4xx" in names or "error" in names:
        return "errors"
    if "latency" in names:
        return "latency"
    return "other"


def _drift_alarms(policy: Policy) -> list[str]:
    """Alarm names any entry of the policy counts as drift (an alarm name means one alarm)."""
    entries = [policy.default, *policy.groups.values()]
    return [name for e in entries if e.monitoring for name in e.monitoring.drift_alarms]


def _from_policy(alarm: str, policy: Policy) -> str | None:
    for entry in [policy.default, *policy.groups.values()]:
        for stage in entry.stages:
            if alarm in stage.rollback_alarms:
                return stage.endpoint
    return None


def alarm_facts(event: ev.AlarmStateChange, policy: Policy, tags: AlarmTagReader | None) -> AlarmFacts:
    """The alarm's facts, its endpoint found by (1) a metric dimension, (2) a promotion stage's
    `rollback_alarms`, (3) a tag on the alarm (`tags` is None when the alarm is not ours to read)."""
    d = event.detail
    arn = next((r for r in event.resources if ":alarm:" in r), None) or (
        f"arn:aws:cloudwatch:{event.region}:{event.account}:alarm:{d.alarm_name}"
    )
    endpoint: str | None = None
    mapped_by: str | None = None
    dimensions = d.dimensions()
    dimension = next((k for k in _ENDPOINT_DIMENSIONS if dimensions.get(k)), None)
    if dimension:
        endpoint, mapped_by = dimensions[dimension], f"dimension:{dimension}"
    if endpoint is None and (named := _from_policy(d.alarm_name, policy)):
        endpoint, mapped_by = named, "policy:stages.rollback_alarms"
    if endpoint is None and tags is not None:
        found = tags.alarm_tags(arn)
        tag = next((k for k in ENDPOINT_TAGS if found.get(k)), None)
        if tag:
            endpoint, mapped_by = found[tag], f"tag:{tag}"
    return AlarmFacts(
        arn=arn,
        name=d.alarm_name,
        state=d.state.value,
        previous=d.previous_state.value if d.previous_state else None,
        reason=" ".join((d.state.reason or "").split())[:1000],
        nature=nature(d, _drift_alarms(policy)),
        metrics=tuple(f"{ns}/{name}".strip("/") for ns, name in _metrics(d)),
        endpoint=endpoint,
        mapped_by=mapped_by,
    )
