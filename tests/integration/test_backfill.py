"""Backfill (README "Backfill"): what SageMaker held before Steward, recorded as if its events had come.

The same world is built twice, in two sandboxes: a pipeline run (prepare, train, evaluate, check,
register), the version it registered and its approval, an endpoint serving it, a batch transform with it,
an ad-hoc training job, and a model nothing uses. One sandbox sees SageMaker's events as they happen
(the emulation's, and the fixtures' job events, renamed to the world's resources); the other is built
quietly (no event at all) and then backfilled. Their lineage must agree: nodes, edges, current statuses.
"""

from __future__ import annotations

import contextlib
import copy
import random
from datetime import UTC, datetime

import pytest

from sandbox import Sandbox
from tests.conftest import load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20260115T101500"
PIPELINE_TAG = "sagemaker:pipeline-execution-arn"
# Steward's own records (approval requests, deployments it ran) are not SageMaker's to report.
STEWARDS_OWN = {"approval", "deployment"}


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _processing_args(detail: dict) -> dict:
    keys = ("ProcessingJobName", "ProcessingInputs", "ProcessingOutputConfig", "ProcessingResources",
            "StoppingCondition", "AppSpecification", "RoleArn")  # fmt: skip
    return {k: detail[k] for k in keys}


def _training_args(detail: dict, execution: str) -> dict:
    keys = ("TrainingJobName", "HyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig",
            "ResourceConfig", "StoppingCondition")  # fmt: skip
    args = {k: copy.deepcopy(detail[k]) for k in keys}
    args["OutputDataConfig"] = {"S3OutputPath": detail["OutputDataConfig"]["S3OutputPath"]}
    args["Tags"] = _tags({**detail["Tags"], PIPELINE_TAG: execution})
    return args


def _job_event(fixture: str, execution: str | None, **detail: object) -> dict:
    """A fixture job event, renamed to the world's resources (a new id: another job's event)."""
    event = copy.deepcopy(load(fixture))
    event["detail"].update(detail)
    event["id"] = f"world-{fixture}-{sorted(detail.items())}"

    if execution and PIPELINE_TAG in (event["detail"].get("Tags") or {}):
        event["detail"]["Tags"][PIPELINE_TAG] = execution
    return event


def build_world(sb: Sandbox, *, announced: bool) -> str:
    """Create the world; `announced`: SageMaker's events reach Steward, else nothing announces it (as
    before Steward was deployed). Returns the pipeline execution's ARN (the same in both worlds)."""
    sm = sb.client("sagemaker")
    prepare = load("processing_job/completed.json")["detail"]
    train = load("training_job/completed.json")["detail"]
    evaluate = load("processing_job/evaluate_completed.json")["detail"]
    transform = load("transform_job/completed.json")["detail"]
    registered = load("model_package/registered_pending.json")["detail"]
    with contextlib.nullcontext() if announced else sb.quietly():
        sm.create_pipeline(PipelineName="churn-train", PipelineDefinition='{"Steps": []}', RoleArn=ROLE)
        state = random.getstate()
        random.seed(20)  # moto draws execution ids from `random`: both worlds get the same one
        execution = sm.start_pipeline_execution(
            PipelineName="churn-train", PipelineExecutionDisplayName="nightly-2026-11-02"
        )["PipelineExecutionArn"]
        random.setstate(state)
        jobs = {
            "prepare": sm.create_processing_job(**_processing_args(prepare))["ProcessingJobArn"],
            "train": sm.create_training_job(**_training_args(train, execution))["TrainingJobArn"],
            "evaluate": sm.create_processing_job(**_processing_args(evaluate))["ProcessingJobArn"],
        }
        artifact = sm.describe_training_job(TrainingJobName=train["TrainingJobName"])["ModelArtifacts"]
        assert (
            artifact["S3ModelArtifacts"]
            == registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        )
        sm.create_model_package_group(ModelPackageGroupName="churn-models")
        package = sm.create_model_package(
            ModelPackageGroupName="churn-models",
            ModelPackageDescription=registered["ModelPackageDescription"],
            InferenceSpecification=registered["InferenceSpecification"],
            ModelMetrics=registered["ModelMetrics"],
            MetadataProperties={"GeneratedBy": execution},
            ModelApprovalStatus="PendingManualApproval",
        )["ModelPackageArn"]
        sb.finish_pipeline_execution(
            execution,
            steps=[
                {
                    "StepName": "PrepareData",
                    "StepType": "Processing",
                    "Metadata": {"ProcessingJob": {"Arn": jobs["prepare"]}},
                },
                {
                    "StepName": "TrainChurnModel",
                    "StepType": "Training",
                    "Metadata": {"TrainingJob": {"Arn": jobs["train"]}},
                },
                {
                    "StepName": "EvaluateChurnModel",
                    "StepType": "Processing",
                    "Metadata": {"ProcessingJob": {"Arn": jobs["evaluate"]}},
                },
                {
                    "StepName": "CheckAUC",
                    "StepType": "Condition",
                    "Metadata": {"Condition": {"Outcome": "True"}},
                },
                {
                    "StepName": "RegisterChurnModel",
                    "StepType": "RegisterModel",
                    "Metadata": {"RegisterModel": {"Arn": package}},
                },
            ],
        )
        sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
        sm.create_model(
            ModelName="churn-models-v1", PrimaryContainer={"ModelPackageName": package}, ExecutionRoleArn=ROLE
        )
        sm.create_model(ModelName="scratch", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE)
        sm.create_endpoint_config(
            EndpointConfigName="churn-prod-v1",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "churn-models-v1",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-v1")
        sm.create_transform_job(
            TransformJobName=transform["TransformJobName"],
            ModelName="churn-models-v1",
            TransformInput=transform["TransformInput"],
            TransformOutput={"S3OutputPath": transform["TransformOutput"]["S3OutputPath"]},
            TransformResources=transform["TransformResources"],
        )
        adhoc = {**train, "TrainingJobName": "adhoc-experiment", "Tags": {"team": "retention-ds"}}
        sm.create_training_job(**{**_training_args(adhoc, execution), "Tags": _tags(adhoc["Tags"])})
    if announced:  # SageMaker's job events (the emulation sends the pipeline, registry and endpoint ones)
        sb.put_events(
            [
                _job_event("processing_job/completed.json", execution, ProcessingJobArn=jobs["prepare"]),
                _job_event("training_job/completed.json", execution, TrainingJobArn=jobs["train"]),
                _job_event(
                    "processing_job/evaluate_completed.json", execution, ProcessingJobArn=jobs["evaluate"]
                ),
                _job_event("transform_job/completed.json", None, ModelName="churn-models-v1"),
                _job_event(
                    "training_job/completed.json",
                    None,
                    TrainingJobName="adhoc-experiment",
                    TrainingJobArn=f"{ACC}:training-job/adhoc-experiment",
                    ModelArtifacts={
                        "S3ModelArtifacts": f"{train['OutputDataConfig']['S3OutputPath']}/adhoc-experiment/output/model.tar.gz"
                    },
                    Tags={"team": "retention-ds"},
                ),
            ]
        )
    sb.drain()
    return execution


def lineage_of(sb: Sandbox) -> dict:
    """What the comparison is about: each node's id, kind, name and current status; every edge."""
    graph = sb.lineage()
    nodes = {
        n["id"]: (n["kind"], n["name"], n.get("status"))
        for n in graph["nodes"]
        if n["kind"] not in STEWARDS_OWN
    }
    edges = {
        (e["from"], e["relation"], e["to"]) for e in graph["edges"] if e["from"] in nodes and e["to"] in nodes
    }
    return {"nodes": nodes, "edges": edges}


@pytest.fixture(scope="module")
def seen() -> dict:
    """The world as Steward records it from SageMaker's events."""
    with Sandbox(serve_api=False) as sb:
        build_world(sb, announced=True)
        return lineage_of(sb)


def test_backfill_records_what_the_events_would_have(seen):
    # Given the world built without a single event
    with Sandbox(serve_api=False) as sb:
        build_world(sb, announced=False)
        assert sb.lineage()["nodes"] == []
        # When it is backfilled
        answer = sb.backfill()
        # Then its lineage is the one the events built: nodes, edges, current statuses
        backfilled = lineage_of(sb)
    assert answer["done"] is True and answer["summary"]["errors"] == 0
    assert backfilled["nodes"] == seen["nodes"]
    assert backfilled["edges"] == seen["edges"]
    # the chain from the data to the endpoint, each link from what SageMaker reports
    endpoint = f"{ACC}:endpoint/churn-prod"
    assert seen["nodes"][endpoint] == ("endpoint", "churn-prod", "InService")
    assert (f"{ACC}:model-package/churn-models/1", "instantiated-as", f"{ACC}:model/churn-models-v1") in seen[
        "edges"
    ]
    assert f"{ACC}:model/scratch" not in seen["nodes"]  # a model nothing uses has no event, and no node
    by_type = answer["byType"]
    assert by_type["models"] == {"recorded": 0, "known": 1, "skipped": 1, "errors": 0}
    assert by_type["pipeline-steps"]["recorded"] == 5
    assert by_type["training-jobs"]["recorded"] == 2


def test_a_rerun_changes_nothing():
    with Sandbox(serve_api=False) as sb:
        # Given a backfilled world
        build_world(sb, announced=False)
        first = sb.backfill()
        before = sb.lineage()
        histories = {n["id"]: sb.lineage_store().history(n["id"]) for n in before["nodes"]}
        sb.aws_calls.clear()
        # When it is backfilled again
        again = sb.backfill()
        # Then nothing is recorded, everything is known, and nothing was written but the checkpoint
        assert again["summary"]["recorded"] == 0
        assert again["summary"]["errors"] == 0
        assert again["summary"]["skipped"] == first["summary"]["skipped"]  # the unused model, again
        assert again["summary"]["known"] > 0
        assert "dynamodb.TransactWriteItems" not in sb.aws_calls
        assert sb.aws_calls["dynamodb.PutItem"] == 1  # the new run's checkpoint
        assert not any(op.startswith("sagemaker.Describe") for op in sb.aws_calls)
        assert sb.lineage() == before
        assert {n["id"]: sb.lineage_store().history(n["id"]) for n in before["nodes"]} == histories


def test_backfill_on_top_of_the_events_adds_nothing():
    with Sandbox(serve_api=False) as sb:
        # Given the world as the events recorded it
        build_world(sb, announced=True)
        before = lineage_of(sb)
        # When it is backfilled
        answer = sb.backfill()
        # Then the lineage is unchanged: nothing SageMaker reports is newer than what the events said
        assert lineage_of(sb) == before
        assert answer["summary"]["errors"] == 0


def _describes(sb: Sandbox) -> int:
    return sum(n for op, n in sb.aws_calls.items() if op.startswith("sagemaker.Describe"))


def test_a_run_out_of_budget_resumes_where_it_stopped(seen):
    # Given the quiet world and the calls of one uninterrupted backfill
    with Sandbox(serve_api=False) as sb:
        build_world(sb, announced=False)
        sb.aws_calls.clear()
        whole = sb.backfill()
        whole_describes = _describes(sb)
    with Sandbox(serve_api=False) as sb:
        build_world(sb, announced=False)
        sb.aws_calls.clear()
        # When a run stops at a small budget
        first = sb.backfill(budget=4, until_done=False)
        assert first["done"] is False and first["stoppedBecause"] == "budget"
        assert first["calls"] <= 4 + 2  # an endpoint's config and model, once started, are finished
        # And is resumed, invocation after invocation, each with that budget
        last = sb.backfill(run=first["run"], budget=4)
        # Then it ends as the uninterrupted run did, having described nothing twice
        assert last["done"] is True and last["invocations"] > 2
        assert last["summary"] == whole["summary"]
        assert last["byType"] == whole["byType"]
        assert _describes(sb) == whole_describes
        assert lineage_of(sb) == seen


def test_resuming_a_finished_or_unknown_run():
    with Sandbox(serve_api=False) as sb:
        done = sb.backfill()
        assert sb.backfill(run=done["run"])["done"] is True  # a finished run answers its summary
        unknown = sb.backfill(run="no-such-run")
        assert unknown["error"] == "NotFound" and unknown["field"] == "run"


def test_since_leaves_older_resources_out():
    with Sandbox(serve_api=False) as sb:
        sm = sb.client("sagemaker")
        detail = load("training_job/completed.json")["detail"]
        with sb.quietly():
            sm.create_training_job(
                **{**_training_args({**detail, "TrainingJobName": "old-job"}, "x"), "Tags": []}
            )
            cut = datetime.now(UTC).isoformat()
            sm.create_training_job(
                **{**_training_args({**detail, "TrainingJobName": "new-job"}, "x"), "Tags": []}
            )
        answer = sb.backfill(since=cut)
        names = {n["name"] for n in sb.lineage()["nodes"] if n["kind"] == "training-job"}
        assert names == {"new-job"}
        assert answer["since"] is not None and answer["byType"]["training-jobs"]["recorded"] == 1
