"""Pure extraction: which nodes, edges and status one event states."""

from __future__ import annotations

from steward.events import parse_event
from steward.kernel.graph import NodeKind, Relation
from steward.lineage.extract import EndpointConfigFacts, ModelFacts, extract
from steward.lineage.lifecycle import supersedes
from tests.conftest import load

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
TRAIN = f"{ACC}:training-job/pipelines-8xq2n4vd1k7m-trainchurnmodel-hq7mw2xz4n"
EXECUTION = f"{ACC}:pipeline/churn-train/execution/8xq2n4vd1k7m"
ARTIFACT = (
    "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/TrainChurnModel/"
    "pipelines-8xq2n4vd1k7m-TrainChurnModel-Hq7mW2xZ4n/output/model.tar.gz"
)


def edges_of(change):
    return {(e.source, e.target, e.relation) for e in change.edges}


def test_completed_training_job_links_inputs_artifact_and_pipeline():
    change = extract(parse_event(load("training_job/completed.json")))
    assert change.primary.id == TRAIN
    assert change.primary.status == "Completed"
    assert change.primary.name == "pipelines-8xq2n4vd1k7m-TrainChurnModel-Hq7mW2xZ4n"
    edges = edges_of(change)
    assert (TRAIN, ARTIFACT, Relation.PRODUCED) in edges
    assert (EXECUTION, TRAIN, Relation.GENERATED) in edges
    assert (
        "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/PrepareData/output/train",
        TRAIN,
        Relation.INPUT,
    ) in edges


def test_processing_job_code_input_is_a_code_edge():
    change = extract(parse_event(load("processing_job/in_progress.json")))
    code = [e for e in change.edges if e.relation is Relation.CODE]
    assert [e.source for e in code] == [
        "s3://sagemaker-us-east-1-123456789012/churn-train/code/3c9f0a1e7b5d42c8a6e1/preprocess.py"
    ]


def test_monitoring_execution_hangs_under_its_endpoint():
    change = extract(parse_event(load("monitoring/completed_with_violations.json")))
    assert change.primary.kind is NodeKind.MONITORING_EXECUTION
    assert (f"{ACC}:endpoint/churn-prod", change.primary.id, Relation.MONITORED_BY) in edges_of(change)


def test_model_package_links_group_artifact_metrics_and_pipeline():
    change = extract(parse_event(load("model_package/registered_pending.json")))
    package = f"{ACC}:model-package/churn-models/3"
    assert change.primary.id == package
    assert change.primary.status == "PendingManualApproval"
    assert change.primary.attributes["version"] == 3
    assert change.primary.attributes["imageDigests"][0].startswith("sha256:")
    edges = edges_of(change)
    assert (f"{ACC}:model-package-group/churn-models", package, Relation.CONTAINS) in edges
    assert (ARTIFACT, package, Relation.PACKAGED_AS) in edges
    assert (EXECUTION, package, Relation.GENERATED) in edges
    assert any(r is Relation.METRICS for _, _, r in edges)


def test_pipeline_step_cache_hit_does_not_claim_the_reused_job():
    change = extract(parse_event(load("pipeline_step/quirk_cache_hit.json")))
    relations = {r for _, _, r in edges_of(change)}
    assert Relation.RAN in relations
    assert Relation.GENERATED not in relations


def test_endpoint_update_links_only_the_serving_config():
    configs = {
        "churn-prod-v2-4c7a": EndpointConfigFacts(
            name="churn-prod-v2-4c7a",
            arn=f"{ACC}:endpoint-config/churn-prod-v2-4c7a",
            models=[
                ModelFacts(
                    name="churn-models-v2-4c7a",
                    arn=f"{ACC}:model/churn-models-v2-4c7a",
                    model_package_arn=f"{ACC}:model-package/churn-models/2",
                )
            ],
        )
    }
    change = extract(parse_event(load("endpoint_deployment/creating.json")), configs=configs)
    edges = edges_of(change)
    endpoint = f"{ACC}:endpoint/churn-prod"
    assert (f"{ACC}:endpoint-config/churn-prod-v2-4c7a", endpoint, Relation.CONFIGURES) in edges
    assert not any(t == endpoint and "v3" in s for s, t, _ in edges)
    assert (
        f"{ACC}:model-package/churn-models/2",
        f"{ACC}:model/churn-models-v2-4c7a",
        Relation.INSTANTIATED_AS,
    ) in edges
    assert change.primary.attributes["pendingEndpointConfigName"] == "churn-prod-v3-5d1c"


def test_mixed_case_endpoint_name_keeps_case_but_arn_is_lower():
    change = extract(parse_event(load("endpoint/quirk_mixed_case_name.json")))
    assert change.primary.id == change.primary.id.lower()
    assert change.primary.name != change.primary.name.lower()


def test_forwarded_event_uses_the_resource_account_and_region():
    # A forwarded event keeps its source account and region in the envelope (EventBridge cross-account
    # delivery does not rewrite them), so they agree with the resource's ARN.
    raw = load("model_package/registered_pending.json")
    raw["account"] = "111122223333"
    raw["region"] = "eu-central-1"
    raw["detail"]["ModelPackageArn"] = "arn:aws:sagemaker:eu-central-1:111122223333:model-package/fraud/7"
    raw["detail"]["ModelPackageGroupName"] = "fraud"
    raw["detail"]["ModelPackageVersion"] = 7
    change = extract(parse_event(raw))
    ids = {n.id for n in change.nodes}
    assert "arn:aws:sagemaker:eu-central-1:111122223333:model-package-group/fraud" in ids


def test_alarm_events_carry_no_lineage():
    assert extract(parse_event(load("cloudwatch_alarm/drift_alarm.json"))) is None


def test_lifecycle_moves_forward_only():
    t1, t2 = "2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:00.000000Z"
    assert supersedes(NodeKind.TRAINING_JOB, ("Completed", t1), ("InProgress", t2))
    assert not supersedes(NodeKind.TRAINING_JOB, ("InProgress", t2), ("Completed", t1))
    assert supersedes(
        NodeKind.TRAINING_JOB, ("InProgress", t2), ("InProgress", t1)
    )  # secondary status moves on
    assert not supersedes(NodeKind.TRAINING_JOB, ("Failed", t2), ("Completed", t1))  # terminal is final
    assert supersedes(NodeKind.ENDPOINT, ("Updating", t2), ("InService", t1))  # endpoints cycle by time
    assert not supersedes(NodeKind.ENDPOINT, ("InService", t1), ("Updating", t2))
