"""The alerts monitoring sends: violations, an unreadable report, an alarm and its recovery.

Dedupe keys (the notifier sends each key once per `dedupe_window_seconds`):
- `monitor-violation:<execution ARN>` and `monitor-report-error:<execution ARN>`: one per execution;
- `alarm:<alarm ARN>:ALARM` and `alarm:<alarm ARN>:OK`: a flapping alarm alerts once and recovers once
  per window, however often it flips (every transition is still recorded).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from steward.kernel.arns import arn_name
from steward.monitoring.alarms import AlarmFacts
from steward.monitoring.report import Violation
from steward.monitoring.retraining import RetrainingOutcome
from steward.notify.models import Fact, Kind, Link, Notification
from steward.policy import Severity

_SAGEMAKER = "https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/endpoints/{name}"
_CLOUDWATCH = "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"
_S3 = "https://s3.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"


@dataclass(frozen=True)
class Serving:
    """The endpoint and what it served at the time of the result (empty when unknown)."""

    endpoint: str | None
    region: str
    account: str
    config: str | None
    packages: tuple[str, ...]
    group: str | None
    version: int | None

    @property
    def version_label(self) -> str:
        return ", ".join(arn_name(p) for p in self.packages) or "version unknown"

    @property
    def thread(self) -> str | None:
        return self.packages[0].lower() if self.packages else None

    def facts(self) -> list[Fact]:
        facts = [Fact(label="Endpoint", value=self.endpoint or "(none Steward knows)")]
        facts.append(Fact(label="Model version", value=self.version_label))
        if self.config:
            facts.append(Fact(label="Endpoint config", value=self.config))
        return facts

    def links(self) -> list[Link]:
        if not self.endpoint:
            return []
        name = urllib.parse.quote(self.endpoint, safe="")
        url = _SAGEMAKER.format(region=self.region, name=name)
        return [Link(text="Open the endpoint", url=url)]


def _retraining_fact(outcome: RetrainingOutcome | None) -> list[Fact]:
    if outcome is None:
        return []
    text = {
        "started": f"started {outcome.execution_arn}",
        "already-started": f"already started {outcome.execution_arn}",
        "skipped": f"not started: {outcome.reason}",
        "failed": f"failed to start: {outcome.reason}",
    }[outcome.status]
    return [Fact(label="Retraining", value=text[:1000])]


def _report_link(uri: str | None, region: str) -> list[Link]:
    if not uri:
        return []
    bucket, _, key = uri[len("s3://") :].partition("/")
    url = _S3.format(
        bucket=urllib.parse.quote(bucket, safe=""), region=region, key=urllib.parse.quote(key, safe="/")
    )
    return [Link(text="Open the report", url=url)]


def violations_alert(
    execution: str,
    name: str,
    schedule: str | None,
    violations: list[Violation],
    top: int,
    report: str | None,
    serving: Serving,
    retraining: RetrainingOutcome | None,
    event_id: str,
) -> Notification:
    shown = violations[:top]
    lines = [f"• {v.line()}" for v in shown]
    if len(violations) > len(shown):
        lines.append(f"… and {len(violations) - len(shown)} more in the report")
    count = len(violations)
    return Notification(
        kind=Kind.MONITOR_VIOLATION,
        severity=Severity.WARNING,
        subject=(
            f"Model Monitor: {count} violation{'s' if count != 1 else ''} on "
            f"{serving.endpoint} ({serving.version_label})"
        )[:250],
        summary="\n".join(lines)[:3000],
        model_group=serving.group,
        model_version=serving.version,
        facts=[
            *serving.facts(),
            Fact(label="Monitoring schedule", value=schedule or "unknown"),
            Fact(label="Execution", value=name),
            Fact(label="Violations", value=str(count)),
            *_retraining_fact(retraining),
        ],
        links=[*_report_link(report, serving.region), *serving.links()],
        dedupe_key=f"monitor-violation:{execution}",
        thread_key=serving.thread,
        source_event_id=event_id,
    )


def report_error_alert(
    execution: str, name: str, problem: str, report: str | None, serving: Serving, event_id: str
) -> Notification:
    return Notification(
        kind=Kind.MONITOR_REPORT_ERROR,
        severity=Severity.WARNING,
        subject=f"Model Monitor report unreadable: {name} on {serving.endpoint}"[:250],
        summary=(
            f"The monitoring execution finished but its results could not be read: {problem}. "
            "Nothing about this window's data is known; check the execution's logs."
        )[:3000],
        model_group=serving.group,
        model_version=serving.version,
        facts=[
            *serving.facts(),
            Fact(label="Execution", value=name),
            Fact(label="Report", value=report or "no output location in the event"),
        ],
        links=[*_report_link(report, serving.region), *serving.links()],
        dedupe_key=f"monitor-report-error:{execution}",
        thread_key=serving.thread,
        source_event_id=event_id,
    )


def alarm_alert(
    alarm: AlarmFacts, serving: Serving, known: bool, retraining: RetrainingOutcome | None, event_id: str
) -> Notification | None:
    """ALARM → an alert; ALARM → OK → a recovery; other transitions say nothing."""
    if alarm.state != "ALARM" and not alarm.recovered:
        return None
    where = (
        f"on {serving.endpoint} ({serving.version_label})"
        if known
        else "(no endpoint Steward knows" + (f"; it names {alarm.endpoint})" if alarm.endpoint else ")")
    )
    facts = [Fact(label="Alarm", value=alarm.name), Fact(label="Kind", value=alarm.nature)]
    if alarm.metrics:
        facts.append(Fact(label="Metric", value=", ".join(alarm.metrics)[:500]))
    facts += serving.facts() if known else []
    if alarm.mapped_by:
        facts.append(Fact(label="Mapped by", value=alarm.mapped_by))
    facts += _retraining_fact(retraining)
    region = alarm.arn.split(":")[3] if alarm.arn.count(":") >= 5 else serving.region
    links = [
        Link(
            text="Open the alarm",
            url=_CLOUDWATCH.format(region=region, name=urllib.parse.quote(alarm.name, safe="")),
        ),
        *(serving.links() if known else []),
    ]
    if alarm.recovered:
        kind, severity, subject = Kind.ALARM_RECOVERED, Severity.INFO, f"Recovered: alarm {alarm.name} is OK"
    else:
        severity = Severity.CRITICAL if alarm.nature == "errors" else Severity.WARNING
        kind, subject = Kind.ALARM, f"Alarm {alarm.name} is in ALARM"
    return Notification(
        kind=kind,
        severity=severity,
        subject=f"{subject} {where}"[:250],
        summary=alarm.reason[:3000],
        model_group=serving.group,
        model_version=serving.version,
        facts=facts,
        links=links,
        dedupe_key=f"alarm:{alarm.arn}:{'OK' if alarm.recovered else 'ALARM'}",
        thread_key=serving.thread,
        source_event_id=event_id,
    )
