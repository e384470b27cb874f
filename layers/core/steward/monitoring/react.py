"""Use cases: a Model Monitor execution or an endpoint alarm → recorded against the version serving at
the time, an alert when it says something is wrong, and (per policy) a retraining run.

Order matters for retries: retraining (guarded by its ledger) and the alert (deduplicated by its key)
come before the record, whose event-id marker makes the whole reaction happen once. A retried
invocation redoes the first two harmlessly and then records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from steward.events import models as ev
from steward.events.normalize import parse_timestamp
from steward.kernel.arns import arn_parts, canonical_arn, sagemaker_arn
from steward.kernel.errors import DuplicateEventError, NotFoundError
from steward.kernel.times import iso_z
from steward.lineage.deployments import serving_at
from steward.lineage.extract import resource_location
from steward.monitoring.alarms import AlarmFacts, AlarmTagReader, alarm_facts
from steward.monitoring.models import MonitoringRecord
from steward.monitoring.notifications import Serving, alarm_alert, report_error_alert, violations_alert
from steward.monitoring.report import REPORT_FILE, MalformedReportError, Violation, report_uri, summarise
from steward.monitoring.retraining import (
    LedgerStore,
    PipelineStarter,
    RetrainingOutcome,
    RetrainingRequest,
    request_retraining,
)
from steward.notify.models import Notification
from steward.notify.ports import Outbox
from steward.policy import Policy

_FINISHED = ("Completed", "Failed", "Stopped")
_KEEP_VIOLATIONS = 20  # on the node and in the timeline; the report has them all


class ResultStore(Protocol):
    def seen(self, event_id: str) -> bool: ...
    def record(self, record: MonitoringRecord) -> str: ...
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def history(self, node_id: str) -> list[dict[str, Any]]: ...
    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]: ...


class ReportReader(Protocol):
    def read_json(self, s3_uri: str) -> Any: ...


@dataclass
class Deps:
    store: ResultStore
    reports: ReportReader
    tags: AlarmTagReader
    ledger: LedgerStore
    pipelines: PipelineStarter
    outbox: Outbox
    home: tuple[str, str] | None = None  # (region, account) this function's credentials can read


@dataclass(frozen=True)
class Reaction:
    outcome: str  # recorded | stale | duplicate | ignored | unknown-alarm
    result: str | None = None  # violations | clean | failed | stopped | report-missing | report-malformed
    #                           | ALARM | OK | INSUFFICIENT_DATA (alarms: the state)
    node: str | None = None
    endpoint: str | None = None
    model_packages: tuple[str, ...] = ()
    notified: str | None = None  # the alert's dedupe key
    retraining: RetrainingOutcome | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "result": self.result,
            "node": self.node,
            "endpoint": self.endpoint,
            "modelPackages": list(self.model_packages),
            "notified": self.notified,
            "retraining": self.retraining.as_dict() if self.retraining else None,
            "detail": self.detail,
        }


def react(event: ev.StewardEvent, policy: Policy, deps: Deps, now: datetime) -> Reaction:
    """Dispatch a parsed event to its reaction (other events are ignored)."""
    if isinstance(event, ev.ProcessingJobStateChange):
        return react_to_execution(event, policy, deps, now)
    if isinstance(event, ev.AlarmStateChange):
        return react_to_alarm(event, policy, deps, now)
    return Reaction("ignored", detail=f"{event.detail_type} is not a monitoring event")


def _serving(
    store: ResultStore, policy: Policy, endpoint: str, name: str, at: datetime
) -> tuple[bool, Serving]:
    """(is the endpoint recorded?, what it served at `at`): the lineage's answer, never a guess."""
    _, region, account = arn_parts(endpoint) or ("aws", "", "")
    try:
        answer = serving_at(store, endpoint, at)
    except NotFoundError:
        return False, Serving(name, region, account, None, (), policy.group_of_endpoint(name), None)
    packages = tuple(answer.get("modelPackages") or ())
    group, version = policy.group_of_endpoint(name), None
    if packages:
        group_part, _, version_part = packages[0].split(":model-package/", 1)[-1].partition("/")
        group, version = group_part, int(version_part) if version_part.isdigit() else None
    return True, Serving(name, region, account, answer.get("endpointConfigName"), packages, group, version)


def _read_report(
    deps: Deps, detail: ev.ProcessingJobDetail, uri: str | None
) -> tuple[str, list[Violation], str | None]:
    """(result, violations, problem) of a Completed execution's report."""
    if uri is None:
        return "report-missing", [], "the event names no output location for the report"
    says_clean = not detail.violations_reported and "no violations" in (detail.exit_message or "").lower()
    try:
        violations = summarise(deps.reports.read_json(uri))
    except NotFoundError as exc:
        if says_clean:  # nothing to report, and the execution says so: not an error
            return "clean", [], f"{REPORT_FILE} not found; the execution reported no violations"
        return "report-missing", [], f"{REPORT_FILE} could not be read at {uri} ({exc})"
    except (MalformedReportError, ValueError) as exc:
        return "report-malformed", [], f"{REPORT_FILE} at {uri} is malformed: {exc}"
    if not violations and detail.violations_reported:
        return "report-malformed", [], f"the execution reports violations but {REPORT_FILE} lists none"
    return ("violations" if violations else "clean"), violations, None


def react_to_execution(
    event: ev.ProcessingJobStateChange, policy: Policy, deps: Deps, now: datetime
) -> Reaction:
    d = event.detail
    if not d.is_monitoring_execution:
        return Reaction("ignored", detail="not a monitoring execution")
    if d.processing_job_status not in _FINISHED:
        return Reaction("ignored", detail=f"not finished ({d.processing_job_status})")
    if not d.monitored_endpoint_name:
        return Reaction("ignored", detail="monitors no endpoint (batch monitoring is not covered)")
    node = canonical_arn(d.processing_job_arn)
    if deps.store.seen(event.id):
        return Reaction("duplicate", node=node)
    region, account, partition = resource_location(event, d.processing_job_arn)
    name = d.monitored_endpoint_name
    endpoint = sagemaker_arn(region, account, "endpoint", name, partition)
    window_start = _env_time(d.environment.get("start_time"))
    window_end = _env_time(d.environment.get("end_time"))
    finished = d.processing_end_time or d.last_modified_time or event.time
    # The traffic analysed is the window's; the version that served it is the one serving at its end.
    known, serving = _serving(deps.store, policy, endpoint, name, window_end or finished)
    settings = policy.monitoring(serving.group)
    outputs = d.processing_output_config.outputs if d.processing_output_config else []
    uri = report_uri([(o.output_name, o.s3_output.s3_uri if o.s3_output else None) for o in outputs])
    violations: list[Violation] = []
    problem: str | None = None
    if d.processing_job_status == "Completed":
        result, violations, problem = _read_report(deps, d, uri)
    else:
        result, problem = d.processing_job_status.lower(), d.failure_reason or d.exit_message
    retraining = None
    wanted = settings.retraining
    if (
        result == "violations"
        and known
        and wanted.enabled
        and wanted.on_violations
        and len(violations) >= wanted.min_violations
    ):
        count = len(violations)
        reason = f"{count} Model Monitor violation{'s' if count != 1 else ''} on {name}"
        retraining = _retrain(wanted, node, reason, serving, now, deps)
    alert: Notification | None = None
    if result == "violations":
        alert = violations_alert(
            node,
            d.processing_job_name,
            d.monitoring_schedule_name,
            violations,
            settings.top_violations,
            uri,
            serving,
            retraining,
            event.id,
        )
    elif result.startswith("report-"):
        alert = report_error_alert(node, d.processing_job_name, problem or result, uri, serving, event.id)
    if alert is not None:
        deps.outbox.send(alert)
    kept = [v.model_dump() for v in violations[:_KEEP_VIOLATIONS]]
    attributes = {
        "result": result,
        "violationCount": len(violations),
        "violations": kept,
        "reportUri": uri,
        "problem": problem,
        "endpointName": name,
        "servedConfig": serving.config,
        "modelPackages": list(serving.packages),
        "dataWindowStart": iso_z(window_start) if window_start else None,
        "dataWindowEnd": iso_z(window_end) if window_end else None,
        "retraining": retraining.as_dict() if retraining else None,
    }
    entry = {
        "type": "monitoring-execution",
        "id": node,
        "name": d.processing_job_name,
        "status": d.processing_job_status,
        "schedule": d.monitoring_schedule_name,
        **{k: v for k, v in attributes.items() if k not in ("endpointName", "servedConfig")},
    }
    record = _monitoring_record(
        event, node, d.processing_job_name, endpoint, serving, retraining, finished, attributes, entry
    )
    return _record(deps, record, result, alert, retraining)


def _env_time(value: str | None) -> datetime | None:
    try:
        return parse_timestamp(value) if value else None
    except ValueError:
        return None


def _retrain(
    wanted: Any, trigger: str, reason: str, serving: Serving, now: datetime, deps: Deps
) -> RetrainingOutcome:
    """Ask for the serving version's retraining run (the ledger keeps it to one per trigger)."""
    model_package_arn = serving.packages[0] if serving.packages else None
    request = RetrainingRequest(trigger, reason, serving.endpoint or "", model_package_arn, now)
    return request_retraining(wanted, request, deps.ledger, deps.pipelines)


def _monitoring_record(
    event: ev.ProcessingJobStateChange | ev.AlarmStateChange,
    node: str,
    name: str,
    endpoint: str,
    serving: Serving,
    retraining: RetrainingOutcome | None,
    at: datetime,
    attributes: dict[str, Any],
    entry: dict[str, Any],
    **state: Any,
) -> MonitoringRecord:
    """What one execution or alarm records: its node, against the version serving on the endpoint (an
    alarm's `state`: its status, their time and the history's facts)."""
    return MonitoringRecord(
        event_id=event.id,
        event_time=event.time,
        detail_type=event.detail_type,
        node_id=node,
        name=name,
        attributes=attributes,
        endpoint_id=endpoint,
        endpoint_name=serving.endpoint or "",
        model_packages=list(serving.packages),
        pipeline_execution=_started(retraining),
        at=at,
        entry=entry,
        **state,
    )


def _started(retraining: RetrainingOutcome | None) -> str | None:
    if retraining and retraining.status in ("started", "already-started"):
        return retraining.execution_arn
    return None


def _record(
    deps: Deps,
    record: MonitoringRecord,
    result: str,
    alert: Notification | None,
    retraining: RetrainingOutcome | None,
) -> Reaction:
    try:
        outcome = deps.store.record(record)
    except DuplicateEventError:
        outcome = "duplicate"
    return Reaction(
        outcome,
        result,
        record.node_id,
        record.endpoint_id,
        tuple(record.model_packages),
        alert.dedupe_key if alert else None,
        retraining,
    )


def react_to_alarm(event: ev.AlarmStateChange, policy: Policy, deps: Deps, now: datetime) -> Reaction:
    parts = arn_parts(next((r for r in event.resources if ":alarm:" in r), "")) or (
        "aws",
        event.region,
        event.account,
    )
    partition, region, account = parts
    ours = deps.home is None or deps.home == (region, account)  # tags of other accounts' alarms: unreadable
    alarm = alarm_facts(event, policy, deps.tags if ours else None)
    if deps.store.seen(event.id):
        return Reaction("duplicate", alarm.state, alarm.arn)
    when = event.detail.state.timestamp or event.time
    endpoint = (
        sagemaker_arn(region, account, "endpoint", alarm.endpoint, partition) if alarm.endpoint else None
    )
    known, serving = (
        _serving(deps.store, policy, endpoint, alarm.endpoint or "", when)
        if endpoint
        else (False, Serving(None, region, account, None, (), None, None))
    )
    if not known or endpoint is None or alarm.endpoint is None:
        alert = alarm_alert(alarm, serving, False, None, event.id)
        if alert is not None:
            deps.outbox.send(alert)
        return Reaction(
            "unknown-alarm",
            alarm.state,
            alarm.arn,
            endpoint,
            notified=alert.dedupe_key if alert else None,
            detail=f"alarm {alarm.name} maps to no endpoint Steward has recorded"
            + (f" (it names {alarm.endpoint})" if alarm.endpoint else ""),
        )
    return _known_alarm(event, alarm, endpoint, alarm.endpoint, serving, when, policy, deps, now)


def _known_alarm(
    event: ev.AlarmStateChange,
    alarm: AlarmFacts,
    endpoint: str,
    name: str,
    serving: Serving,
    when: datetime,
    policy: Policy,
    deps: Deps,
    now: datetime,
) -> Reaction:
    # Staleness is decided before anything is sent: an ALARM state older than the state already recorded
    # (say, a recovery that arrived first) is history, and must neither page nor start a retraining run.
    # (The record's own condition still keeps the node's state from moving back under a race.)
    recorded = deps.store.get_nodes([alarm.arn]).get(alarm.arn) or {}
    recorded_at = parse_timestamp(recorded.get("statusTime"))
    stale = recorded_at is not None and when < recorded_at
    wanted = policy.monitoring(serving.group).retraining
    retraining = None
    if stale:
        pass
    elif alarm.state == "ALARM" and alarm.nature == "drift" and wanted.enabled and wanted.on_drift:
        trigger, reason = f"{alarm.arn}@{iso_z(when)}", f"drift alarm {alarm.name} on {name}"
        retraining = _retrain(wanted, trigger, reason, serving, now, deps)
    alert = None if stale else alarm_alert(alarm, serving, True, retraining, event.id)
    if alert is not None:
        deps.outbox.send(alert)
    facts = {
        "previousState": alarm.previous,
        "reason": alarm.reason[:500],
        "servedConfig": serving.config,
        "modelPackages": list(serving.packages),
        "retraining": retraining.as_dict() if retraining else None,
    }
    attributes = {
        "source": "cloudwatch-alarm",
        "nature": alarm.nature,
        "metrics": list(alarm.metrics),
        "endpointName": name,
        "mappedBy": alarm.mapped_by,
        **facts,
    }
    entry = {
        "type": "alarm",
        "id": alarm.arn,
        "name": alarm.name,
        "status": alarm.state,
        "result": "recovered" if alarm.recovered else alarm.state,
        "nature": alarm.nature,
        **facts,
    }
    record = _monitoring_record(
        event,
        alarm.arn,
        alarm.name,
        endpoint,
        serving,
        retraining,
        when,
        attributes,
        entry,
        status=alarm.state,
        status_time=when,
        history=facts,
    )
    return _record(deps, record, alarm.state, alert, retraining)


def since_default(now: datetime) -> datetime:
    """What `steward monitoring` shows without --since: the last seven days."""
    return now - timedelta(days=7)
