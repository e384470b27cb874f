"""record_lineage on moto (tables from template.yaml): the story, duplicates, disorder, bad input."""

from __future__ import annotations

import copy
import random
import uuid

import pytest

from sandbox import Sandbox
from tests.conftest import load, story

ACC = "arn:aws:sagemaker:us-east-1:123456789012"


def _setup(sb):
    import json
    from pathlib import Path

    spec = json.loads(
        (Path(__file__).resolve().parents[2] / "events" / "sagemaker_resources.json").read_text()
    )
    sm = sb.client("sagemaker")
    for args in spec["create_model"]:
        sm.create_model(**args)
    for args in spec["create_endpoint_config"]:
        sm.create_endpoint_config(**args)


@pytest.fixture
def sb():
    with Sandbox(serve_api=False) as sandbox:
        _setup(sandbox)
        yield sandbox


def stable(graph):
    """The graph without per-write bookkeeping, for comparing replays."""
    nodes = [{k: v for k, v in n.items() if k not in ("updatedAt",)} for n in graph["nodes"]]
    return {"nodes": nodes, "edges": graph["edges"]}


# What react_to_monitoring adds: a result attributed to the version serving at its time, from the endpoint
# history recorded when the reaction runs (README "Monitoring reactions"), so unlike the rest of the graph
# it depends on the order events arrive in.
_REACTION_ATTRIBUTES = {
    "result", "violationCount", "violations", "reportUri", "problem", "endpointName", "servedConfig",
    "modelPackages", "dataWindowStart", "dataWindowEnd", "retraining",
    "monitoring",  # the endpoint's latest result, with the versions serving when it was reacted to
}  # fmt: skip


def recorded_by_lineage(graph):
    """`stable(graph)` without what monitoring reactions attribute (alarm nodes, result summaries, the
    links from the versions that served), for comparing replays in different orders."""
    alarms = {n["id"] for n in graph["nodes"] if n.get("source") == "cloudwatch-alarm"}
    nodes = [
        {k: v for k, v in n.items() if k not in _REACTION_ATTRIBUTES}
        for n in stable(graph)["nodes"]
        if n["id"] not in alarms
    ]
    edges = [
        e
        for e in graph["edges"]
        if e["to"] not in alarms and not (e["relation"] == "monitored-by" and ":model-package/" in e["from"])
    ]
    return {"nodes": nodes, "edges": edges}


def by_id(graph):
    return {n["id"]: n for n in graph["nodes"]}


EXPECTED = {
    "s3://churn-datalake-123456789012/raw/customers/dt=2026-11-01": ("dataset", None),
    "s3://sagemaker-us-east-1-123456789012/churn-train/code/3c9f0a1e7b5d42c8a6e1/preprocess.py": (
        "dataset",
        None,
    ),
    f"{ACC}:processing-job/pipelines-8xq2n4vd1k7m-preparedata-vb3kr9st2q": ("processing-job", "Completed"),
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/train": (
        "dataset",
        None,
    ),
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/validation": (
        "dataset",
        None,
    ),
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/test": (
        "dataset",
        None,
    ),
    f"{ACC}:training-job/pipelines-8xq2n4vd1k7m-trainchurnmodel-hq7mw2xz4n": ("training-job", "Completed"),
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/TrainChurnModel/"
    "pipelines-8xq2n4vd1k7m-TrainChurnModel-Hq7mW2xZ4n/output/model.tar.gz": ("model-artifact", None),
    f"{ACC}:processing-job/pipelines-8xq2n4vd1k7m-evaluatechurnmodel-lp5nc8vb1x": (
        "processing-job",
        "Completed",
    ),
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/EvaluateChurnModel/output/evaluation": (
        "dataset",
        None,
    ),
    f"{ACC}:pipeline/churn-train/execution/8xq2n4vd1k7m": ("pipeline-execution", "Succeeded"),
    f"{ACC}:model-package-group/churn-models": ("model-package-group", None),
    f"{ACC}:model-package/churn-models/3": ("model-package", "Approved"),
    f"{ACC}:model/churn-models-v3-5d1c": ("model", None),
    f"{ACC}:endpoint-config/churn-prod-v3-5d1c": ("endpoint-config", None),
    f"{ACC}:endpoint/churn-prod": ("endpoint", "InService"),
    f"{ACC}:processing-job/model-monitoring-202611031000-ad4c27ed8808925848eff223": (
        "monitoring-execution",
        "Completed",
    ),
}


def test_story_builds_the_expected_graph(sb):
    # Given the churn story, When it is replayed through the template's rules
    results = sb.put_events(story())
    # Then every SageMaker event reached record_lineage and succeeded
    lineage_targets = [t for r in results for t in r["targets"] if t["function"] == "record_lineage"]
    assert len(lineage_targets) == 30  # 31 events, one is a CloudWatch alarm
    assert all(t["ok"] for t in lineage_targets)
    nodes = by_id(sb.lineage())
    for node_id, (kind, status) in EXPECTED.items():
        assert node_id in nodes, node_id
        assert nodes[node_id]["kind"] == kind, node_id
        if status:
            assert nodes[node_id]["status"] == status, node_id
    assert nodes[f"{ACC}:endpoint/churn-prod"]["endpointConfigName"] == "churn-prod-v3-5d1c"


def test_story_edges_follow_the_data(sb):
    sb.put_events(story())
    edges = {(e["from"], e["to"], e["relation"]) for e in sb.lineage()["edges"]}
    package = f"{ACC}:model-package/churn-models/3"
    assert (
        f"{ACC}:model-package/churn-models/3",
        f"{ACC}:model/churn-models-v3-5d1c",
        "instantiated-as",
    ) in edges
    assert (
        f"{ACC}:model/churn-models-v3-5d1c",
        f"{ACC}:endpoint-config/churn-prod-v3-5d1c",
        "used-by",
    ) in edges
    assert (f"{ACC}:endpoint-config/churn-prod-v3-5d1c", f"{ACC}:endpoint/churn-prod", "configures") in edges
    assert (f"{ACC}:endpoint-config/churn-prod-v2-4c7a", f"{ACC}:endpoint/churn-prod", "configures") in edges
    evaluation = (
        "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/EvaluateChurnModel/output/evaluation"
    )
    assert (evaluation, evaluation + "/evaluation.json", "contains") in edges
    assert (evaluation + "/evaluation.json", package, "metrics") in edges


def test_raw_data_reaches_the_endpoint_downstream(sb):
    sb.put_events(story())
    walk = sb.lineage("s3://churn-datalake-123456789012/raw/customers/dt=2026-11-01", "downstream", depth=12)
    ids = {n["id"] for n in walk["nodes"]}
    assert f"{ACC}:endpoint/churn-prod" in ids
    assert f"{ACC}:model-package/churn-models/3" in ids


def test_every_event_three_times_gives_the_same_graph(sb):
    # Given the graph of one clean replay
    sb.put_events(story())
    once = stable(sb.lineage())
    # When every event is delivered twice more
    results = sb.put_events(story() + story())
    # Then nothing changed and the duplicates were recognised as such
    assert stable(sb.lineage()) == once
    outcomes = {
        t["result"]["outcome"] for r in results for t in r["targets"] if t["function"] == "record_lineage"
    }
    assert outcomes == {"duplicate"}


def test_same_state_under_a_new_event_id_changes_nothing(sb):
    sb.put_events(story())
    before = stable(sb.lineage())
    again = [dict(e, id=str(uuid.uuid4())) for e in story()]
    sb.put_events(again)
    assert stable(sb.lineage()) == before


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_orders_give_the_same_graph(seed):
    with Sandbox(serve_api=False) as ordered:
        _setup(ordered)
        ordered.put_events(story())
        expected = recorded_by_lineage(ordered.lineage())
    events = story()
    random.Random(seed).shuffle(events)
    with Sandbox(serve_api=False) as shuffled:
        _setup(shuffled)
        shuffled.put_events(events)
        assert recorded_by_lineage(shuffled.lineage()) == expected


def test_late_in_progress_never_overwrites_completed(sb):
    sb.put_events([load("training_job/completed.json")])
    results = sb.put_events([load("training_job/in_progress_training.json")])
    assert results[0]["targets"][0]["result"]["outcome"] == "stale"
    node = by_id(sb.lineage())[f"{ACC}:training-job/pipelines-8xq2n4vd1k7m-trainchurnmodel-hq7mw2xz4n"]
    assert node["status"] == "Completed"
    history = sb.lineage_store().history(node["id"])
    assert [h["status"] for h in history] == ["InProgress", "Completed"]


def test_endpoint_state_follows_event_time_not_arrival(sb):
    sb.put_events([load("endpoint/in_service.json"), load("endpoint/updating.json")])
    node = by_id(sb.lineage())[f"{ACC}:endpoint/churn-prod"]
    assert node["status"] == "InService"
    assert node["endpointConfigName"] == "churn-prod-v3-5d1c"


def test_unknown_config_degrades_instead_of_failing(sb):
    raw = copy.deepcopy(load("endpoint/in_service.json"))
    raw["detail"]["EndpointConfigName"] = "never-created"
    result = sb.put_events([raw])[0]["targets"][0]
    assert result["ok"]
    assert result["result"]["degraded"]
    node = by_id(sb.lineage())[f"{ACC}:endpoint-config/never-created"]
    assert node["resolved"] is False


def test_invalid_event_is_retried_then_lands_in_the_dlq(sb):
    raw = copy.deepcopy(load("training_job/completed.json"))
    del raw["detail"]["TrainingJobArn"]
    result = sb.put_events([raw])[0]["targets"][0]
    assert not result["ok"]
    assert "detail.TrainingJobArn" in result["error"]
    assert result["attempts"] == 3
    dead = sb.dlq_messages("record_lineage")
    assert len(dead) == 1
    assert dead[0]["body"]["requestPayload"]["id"] == raw["id"]
    assert sb.lineage()["nodes"] == []  # nothing partially written


def test_unknown_detail_type_matching_no_rule_is_not_delivered(sb):
    raw = copy.deepcopy(load("training_job/completed.json"))
    raw["detail-type"] = "SageMaker Image State Change"
    assert sb.put_events([raw])[0]["targets"] == []


def test_unsupported_type_delivered_directly_is_ignored_with_a_log_line(sb):
    raw = copy.deepcopy(load("training_job/completed.json"))
    raw["detail-type"] = "SageMaker Image State Change"
    outcome = sb.invoke("record_lineage", raw)
    assert outcome["ok"]
    assert outcome["result"]["outcome"] == "ignored"
    assert any("ignored event" in line for line in sb.logs)


def test_aws_calls_per_event(sb):
    # A job state change is one transaction; a duplicate is one failed transaction.
    sb.put_events([load("training_job/in_progress_starting.json")])
    sb.aws_calls.clear()
    sb.put_events([load("training_job/completed.json")])
    assert sb.aws_calls["dynamodb.TransactWriteItems"] == 1
    assert sum(v for k, v in sb.aws_calls.items() if not k.startswith("sqs.")) <= 2
    sb.aws_calls.clear()
    sb.put_events([load("training_job/completed.json")])
    assert sum(v for k, v in sb.aws_calls.items() if not k.startswith("sqs.")) == 1


def test_an_endpoint_duplicate_is_one_read(sb):
    # The BatchGetItem that looks up the known configs also reads the event's marker: no transaction.
    event = load("endpoint/in_service.json")
    assert sb.invoke("record_lineage", event)["result"]["outcome"] == "recorded"
    sb.aws_calls.clear()
    again = sb.invoke("record_lineage", event)
    assert again["result"]["outcome"] == "duplicate"
    assert dict(sb.aws_calls) == {"dynamodb.BatchGetItem": 1}


def test_throttled_store_fails_past_retries_then_redrive_completes(sb):
    # Given DynamoDB throttling every transaction (botocore's own retries included)
    with sb.faults("dynamodb.TransactWriteItems", code="ProvisionedThroughputExceededException") as injected:
        result = sb.put_events([load("training_job/completed.json")])[0]["targets"][0]
    # Then the event failed past Lambda's retries and waits in the DLQ, nothing half-written
    assert (result["ok"], result["attempts"]) == (False, 3)
    assert injected["dynamodb.TransactWriteItems"] >= 3
    assert len(sb.dlq_messages("record_lineage")) == 1
    assert sb.lineage()["nodes"] == []
    # When the throttling is over and the DLQ is redriven
    report = sb.redrive("record_lineage")
    # Then the event is recorded once and the DLQ is empty
    assert [r["eventId"] for r in report["redriven"]] == [load("training_job/completed.json")["id"]]
    assert "ProvisionedThroughputExceeded" in report["redriven"][0]["previousError"]
    assert sb.dlq_messages("record_lineage") == []
    assert any(n["status"] == "Completed" for n in sb.lineage()["nodes"])


def test_redrive_of_an_event_that_still_fails_keeps_it(sb):
    raw = copy.deepcopy(load("training_job/completed.json"))
    del raw["detail"]["TrainingJobStatus"]
    sb.put_events([raw])
    report = sb.redrive("record_lineage")
    assert report["redriven"] == []
    assert "TrainingJobStatus" in report["failed"][0]["error"]
    assert len(sb.dlq_messages("record_lineage")) == 1


def test_an_approval_in_the_same_second_as_the_registration_wins(sb):
    registered, approved = load("model_package/registered_pending.json"), load("model_package/approved.json")
    approved["detail"]["LastModifiedTime"] = registered["detail"]["LastModifiedTime"]
    sb.put_events([registered, approved])
    assert by_id(sb.lineage())[f"{ACC}:model-package/churn-models/3"]["status"] == "Approved"


def test_a_package_event_without_last_modified_time_uses_its_own_time(sb):
    approved = load("model_package/approved.json")
    del approved["detail"]["LastModifiedTime"]
    sb.put_events([load("model_package/registered_pending.json"), approved])
    assert by_id(sb.lineage())[f"{ACC}:model-package/churn-models/3"]["status"] == "Approved"


def test_a_retried_pipeline_execution_moves_on_from_failed(sb):
    failed = load("pipeline_execution/failed.json")
    retry = copy.deepcopy(failed)
    retry["id"], retry["time"] = str(uuid.uuid4()), "2026-11-04T05:00:00Z"
    retry["detail"].update(
        currentPipelineExecutionStatus="Executing", previousPipelineExecutionStatus="Failed"
    )
    retry["detail"].pop("executionEndTime", None)
    done = copy.deepcopy(retry)
    done["id"], done["time"] = str(uuid.uuid4()), "2026-11-04T06:00:00Z"
    done["detail"].update(currentPipelineExecutionStatus="Succeeded", executionEndTime="2026-11-04T06:00:00Z")
    sb.put_events([failed, retry, done])
    node = by_id(sb.lineage())[failed["detail"]["pipelineExecutionArn"]]
    assert node["status"] == "Succeeded"


def test_an_artifact_first_seen_as_an_evaluation_input_is_still_an_artifact(sb):
    sb.put_events([load("processing_job/evaluate_in_progress.json"), load("training_job/completed.json")])
    artifacts = [n for n in sb.lineage()["nodes"] if n["id"].endswith("output/model.tar.gz")]
    assert [n["kind"] for n in artifacts] == ["model-artifact"]


def test_an_endpoint_back_in_service_drops_its_pending_config_and_failure(sb):
    sb.put_events([load("endpoint_deployment/creating.json"), load("endpoint/in_service.json")])
    node = by_id(sb.lineage())[f"{ACC}:endpoint/churn-prod"]
    assert "pendingEndpointConfigName" not in node and "failureReason" not in node


def test_a_very_long_s3_key_is_recorded(sb):
    event = load("training_job/completed.json")
    long_uri = "s3://bucket/" + "k" * 1010
    event["detail"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = long_uri
    assert sb.put_events([event])[0]["targets"][0]["ok"]
    assert long_uri in by_id(sb.lineage())
