"""The backfill's pure parts and its walk over fakes: synthetic events, budgets, resuming across pages."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from steward.backfill import events as build
from steward.backfill.walk import PHASES, BackfillRequest, backfill, start_or_resume
from steward.events import parse_event
from steward.kernel.errors import NotFoundError, RefusedError
from steward.kernel.times import iso_z
from steward.lineage.extract import extract

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


# --- synthetic events ---------------------------------------------------------------------------------


def _training(name: str, minute: int = 0) -> dict:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ACC}:training-job/{name.lower()}",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train/"}}}
        ],
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/out/{name}/output/model.tar.gz"},
        "CreationTime": T0,
        "LastModifiedTime": T0 + timedelta(minutes=minute),
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def test_a_described_job_is_the_event_sagemaker_sends_for_its_state():
    event = build.described_event(
        build.TRAINING, "TrainingJobArn", "TrainingJobStatus", _training("Train-1", 7)
    )
    parsed = parse_event(event)
    change = extract(parsed)
    assert event["replay-name"] == "steward-backfill" and "ResponseMetadata" not in event["detail"]
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
    assert change.primary.status == "Completed"
    assert iso_z(change.primary.status_time) == "2026-11-02T02:07:00.000000Z"
    assert {(e.source, e.target) for e in change.edges} >= {("s3://b/train", f"{ACC}:training-job/train-1")}


def test_the_event_id_is_the_same_for_the_same_state_and_differs_for_another():
    one = build.described_event(build.TRAINING, "TrainingJobArn", "TrainingJobStatus", _training("Train-1"))
    same = build.described_event(build.TRAINING, "TrainingJobArn", "TrainingJobStatus", _training("Train-1"))
    later = build.described_event(
        build.TRAINING, "TrainingJobArn", "TrainingJobStatus", _training("Train-1", 1)
    )
    assert one["id"] == same["id"] != later["id"]


def test_a_listed_step_is_the_step_event_with_its_metadata_camel_cased_and_its_type():
    execution = f"{ACC}:pipeline/churn-train/execution/abc123"
    step = {
        "StepName": "RegisterChurnModel",
        "StepStatus": "Succeeded",
        "StartTime": T0,
        "EndTime": T0 + timedelta(seconds=4),
        "Metadata": {"RegisterModel": {"Arn": f"{ACC}:model-package/churn-models/3"}},
    }
    event = build.pipeline_step_event(execution, step)
    parsed = parse_event(event)
    assert parsed.detail.metadata == {"registerModel": {"arn": f"{ACC}:model-package/churn-models/3"}}
    assert parsed.detail.step_type == "RegisterModel"
    assert parsed.detail.pipeline_arn == f"{ACC}:pipeline/churn-train"
    assert [r for _, r in parsed.detail.step_resources()] == [f"{ACC}:model-package/churn-models/3"]


def test_a_described_execution_ends_when_it_was_last_modified_unless_it_is_still_running():
    described = {
        "PipelineArn": f"{ACC}:pipeline/churn-train",
        "PipelineExecutionArn": f"{ACC}:pipeline/churn-train/execution/abc123",
        "PipelineExecutionStatus": "Succeeded",
        "CreationTime": T0,
        "LastModifiedTime": T0 + timedelta(minutes=33),
    }
    done = parse_event(build.pipeline_execution_event(described)).detail
    running = parse_event(
        build.pipeline_execution_event({**described, "PipelineExecutionStatus": "Executing"})
    ).detail
    assert done.execution_end_time == T0 + timedelta(minutes=33)
    assert running.execution_end_time is None and running.execution_start_time == T0


# --- the request --------------------------------------------------------------------------------------


def test_a_bad_request_is_refused_naming_its_field():
    with pytest.raises(RefusedError) as bad_since:
        BackfillRequest.parse({"since": "yesterday"})
    with pytest.raises(RefusedError) as bad_budget:
        BackfillRequest.parse({"budget": 0})
    assert (bad_since.value.field, bad_budget.value.field) == ("since", "budget")
    assert BackfillRequest.parse(None).run is None


# --- the walk, over fakes -----------------------------------------------------------------------------


class FakeStore:
    """The lineage store's two calls the walk and record_lineage make, in memory."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict] = {}
        self.applied: list[str] = []

    def apply(self, change) -> str:
        self.applied.append(change.event_id)
        for node in change.nodes:
            if node.status is not None:
                self.nodes[node.id] = {
                    "id": node.id,
                    "status": node.status,
                    "statusTime": iso_z(node.status_time),
                }
            else:
                self.nodes.setdefault(node.id, {"id": node.id})
        return "recorded"

    def get_nodes(self, ids) -> dict:
        return {i: self.nodes[i] for i in ids if i in self.nodes}

    def get_nodes_for_event(self, ids, event_id) -> tuple[dict, bool]:
        return self.get_nodes(ids), False


class FakeCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[str, dict] = {}

    def load(self, run):
        return self.saved.get(run)

    def save(self, state, version):
        assert self.saved.get(state["run"], {}).get("version", 0) == version
        self.saved[state["run"]] = {**state, "version": version + 1}


class FakeSageMaker:
    """`jobs` training jobs (pages of 100, oldest first); every other listing is empty."""

    def __init__(self, jobs: int) -> None:
        self.jobs = [_training(f"job-{i:04d}") for i in range(jobs)]
        self.calls = 0
        self.described: Counter[str] = Counter()
        self.gone: set[str] = set()

    def list_page(self, operation, **kwargs):
        self.calls += 1
        if operation != "list_training_jobs":
            return {}
        start = int(kwargs.get("NextToken") or 0)
        page = self.jobs[start : start + kwargs["MaxResults"]]
        summaries = [
            {k: j[k] for k in ("TrainingJobName", "TrainingJobArn", "TrainingJobStatus", "LastModifiedTime")}
            for j in page
        ]
        more = start + len(page) < len(self.jobs)
        return {"TrainingJobSummaries": summaries, **({"NextToken": str(start + len(page))} if more else {})}

    def describe(self, operation, **kwargs):
        self.calls += 1
        name = kwargs["TrainingJobName"]
        if name in self.gone:
            raise NotFoundError(name)
        self.described[name] += 1
        return next(j for j in self.jobs if j["TrainingJobName"] == name)

    def describe_model(self, name):  # pragma: no cover (no transform job or endpoint here)
        raise NotFoundError(name)

    def describe_endpoint_config(self, name):  # pragma: no cover
        raise NotFoundError(name)


def _run(sagemaker, store, checkpoints, budget, run=None, time_left_ms=None):
    checkpoint = start_or_resume(checkpoints, run, None)
    return backfill(
        checkpoint, checkpoints, store, sagemaker, budget=budget, time_left_ms=time_left_ms
    ).as_dict()


@pytest.mark.parametrize("budget", [1, 2, 7, 99, 100, 101])
def test_every_budget_ends_where_one_run_does_describing_each_job_once(budget):
    # Given 250 training jobs: three pages
    sagemaker, store, checkpoints = FakeSageMaker(250), FakeStore(), FakeCheckpoints()
    # When the run is resumed, invocation after invocation, each within `budget` calls
    answer = _run(sagemaker, store, checkpoints, budget)
    while not answer["done"]:
        assert answer["stoppedBecause"] == "budget"
        assert answer["calls"] <= budget + 1  # a resumed page is fetched again
        answer = _run(sagemaker, store, checkpoints, budget, run=answer["run"])
    # Then every job was described once and recorded once, and nothing was repeated
    assert set(sagemaker.described.values()) == {1} and len(sagemaker.described) == 250
    assert len(store.applied) == len(set(store.applied)) == 250
    assert answer["byType"]["training-jobs"] == {"recorded": 250, "known": 0, "skipped": 0, "errors": 0}
    assert answer["phasesDone"] == len(PHASES)


def test_a_rerun_knows_every_job_from_the_listing_alone():
    sagemaker, store, checkpoints = FakeSageMaker(150), FakeStore(), FakeCheckpoints()
    _run(sagemaker, store, checkpoints, 1000)
    sagemaker.described.clear()
    again = _run(sagemaker, store, checkpoints, 1000)
    assert again["byType"]["training-jobs"]["known"] == 150
    assert not sagemaker.described and len(store.applied) == 150
    assert again["calls"] == 2 + len(PHASES) - 1  # two pages of jobs, one (empty) page of everything else


def test_a_job_gone_since_it_was_listed_is_skipped():
    sagemaker, store, checkpoints = FakeSageMaker(3), FakeStore(), FakeCheckpoints()
    sagemaker.gone.add("job-0001")
    answer = _run(sagemaker, store, checkpoints, 1000)
    assert answer["byType"]["training-jobs"] == {"recorded": 2, "known": 0, "skipped": 1, "errors": 0}


def test_a_run_short_of_time_stops_and_each_resumed_one_still_moves_on():
    sagemaker, store, checkpoints = FakeSageMaker(5), FakeStore(), FakeCheckpoints()

    def short() -> int:
        return 1_000  # always below the 30 s reserve

    answer = _run(sagemaker, store, checkpoints, 1000, time_left_ms=short)
    assert answer["stoppedBecause"] == "time" and len(store.applied) < 5
    while not answer["done"]:
        before = len(store.applied), answer["phasesDone"]
        answer = _run(sagemaker, store, checkpoints, 1000, run=answer["run"], time_left_ms=short)
        assert (len(store.applied), answer["phasesDone"]) > before  # at least one job or one phase further
    assert len(store.applied) == len(set(store.applied)) == 5


def test_a_resumed_run_keeps_its_own_since():
    checkpoints = FakeCheckpoints()
    first = _run(FakeSageMaker(0), FakeStore(), checkpoints, 10)
    with pytest.raises(RefusedError):
        start_or_resume(checkpoints, first["run"], T0)
    with pytest.raises(RefusedError) as unknown:
        start_or_resume(checkpoints, "nope", None)
    assert unknown.value.status == 404
