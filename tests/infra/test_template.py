"""House invariants of template.yaml, checked on the translated CloudFormation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from sandbox.patterns import matches
from sandbox.template import translate
from tests.conftest import REPO, all_event_files

pytestmark = pytest.mark.infra

TEMPLATE = REPO / "template.yaml"


@cache
def cfn() -> dict:
    return translate(TEMPLATE, {"Stage": "dev"}, "us-east-1")


def resources(kind: str) -> dict[str, dict]:
    return {k: v for k, v in cfn()["Resources"].items() if v["Type"] == kind}


def _ref(value) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def test_cfn_lint_is_clean():
    # workload-account.yaml too (what workload accounts deploy): one cfn-lint run loads its rules once
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE), str(REPO / "workload-account.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean():
    sam = os.environ.get("STEWARD_SAM") or shutil.which("sam") or str(REPO / ".tools" / "bin" / "sam")
    if not Path(sam).exists():
        pytest.skip("SAM CLI not installed (make test installs it in .tools)")
    result = subprocess.run(
        [sam, "validate", "--lint", "--region", "us-east-1", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_globals_runtime_architecture_tracing_json_logs():
    for name, fn in resources("AWS::Lambda::Function").items():
        props = fn["Properties"]
        runtime = props["Runtime"]
        assert runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 12, name
        assert props["Architectures"] == ["arm64"], name
        assert props["TracingConfig"]["Mode"] == "Active", name
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert props["Layers"], f"{name} does not use the core layer"


def test_every_function_has_its_own_log_group_with_retention():
    groups = resources("AWS::Logs::LogGroup")
    used = []
    for name, fn in resources("AWS::Lambda::Function").items():
        group = _ref(fn["Properties"]["LoggingConfig"].get("LogGroup"))
        assert group in groups, f"{name} has no log group of its own"
        assert groups[group]["Properties"].get("RetentionInDays"), group
        used.append(group)
    assert len(used) == len(set(used))


def test_every_function_has_an_errors_alarm():
    alarmed = {
        _ref(d["Value"])
        for alarm in resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Errors"
        for d in alarm["Properties"].get("Dimensions", [])
        if d["Name"] == "FunctionName"
    }
    assert set(resources("AWS::Lambda::Function")) <= alarmed


def test_every_rule_target_retries_and_has_a_dlq():
    for name, rule in resources("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target.get("RetryPolicy"), name
            assert _ref(target.get("DeadLetterConfig", {}).get("Arn")), name


def test_every_async_function_ends_in_an_alarmed_dlq():
    targets = {
        _ref(t["Arn"]) for r in resources("AWS::Events::Rule").values() for t in r["Properties"]["Targets"]
    }
    configs = {
        _ref(c["Properties"]["FunctionName"]): c["Properties"]
        for c in resources("AWS::Lambda::EventInvokeConfig").values()
    }
    alarmed_queues = {
        d["Value"]["Fn::GetAtt"][0]
        for a in resources("AWS::CloudWatch::Alarm").values()
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "QueueName" and isinstance(d["Value"], dict) and "Fn::GetAtt" in d["Value"]
    }
    for function in targets:
        config = configs.get(function)
        assert config, f"{function} has no EventInvokeConfig"
        assert config["MaximumRetryAttempts"] <= 2
        queue = _ref(config["DestinationConfig"]["OnFailure"]["Destination"])
        assert queue in alarmed_queues, f"{function}'s on-failure queue has no alarm"


def test_dlq_queue_policy_lets_eventbridge_send():
    policies = resources("AWS::SQS::QueuePolicy")
    allowed = {_ref(q) for p in policies.values() for q in p["Properties"]["Queues"]}
    for rule in resources("AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            assert _ref(target["DeadLetterConfig"]["Arn"]) in allowed


def test_tables_are_encrypted_with_point_in_time_recovery():
    for name, table in resources("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["SSESpecification"]["SSEEnabled"], name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], name
    assert resources("AWS::DynamoDB::Table")["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"][
        "Enabled"
    ]


def _statements():
    for name, role in resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def test_no_iam_statement_allows_every_action_or_writes_on_every_resource():
    for role, statement in _statements():
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources_ = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (role, actions)
        read_only = all(
            a.split(":")[1].startswith(("Describe", "Get", "List", "BatchGet", "Query")) for a in actions
        )
        if not read_only:
            assert "*" not in resources_, (role, actions)
        if any(
            a.startswith("sagemaker:") and not a.split(":")[1].startswith(("Describe", "List", "Get"))
            for a in actions
        ):
            assert all(r != "*" for r in resources_), (role, actions)


RULES_BY_DETAIL_TYPE = {
    "SageMaker Training Job State Change": {"RecordLineageFunctionJobStateChange"},
    "SageMaker Processing Job State Change": {"RecordLineageFunctionJobStateChange"},
    "SageMaker Transform Job State Change": {"RecordLineageFunctionJobStateChange"},
    "SageMaker HyperParameter Tuning Job State Change": {"RecordLineageFunctionJobStateChange"},
    "SageMaker Model Building Pipeline Execution Status Change": {
        "RecordLineageFunctionPipelineStatusChange"
    },
    "SageMaker Model Building Pipeline Execution Step Status Change": {
        "RecordLineageFunctionPipelineStatusChange"
    },
    "SageMaker Model Package State Change": {"RecordLineageFunctionModelPackageStateChange"},
    "SageMaker Endpoint State Change": {
        "RecordLineageFunctionEndpointStateChange",
        "PromoteModelFunctionEndpoints",
    },
    "SageMaker Endpoint Deployment State Change": {
        "RecordLineageFunctionEndpointStateChange",
        "PromoteModelFunctionEndpoints",
    },
    "CloudWatch Alarm State Change": {"ReactToMonitoringFunctionAlarmStateChange"},
}


STATUS_FIELDS = (
    "TrainingJobStatus",
    "ProcessingJobStatus",
    "TransformJobStatus",
    "HyperParameterTuningJobStatus",
    "currentPipelineExecutionStatus",
)


def _expected_rules(event: dict) -> set[str]:
    expected = set(RULES_BY_DETAIL_TYPE[event["detail-type"]])
    if any(event["detail"].get(field) in ("Failed", "Stopped") for field in STATUS_FIELDS):
        expected.add("ReportJobFailureFunctionJobFailed")
    if event["detail-type"] == "SageMaker Model Package State Change" and (
        event["detail"].get("ModelApprovalStatus") == "PendingManualApproval"
    ):
        expected.add("RequestApprovalFunctionRegistered")
    if event["detail-type"] == "SageMaker Model Package State Change" and (
        event["detail"].get("ModelApprovalStatus") == "Approved"
    ):
        expected.add("PromoteModelFunctionApproved")
    detail = event["detail"]
    if (
        event["detail-type"] == "SageMaker Processing Job State Change"
        and (
            detail.get("MonitoringScheduleArn")
            or (detail.get("Environment") or {}).get("sagemaker_monitoring_schedule_name")
        )
        and detail.get("ProcessingJobStatus") in ("Completed", "Failed", "Stopped")
    ):
        expected.add("ReactToMonitoringFunctionMonitoringExecution")
    return expected


@pytest.mark.parametrize("path", all_event_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_sample_event_matches_exactly_its_rules(path):
    event = json.loads(path.read_text())
    matched = {
        name
        for name, rule in resources("AWS::Events::Rule").items()
        if "EventPattern" in rule["Properties"] and matches(rule["Properties"]["EventPattern"], event)
    }
    assert matched == _expected_rules(event)


def test_job_failure_rule_ignores_other_statuses_and_step_events():
    rule = resources("AWS::Events::Rule")["ReportJobFailureFunctionJobFailed"]["Properties"]["EventPattern"]
    completed = json.loads((REPO / "events" / "training_job" / "completed.json").read_text())
    step_failed = json.loads((REPO / "events" / "pipeline_step" / "train_failed.json").read_text())
    assert not matches(rule, completed)
    assert not matches(rule, step_failed)  # the execution's own Failed event reports it, once


def test_monitoring_rules_take_only_monitoring_executions_and_sagemaker_alarms():
    rules = resources("AWS::Events::Rule")
    executions = rules["ReactToMonitoringFunctionMonitoringExecution"]["Properties"]["EventPattern"]
    alarms = rules["ReactToMonitoringFunctionAlarmStateChange"]["Properties"]["EventPattern"]
    ordinary = json.loads((REPO / "events" / "processing_job" / "completed.json").read_text())
    running = json.loads((REPO / "events" / "monitoring" / "in_progress.json").read_text())
    assert not matches(executions, ordinary) and not matches(executions, running)
    # An execution named only by its environment (no MonitoringScheduleArn) still counts.
    finished = json.loads((REPO / "events" / "monitoring" / "completed_no_violations.json").read_text())
    del finished["detail"]["MonitoringScheduleArn"]
    assert matches(executions, finished)
    drift = json.loads((REPO / "events" / "cloudwatch_alarm" / "drift_alarm.json").read_text())
    lambda_alarm = json.loads(json.dumps(drift))
    metric = lambda_alarm["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(namespace="AWS/Lambda", dimensions={"FunctionName": "steward-dev-notify"}, name="Errors")
    assert matches(alarms, drift) and not matches(alarms, lambda_alarm)
    metric.update(namespace="Custom/Churn", dimensions={"EndpointName": "churn-prod"}, name="Skew")
    assert matches(alarms, lambda_alarm)  # a custom metric on an endpoint's dimension


def test_rules_only_take_sagemaker_events():
    for name, rule in resources("AWS::Events::Rule").items():
        pattern = rule["Properties"].get("EventPattern")
        if pattern and name.startswith(("RecordLineage", "ReportJobFailure", "RequestApproval")):
            assert pattern["source"] == ["aws.sagemaker"], name
            event = json.loads(all_event_files()[0].read_text())
            assert not matches(pattern, {**event, "source": "my.app"})


def test_api_gateway_never_logs_bodies():
    stage = next(iter(resources("AWS::ApiGateway::Stage").values()))["Properties"]
    for setting in stage.get("MethodSettings", []):
        assert setting.get("DataTraceEnabled") is False
    fmt = json.dumps(cfn()["Resources"]["StewardApi"]) + json.dumps(stage)
    assert "$context.path" not in fmt and "querystring" not in fmt.lower()


def test_handlers_are_thin():
    for folder in sorted((REPO / "functions").iterdir()):
        if folder.is_dir():
            files = sorted(p.name for p in folder.iterdir() if p.suffix == ".py")
            assert files == ["app.py"], folder
            # A handler is a table of contents; an API router has one short function per route.
            limit = 120 if folder.name == "api" else 60  # the API router has one short function per route
            assert len((folder / "app.py").read_text().splitlines()) <= limit, folder


def test_outputs_the_cli_reads():
    assert {"ApiUrl", "LineageTableName", "RecordLineageDLQUrl"} <= set(cfn()["Outputs"])


def test_promotion_may_only_touch_names_under_the_prefix_and_pass_one_role():
    (role,) = [
        r for name, r in resources("AWS::IAM::Role").items() if name.startswith("PromoteModelFunction")
    ]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    plain = [s for s in statements if "Fn::If" not in s]
    writes = [
        s
        for s in plain
        if any(a.startswith("sagemaker:") and not a.startswith("sagemaker:Describe") for a in s["Action"])
    ]
    assert writes, "promotion has SageMaker write actions"
    for statement in writes + [s for s in plain if "sagemaker:DescribeModelPackage" in s["Action"]]:
        for resource in statement["Resource"]:
            text = resource["Fn::Sub"] if isinstance(resource, dict) else resource
            assert text.endswith("/${ManagedNamePrefix}*"), text
    conditional = [s["Fn::If"] for s in statements if "Fn::If" in s]
    by_condition = {c[0]: c[1] for c in conditional}
    pass_role = by_condition["HasExecutionRole"]
    assert pass_role["Action"] == ["iam:PassRole"] and pass_role["Resource"] == {
        "Ref": "ModelExecutionRoleArn"
    }
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assume = by_condition["HasTargetRole"]
    assert assume["Action"] == ["sts:AssumeRole"] and assume["Resource"] == {"Ref": "TargetAccountRoleArn"}


def test_workload_accounts_may_forward_events_to_the_bus_only_when_named():
    template = cfn()
    (policy,) = resources("AWS::Events::EventBusPolicy").values()
    assert policy["Condition"] == "HasWorkloadAccounts"
    assert policy["Properties"]["Statement"]["Action"] == "events:PutEvents"
    assert policy["Properties"]["Statement"]["Principal"] == {"AWS": {"Ref": "WorkloadAccountIds"}}
    assert "HasWorkloadAccounts" in template["Conditions"]
