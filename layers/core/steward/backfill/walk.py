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
from collections.abc import Callable
from datetime import datetime
from typing import Any

from steward.backfill import events as build
from steward.backfill.catalog import JOBS, PHASES, TYPES, Catalog, Jobs
from steward.backfill.run import (
    MAX_BUDGET,
    BackfillReport,
    BackfillRequest,
    Checkpoint,
    CheckpointStore,
    Cursor,
    Tally,
    new_run_id,
    start_or_resume,
)
from steward.events import parse_event
from steward.events.normalize import parse_timestamp
from steward.kernel.arns import canonical_arn
from steward.kernel.errors import (
    DependencyError,
    InvalidEventError,
    NotFoundError,
    UnsupportedEventError,
)
from steward.kernel.graph import NodeKind
from steward.kernel.times import iso_z
from steward.lineage.extract import extract
from steward.lineage.lifecycle import supersedes
from steward.lineage.record import LineageWriter, record_lineage

__all__ = [
    "JOBS",
    "MAX_BUDGET",
    "PHASES",
    "TYPES",
    "BackfillReport",
    "BackfillRequest",
    "Catalog",
    "Checkpoint",
    "CheckpointStore",
    "Cursor",
    "Jobs",
    "Tally",
    "backfill",
    "new_run_id",
    "start_or_resume",
]

_PAGE = 100
_KEPT_ERRORS = 20
_SAVE_EVERY_SECONDS = 60.0


class _Stop(Exception):  # control flow, never seen outside this module
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


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
