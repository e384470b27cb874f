"""Reconciliation of lost events, and query cost at scale (each test has its own sandbox)."""

from __future__ import annotations

import copy
import json

from sandbox import Sandbox
from sandbox.demo.replay import create_sagemaker_resources
from steward.events import parse_event
from steward.lineage.extract import extract
from steward.lineage.query import WalkStats, walk
from tests.conftest import EVENTS, load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
ENDPOINT = f"{ACC}:endpoint/churn-prod"


# --- reconciliation ---------------------------------------------------------------------------------


def _training_job(sm, name):
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/r",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    )


def test_reconciler_repairs_a_lost_completed_event():
    with Sandbox(serve_api=False) as sandbox:
        # Given a training job SageMaker reports Completed, whose Completed event was lost
        _training_job(sandbox.client("sagemaker"), "Lost-Completion")
        started = copy.deepcopy(load("training_job/in_progress_starting.json"))
        started["detail"].update(
            TrainingJobName="Lost-Completion", TrainingJobArn=f"{ACC}:training-job/lost-completion", Tags={}
        )
        sandbox.put_events([started])
        # When the scheduled reconciler runs
        run = sandbox.run_schedules("reconcile")
        # Then the record is Completed, with the repair in its history
        report = run[0]["targets"][0]["result"]
        assert [r["to"] for r in report["repaired"]] == ["Completed"]
        node = {n["id"]: n for n in sandbox.lineage()["nodes"]}[f"{ACC}:training-job/lost-completion"]
        assert node["status"] == "Completed"
        history = sandbox.lineage_store().history(node["id"])
        assert history[-1]["replayName"] == "steward-reconciler"
        # And a second run finds nothing to repair
        assert sandbox.run_schedules("reconcile")[0]["targets"][0]["result"]["repaired"] == []


def test_reconciler_repairs_a_lost_endpoint_update():
    with Sandbox(serve_api=False) as sandbox:
        sm = sandbox.client("sagemaker")
        create_sagemaker_resources(sm, json.loads((EVENTS / "sagemaker_resources.json").read_text()))
        # Given the endpoint recorded on v2, then updated to v3 with every event lost
        with sandbox.quietly():  # SageMaker's own events for these calls are lost
            sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-v2-4c7a")
        sandbox.put_events([load("endpoint/updating.json")])
        with sandbox.quietly():
            sm.update_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-v3-5d1c")
        # When the reconciler runs
        report = sandbox.run_schedules("reconcile")[0]["targets"][0]["result"]
        # Then the record serves v3, and the deployment shows in the history
        assert report["repaired"][0]["endpointConfigName"] == "churn-prod-v3-5d1c"
        node = {n["id"]: n for n in sandbox.lineage()["nodes"]}[ENDPOINT]
        assert (node["status"], node["endpointConfigName"]) == ("InService", "churn-prod-v3-5d1c")


def test_reconciler_stays_within_its_budget():
    with Sandbox(serve_api=False, parameters={"ReconcileBudget": "3"}) as sandbox:
        for i in range(5):
            started = copy.deepcopy(load("training_job/in_progress_starting.json"))
            started["id"] = f"00000000-0000-4000-8000-00000000000{i}"
            started["detail"].update(
                TrainingJobName=f"job-{i}", TrainingJobArn=f"{ACC}:training-job/job-{i}", Tags={}
            )
            sandbox.put_events([started])
        sandbox.aws_calls.clear()
        report = sandbox.run_schedules("reconcile")[0]["targets"][0]["result"]
        assert report["checked"] == 3
        assert report["budgetExhausted"] is True
        assert sandbox.aws_calls["sagemaker.DescribeTrainingJob"] == 3
        assert len(report["missing"]) == 3  # never created in SageMaker: reported, not invented


# --- scale ------------------------------------------------------------------------------------------


FAN_OUT = 250  # more than two BatchGetItem pages of leaves; `make bench` walks 1,000


def test_a_wide_tuning_fan_out_is_one_round_per_level():
    with Sandbox(serve_api=False) as sandbox:
        store = sandbox.lineage_store()
        base = load("training_job/quirk_int_millis_and_nulls.json")
        tuning_arn = base["detail"]["TuningJobArn"]
        for i in range(FAN_OUT):
            event = copy.deepcopy(base)
            event["id"] = f"fan-{i}"
            event["detail"].update(
                TrainingJobName=f"hpo-{i:04d}", TrainingJobArn=f"{ACC}:training-job/hpo-{i:04d}"
            )
            event["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://bucket/hpo/{i:04d}/model.tar.gz"}
            store.apply(extract(parse_event(event)))
        sandbox.aws_calls.clear()
        stats = WalkStats()
        graph = walk(store, tuning_arn.lower(), "downstream", depth=2, stats=stats)
        assert stats.rounds == 3
        assert sum(1 for n in graph["nodes"] if n["kind"] == "training-job") == FAN_OUT
        assert sum(1 for n in graph["nodes"] if n["kind"] == "model-artifact") == FAN_OUT
        assert "dynamodb.Scan" not in sandbox.aws_calls
        # each level read with BatchGetItem (100 nodes a call): the tuning job, its jobs, their artifacts;
        # the tuning job is wider than a node item keeps, so its edges come with one Query (not 1 + 250)
        per_level = [1, FAN_OUT, FAN_OUT]
        assert sandbox.aws_calls["dynamodb.BatchGetItem"] <= sum(-(-n // 100) for n in per_level)
        assert sandbox.aws_calls["dynamodb.Query"] <= 1


def test_a_group_with_50_versions_walks_in_two_rounds():
    with Sandbox(serve_api=False) as sandbox:
        store = sandbox.lineage_store()
        for version in range(1, 51):
            event = copy.deepcopy(load("model_package/registered_pending.json"))
            event["id"] = f"version-{version}"
            event["detail"].update(
                ModelPackageVersion=version, ModelPackageArn=f"{ACC}:model-package/churn-models/{version}"
            )
            store.apply(extract(parse_event(event)))
        stats = WalkStats()
        graph = walk(store, f"{ACC}:model-package-group/churn-models", "downstream", depth=1, stats=stats)
        assert stats.rounds == 2
        assert sum(1 for n in graph["nodes"] if n["kind"] == "model-package") == 50


def test_reconciler_retires_what_it_cannot_check_and_still_reaches_the_rest():
    with Sandbox(serve_api=False, parameters={"ReconcileBudget": "3"}) as sandbox:
        # Given three open jobs of another account and one local job SageMaker reports Completed
        for i in range(3):
            foreign = copy.deepcopy(load("training_job/in_progress_starting.json"))
            foreign["id"] = f"00000000-0000-4000-8000-0000000000f{i}"
            foreign["account"] = "999999999999"
            foreign["detail"].update(
                TrainingJobName=f"remote-{i}",
                Tags={},
                TrainingJobArn=f"arn:aws:sagemaker:us-east-1:999999999999:training-job/remote-{i}",
            )
            sandbox.put_events([foreign])
        _training_job(sandbox.client("sagemaker"), "Local-Job")
        local = copy.deepcopy(load("training_job/in_progress_starting.json"))
        local["detail"].update(
            TrainingJobName="Local-Job", TrainingJobArn=f"{ACC}:training-job/local-job", Tags={}
        )
        sandbox.put_events([local])
        # When the reconciler runs twice
        first = sandbox.run_schedules("reconcile")[0]["targets"][0]["result"]
        second = sandbox.run_schedules("reconcile")[0]["targets"][0]["result"]
        # Then the foreign records leave the worklist, and the local one is repaired
        assert len(first["outOfReach"]) + len(second["outOfReach"]) == 3
        repaired = first["repaired"] + second["repaired"]
        assert [r["id"] for r in repaired] == [f"{ACC}:training-job/local-job"]


def test_an_endpoint_of_another_account_is_not_linked_to_our_configs():
    with Sandbox(serve_api=False) as sandbox:
        create_sagemaker_resources(
            sandbox.client("sagemaker"), json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        event = copy.deepcopy(load("endpoint/in_service.json"))
        event["account"] = "999999999999"
        event["detail"]["EndpointArn"] = "arn:aws:sagemaker:us-east-1:999999999999:endpoint/churn-prod"
        result = sandbox.put_events([event])[0]["targets"][0]["result"]
        assert result["degraded"]
        edges = {(e["from"], e["to"]) for e in sandbox.lineage()["edges"]}
        assert all(
            ":123456789012:" not in source
            for source, target in edges
            if target.endswith("999999999999:endpoint/churn-prod")
        )
