"""Use case: record what SageMaker holds that no event brought (README "Backfill").

The walk lists each resource type (pipelines → their executions → each execution's steps, processing,
training and tuning jobs, versioned model packages, endpoints, transform jobs; then endpoint configs
and models, which no event reports on their own) and records each resource's current state through the same
parse + record path as record_lineage, as the event SageMaker would have sent (`events.py`).

- Idempotent: a page's nodes are read first (one BatchGetItem), and a resource whose recorded state is
  the one SageMaker reports (or newer) is "known" and costs nothing more: no Describe when the listing
  already says its status and time (jobs, endpoints, executions, steps, and packages by status), and no
  write. The synthetic event's id is derived from resource, status and time, so even a write that
  races a rerun is deduplicated by its marker.
- Bounded: at most about `budget` SageMaker calls per invocation (the walk stops before the call past
  it, once it has made progress; the Describe calls record_lineage makes to resolve an endpoint's
  configs and models, each once, are counted but finish), and it stops while `time_left_ms` is above
  `reserve_ms`.
- Resumable: the checkpoint names the phase and, for each open listing, the token of its page and how
  many of that page's items are done; a resumed run fetches that page again and continues with the next
  item. An execution's steps are recorded before the execution itself, so a recorded terminal execution
  means its steps were walked.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from steward.backfill import events as build
from steward.events import parse_event
from steward.events.normalize import parse_timestamp
from steward.kernel.arns import canonical_arn
from steward.kernel.errors import (
    DependencyError,
    InvalidEventError,
    NotFoundError,
    RefusedError,
    UnsupportedEventError,
)
from steward.kernel.graph import NodeKind
from steward.kernel.times import iso_z
from steward.lineage.extract import extract
from steward.lineage.lifecycle import supersedes
from steward.lineage.record import LineageWriter, SageMakerLookup, record_lineage

MAX_BUDGET = 10_000
_PAGE = 100
_KEPT_ERRORS = 20
_SAVE_EVERY_SECONDS = 60.0


class Catalog(SageMakerLookup, Protocol):
    """SageMaker's List and Describe calls, each counted in `calls`."""

    calls: int

    def list_page(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...
    def describe(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...


class CheckpointStore(Protocol):
    def load(self, run: str) -> dict[str, Any] | None: ...
    def save(self, state: dict[str, Any], version: int) -> None: ...


class Tally(BaseModel):
    model_config = ConfigDict(defer_build=True)

    recorded: int = 0
    known: int = 0
    skipped: int = 0
    errors: int = 0


class Cursor(BaseModel):
    model_config = ConfigDict(defer_build=True)

    token: str | None = None  # the NextToken that fetched the current page (None: the first page)
    done: int = 0  # items of that page already handled
    finished: bool = False


class Checkpoint(BaseModel):
    model_config = ConfigDict(defer_build=True)

    run: str
    since: datetime | None = None
    phase: int = 0
    cursors: dict[str, Cursor] = Field(default_factory=dict)
    tallies: dict[str, Tally] = Field(default_factory=dict)
    calls: int = 0
    invocations: int = 0
    done: bool = False
    errors: list[str] = Field(default_factory=list)
    started_at: str = ""
    version: int = 0


@dataclass(frozen=True)
class Jobs:
    """A job type: its listing, the summary keys the known-check reads, its Describe, its event."""

    phase: str
    listing: str
    items: str
    arn: str
    name: str
    status: str
    describe: str
    parameter: str
    detail_type: str
    kind: NodeKind


JOBS = (
    Jobs(
        "processing-jobs",
        "list_processing_jobs",
        "ProcessingJobSummaries",
        "ProcessingJobArn",
        "ProcessingJobName",
        "ProcessingJobStatus",
        "describe_processing_job",
        "ProcessingJobName",
        build.PROCESSING,
        NodeKind.PROCESSING_JOB,
    ),
    Jobs(
        "training-jobs",
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobArn",
        "TrainingJobName",
        "TrainingJobStatus",
        "describe_training_job",
        "TrainingJobName",
        build.TRAINING,
        NodeKind.TRAINING_JOB,
    ),
    Jobs(
        "tuning-jobs",
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobArn",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        build.TUNING,
        NodeKind.TUNING_JOB,
    ),
    Jobs(
        "transform-jobs",
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobArn",
        "TransformJobName",
        "TransformJobStatus",
        "describe_transform_job",
        "TransformJobName",
        build.TRANSFORM,
        NodeKind.TRANSFORM_JOB,
    ),
)

# Endpoints before transform jobs: the models an endpoint's configs name are then recorded, and a
# transform job with one of them needs no DescribeModel.
PHASES = (
    "pipeline-executions",
    "processing-jobs",
    "training-jobs",
    "tuning-jobs",
    "model-packages",
    "endpoints",
    "transform-jobs",
    "endpoint-configs",
    "models",
)
TYPES = ("pipeline-executions", "pipeline-steps", *PHASES[1:])


class _Stop(Exception):  # control flow, never seen outside this module
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class BackfillReport:
    checkpoint: Checkpoint
    calls: int  # SageMaker calls of this invocation
    stopped: str | None  # budget | time | throttled | None (done)

    def as_dict(self) -> dict[str, Any]:
        cp = self.checkpoint
        total = Tally()
        for tally in cp.tallies.values():
            for field in ("recorded", "known", "skipped", "errors"):
                setattr(total, field, getattr(total, field) + getattr(tally, field))
        return {
            "run": cp.run,
            "done": cp.done,
            "since": cp.since.isoformat() if cp.since else None,
            "phase": None if cp.done else PHASES[cp.phase],
            "phasesDone": cp.phase,
            "phases": len(PHASES),
            "stoppedBecause": self.stopped,
            "calls": self.calls,
            "callsTotal": cp.calls,
            "invocations": cp.invocations,
            "summary": total.model_dump(),
            "byType": {t: cp.tallies[t].model_dump() for t in TYPES if t in cp.tallies},
            "errors": cp.errors,
        }


def new_run_id(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start_or_resume(checkpoints: CheckpointStore, run: str | None, since: datetime | None) -> Checkpoint:
    """A new run's checkpoint, or the saved one of `run` (RefusedError 404 when there is none)."""
    if run is None:
        now = datetime.now(UTC)
        return Checkpoint(run=new_run_id(now), since=since, started_at=now.isoformat())
    saved = checkpoints.load(run)
    if saved is None:
        raise RefusedError(f"no backfill run {run!r} to resume", status=404, error="NotFound", field="run")
    checkpoint = Checkpoint.model_validate(saved)
    if since is not None and since != checkpoint.since:
        raise RefusedError(
            f"run {run} backfills since {checkpoint.since}; a resumed run keeps its own --since",
            field="since",
        )
    return checkpoint


def backfill(
    checkpoint: Checkpoint,
    checkpoints: CheckpointStore,
    store: LineageWriter,
    catalog: Catalog,
    *,
    budget: int,
    time_left_ms: Callable[[], int] | None = None,
    reserve_ms: int = 30_000,
    home: tuple[str, str] | None = None,
    progress: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Walk on from `checkpoint` until every phase is done, the budget is spent, or time runs short;
    save the checkpoint (once at the end, and every minute on the way) and report."""
    walk = _Walk(checkpoint, checkpoints, store, catalog, budget, time_left_ms, reserve_ms, home, progress)
    return walk.run()


class _Walk:
    def __init__(
        self,
        cp: Checkpoint,
        checkpoints: CheckpointStore,
        store: LineageWriter,
        catalog: Catalog,
        budget: int,
        time_left_ms: Callable[[], int] | None,
        reserve_ms: int,
        home: tuple[str, str] | None,
        progress: Callable[[BackfillReport], None] | None,
    ) -> None:
        self.cp, self.checkpoints, self.store, self.catalog = cp, checkpoints, store, catalog
        self.budget = max(1, min(budget, MAX_BUDGET))
        self.time_left_ms, self.reserve_ms, self.home = time_left_ms, reserve_ms, home
        self.progress = progress
        self.first_calls = self.started_calls = catalog.calls  # this invocation's; not yet in cp.calls
        self.progressed = False
        self.saved_at = time.monotonic()
        self.stopped: str | None = None

    # --- the run ---------------------------------------------------------------------------------

    def run(self) -> BackfillReport:
        self.cp.invocations += 1
        try:
            while self.cp.phase < len(PHASES):
                self._phase(PHASES[self.cp.phase])
                self.cp.cursors.pop(PHASES[self.cp.phase], None)
                self.cp.phase += 1
            self.cp.done = True
        except _Stop as stop:
            self.stopped = stop.reason
        finally:
            self._save()
        report = self._report()
        if self.progress:
            self.progress(report)
        return report

    def _report(self) -> BackfillReport:
        return BackfillReport(self.cp, self.catalog.calls - self.first_calls, self.stopped)

    def _save(self) -> None:
        self.cp.calls += self.catalog.calls - self.started_calls
        self.started_calls = self.catalog.calls
        self.checkpoints.save(self.cp.model_dump(mode="json"), self.cp.version)
        self.cp.version += 1
        self.saved_at = time.monotonic()

    def _phase(self, phase: str) -> None:
        def params(since_parameter: str, **more: Any) -> dict[str, Any]:
            return {**more, **_order("CreationTime"), **_after(since_parameter, self.cp.since)}

        listings: dict[str, tuple[str, str, dict[str, Any], Callable[[dict[str, Any]], str] | None, Any]] = {
            "pipeline-executions": ("list_pipelines", "PipelineSummaries", _order("CreationTime"), None,
                                    self._pipeline),
            "model-packages": ("list_model_packages", "ModelPackageSummaryList",
                               params("CreationTimeAfter", ModelPackageType="Versioned"),
                               _arn("ModelPackageArn"), self._package),
            "endpoints": ("list_endpoints", "Endpoints", params("LastModifiedTimeAfter"), _arn("EndpointArn"),
                          self._endpoint),
            "endpoint-configs": ("list_endpoint_configs", "EndpointConfigs", params("CreationTimeAfter"),
                                 _arn("EndpointConfigArn"), self._counted("endpoint-configs")),
            "models": ("list_models", "Models", params("CreationTimeAfter"), _arn("ModelArn"),
                       self._counted("models")),
        }  # fmt: skip
        for jobs in JOBS:
            listings[jobs.phase] = (jobs.listing, jobs.items, params("LastModifiedTimeAfter"), _arn(jobs.arn),
                                    functools.partial(self._job, jobs))  # fmt: skip
        self._walk(phase, *listings[phase])

    # --- listing ---------------------------------------------------------------------------------

    def _walk(
        self,
        key: str,
        operation: str,
        items_key: str,
        params: dict[str, Any],
        node_id: Callable[[dict[str, Any]], str] | None,
        handle: Callable[[dict[str, Any], dict[str, dict[str, Any]]], None],
    ) -> None:
        """Every item of a listing, page by page, from where the cursor `key` stopped."""
        cursor = self.cp.cursors.setdefault(key, Cursor())
        while not cursor.finished:
            request = {**params, "MaxResults": _PAGE, **({"NextToken": cursor.token} if cursor.token else {})}
            try:
                page = self._call(self.catalog.list_page, operation, **request)
            except NotFoundError as exc:  # not allowed to list it, or the parent is gone
                self._error(key.split("|", 1)[0], f"{operation}: {exc}")
                cursor.finished = True
                return
            items = list(page.get(items_key) or [])[cursor.done :]
            known = self._known([node_id(i) for i in items]) if node_id and items else {}
            for item in items:
                self._check_time()
                handle(item, known)
                cursor.done += 1
                self.progressed = True
                self._save_now_and_then()
            token = page.get("NextToken")
            if token:
                cursor.token, cursor.done = token, 0
            else:
                cursor.finished = True
            self.progressed = True  # a page behind us, even an empty one

    def _known(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return self.store.get_nodes(ids)

    def _call(self, method: Callable[..., dict[str, Any]], operation: str, **kwargs: Any) -> dict[str, Any]:
        # Stop before the call past the budget, once this invocation has moved on (a resumed run
        # fetches its open pages again: that alone must not use up a small budget every time).
        if self.progressed and self.catalog.calls - self.first_calls >= self.budget:
            raise _Stop("budget")
        try:
            return method(operation, **kwargs)
        except DependencyError as exc:  # throttled past botocore's retries: resume later
            self._error("throttling", f"{operation}: {exc}", count=False)
            raise _Stop("throttled") from exc

    def _check_time(self) -> None:
        if self.progressed and self.time_left_ms is not None and self.time_left_ms() < self.reserve_ms:
            raise _Stop("time")

    def _save_now_and_then(self) -> None:
        if time.monotonic() - self.saved_at >= _SAVE_EVERY_SECONDS:
            self._save()
            if self.progress:
                self.progress(self._report())

    # --- resources -------------------------------------------------------------------------------

    def _pipeline(self, item: dict[str, Any], _known: dict[str, dict[str, Any]]) -> None:
        name = item["PipelineName"]
        key = f"pipeline-executions|{name}"
        params = {"PipelineName": name, **_order("CreationTime"), **_after("CreatedAfter", self.cp.since)}
        self._walk(key, "list_pipeline_executions", "PipelineExecutionSummaries", params,
                   lambda i: canonical_arn(i["PipelineExecutionArn"]), self._execution)  # fmt: skip
        self.cp.cursors.pop(key, None)

    def _execution(self, item: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
        arn = item["PipelineExecutionArn"]
        node = known.get(canonical_arn(arn))
        status, started = item.get("PipelineExecutionStatus"), _iso_z(item.get("StartTime"))
        if status and started and _is_known(NodeKind.PIPELINE_EXECUTION, status, started, node):
            self._tally("pipeline-executions").known += 1
            return
        key = f"pipeline-steps|{arn}"
        self._walk(key, "list_pipeline_execution_steps", "PipelineExecutionSteps",
                   {"PipelineExecutionArn": arn, "SortOrder": "Ascending"},
                   lambda s: f"{canonical_arn(arn)}/step/{s['StepName']}",
                   lambda step, steps_known: self._step(arn, step, steps_known))  # fmt: skip
        described = self._describe(
            "pipeline-executions", "describe_pipeline_execution", PipelineExecutionArn=arn
        )
        if described is not None:
            self._record("pipeline-executions", lambda: build.pipeline_execution_event(described), node)
        self.cp.cursors.pop(key, None)

    def _step(self, execution: str, step: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
        node = known.get(f"{canonical_arn(execution)}/step/{step['StepName']}")
        self._record("pipeline-steps", lambda: build.pipeline_step_event(execution, step), node)

    def _job(self, jobs: Jobs, item: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
        node = known.get(canonical_arn(item[jobs.arn]))
        when = _iso_z(item.get("LastModifiedTime"))
        if when and _is_known(jobs.kind, item[jobs.status], when, node):
            self._tally(jobs.phase).known += 1
            return
        described = self._describe(jobs.phase, jobs.describe, **{jobs.parameter: item[jobs.name]})
        if described is not None:
            self._record(
                jobs.phase,
                lambda: build.described_event(jobs.detail_type, jobs.arn, jobs.status, described),
                node,
            )

    def _package(self, item: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
        node = known.get(canonical_arn(item["ModelPackageArn"]))
        # The listing has no time of the status: the same status recorded is what SageMaker says now.
        if node and node.get("status") == (item.get("ModelApprovalStatus") or "PendingManualApproval"):
            self._tally("model-packages").known += 1
            return
        described = self._describe(
            "model-packages", "describe_model_package", ModelPackageName=item["ModelPackageArn"]
        )
        if described is not None:
            self._record(
                "model-packages",
                lambda: build.described_event(
                    build.PACKAGE, "ModelPackageArn", "ModelApprovalStatus", described
                ),
                node,
            )

    def _endpoint(self, item: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
        node = known.get(canonical_arn(item["EndpointArn"]))
        when = _iso_z(item.get("LastModifiedTime"))
        if when and _is_known(NodeKind.ENDPOINT, item["EndpointStatus"], when, node):
            self._tally("endpoints").known += 1
            return
        described = self._describe("endpoints", "describe_endpoint", EndpointName=item["EndpointName"])
        if described is not None:
            self._record(
                "endpoints",
                lambda: build.described_event(build.ENDPOINT, "EndpointArn", "EndpointStatus", described),
                node,
            )

    def _counted(self, phase: str) -> Callable[[dict[str, Any], dict[str, dict[str, Any]]], None]:
        """Endpoint configs and models have no events: they are recorded (described once) as what an
        endpoint or transform job uses; one nothing uses is skipped, as the events would leave it out."""

        def count(item: dict[str, Any], known: dict[str, dict[str, Any]]) -> None:
            arn = item.get("EndpointConfigArn") or item.get("ModelArn") or ""
            tally = self._tally(phase)
            if canonical_arn(arn) in known:
                tally.known += 1
            else:
                tally.skipped += 1

        return count

    # --- describe and record ---------------------------------------------------------------------

    def _describe(self, phase: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return self._call(self.catalog.describe, operation, **kwargs)
        except NotFoundError:  # deleted since it was listed (or not ours to read): nothing to record
            self._tally(phase).skipped += 1
            return None

    def _record(self, phase: str, event: Callable[[], dict[str, Any]], node: dict[str, Any] | None) -> None:
        tally = self._tally(phase)
        try:
            raw = event()
            parsed = parse_event(raw)
            change = extract(parsed)
            primary = change.primary if change else None
            if primary is None or primary.status is None or primary.status_time is None:
                tally.skipped += 1
                return
            if _is_known(primary.kind, primary.status, iso_z(primary.status_time), node):
                tally.known += 1
                return
            outcome = record_lineage(parsed, self.store, self.catalog, home=self.home)
        except DependencyError as exc:  # an endpoint's config or model could not be described yet
            self._error("throttling", f"{phase}: {exc}", count=False)
            raise _Stop("throttled") from exc
        except (InvalidEventError, UnsupportedEventError, KeyError, ValueError) as exc:
            self._error(phase, f"{phase}: {str(exc)[:300]}")
            return
        if outcome.outcome == "recorded":
            tally.recorded += 1
        elif outcome.outcome in ("duplicate", "stale"):
            tally.known += 1
        else:
            tally.skipped += 1

    # --- bookkeeping -----------------------------------------------------------------------------

    def _tally(self, phase: str) -> Tally:
        return self.cp.tallies.setdefault(phase, Tally())

    def _error(self, phase: str, message: str, *, count: bool = True) -> None:
        if count:
            self._tally(phase).errors += 1
        self.cp.errors = [*self.cp.errors, message][-_KEPT_ERRORS:]


def _is_known(kind: NodeKind, status: str, when: str, node: dict[str, Any] | None) -> bool:
    """Whether the store already holds this state (or a newer one): the store's own forward-only rule."""
    if not node or not node.get("status") or not node.get("statusTime"):
        return False
    return not supersedes(kind, (status, when), (str(node["status"]), str(node["statusTime"])))


def _iso_z(value: Any) -> str | None:
    parsed = parse_timestamp(value)
    return iso_z(parsed) if parsed else None


def _arn(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda item: canonical_arn(item[key])


def _order(by: str) -> dict[str, str]:
    # Oldest first: what is created while a run pauses lands after its cursor, not before it.
    return {"SortBy": by, "SortOrder": "Ascending"}


def _after(parameter: str, since: datetime | None) -> dict[str, Any]:
    return {parameter: since} if since else {}


class BackfillRequest(BaseModel):
    """What an invocation asks: a new run (optionally `since` a time) or to resume `run`; `budget` calls."""

    model_config = ConfigDict(defer_build=True)

    run: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{1,64}$")
    since: datetime | None = None
    budget: int | None = Field(None, ge=1, le=MAX_BUDGET)

    @classmethod
    def parse(cls, event: Any) -> BackfillRequest:
        from pydantic import ValidationError

        if event is None:
            event = {}
        if not isinstance(event, dict):
            raise RefusedError("the event is a JSON object: {run?, since?, budget?}", field="body")
        try:
            since = parse_timestamp(event.get("since"))
        except ValueError as exc:
            raise RefusedError(f"since: {exc}", field="since") from None
        try:
            return cls.model_validate({**event, "since": since})
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in first["loc"]) or "body"
            raise RefusedError(f"{field}: {first['msg']}", field=field) from None
