"""Monitoring reactions on the sandbox: Model Monitor executions and endpoint alarms → alerts recorded
against the serving version, retraining within its cooldown and daily limit, the API and the CLI."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from sandbox import Sandbox
from sandbox.demo.replay import create_sagemaker_resources
from steward_cli import main
from tests.conftest import EVENTS, load, story

ACC = "arn:aws:sagemaker:us-east-1:123456789012"
PACKAGE = f"{ACC}:model-package/churn-models/3"
ENDPOINT = f"{ACC}:endpoint/churn-prod"
BUCKET = "sagemaker-us-east-1-123456789012"
DRIFT = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-feature-drift-tenure"


def report(name: str) -> dict:
    return json.loads((EVENTS / "monitoring" / "reports" / name).read_text())


def resources(with_report: bool = False) -> dict:
    spec = json.loads((EVENTS / "sagemaker_resources.json").read_text())
    if not with_report:
        spec.pop("s3_objects")
    return spec


def serving(sb: Sandbox, events: list[dict] | None = None) -> None:
    """churn-prod serving churn-models/3 (the story up to its monitoring events), the bucket in place."""
    create_sagemaker_resources(sb.client("sagemaker"), resources())
    sb.client("s3").create_bucket(Bucket=BUCKET)
    sb.put_events(events if events is not None else story()[:28])


def execution(name: str, status: str = "Completed", exit_message: str | None = None) -> dict:
    """A Model Monitor execution of churn-prod's schedule, named `name`, writing to its own folder."""
    event = copy.deepcopy(load("monitoring/completed_with_violations.json"))
    d = event["detail"]
    arn = f"{ACC}:processing-job/{name}"
    event["id"], event["resources"] = str(uuid.uuid4()), [arn]
    d.update(ProcessingJobName=name, ProcessingJobArn=arn, ProcessingJobStatus=status)
    d["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = f"s3://{BUCKET}/reports/{name}"
    d["ExitMessage"] = (
        exit_message or "CompletedWithViolations: Job completed successfully with 3 violations."
    )
    if status == "Failed":
        d["FailureReason"] = (
            "AlgorithmError: Error: Encountered an error while loading the baseline constraints."
        )
    return event


def put_report(sb: Sandbox, name: str, body) -> str:
    key = f"reports/{name}/constraint_violations.json"
    sb.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=body if isinstance(body, str) else json.dumps(body)
    )
    return f"s3://{BUCKET}/{key}"


def alarm_event(state: str, previous: str, at: str, name: str = "churn-prod-feature-drift-tenure", **dims):
    event = copy.deepcopy(load("cloudwatch_alarm/drift_alarm.json"))
    event["id"] = str(uuid.uuid4())
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    d = event["detail"]
    d["alarmName"] = name
    d["state"].update(value=state, timestamp=at, reason=f"went {state} at {at}")
    d["previousState"]["value"] = previous
    if dims:
        d["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = dims
    return event


def reaction(result: dict) -> dict:
    [target] = [t for t in result["targets"] if t["function"] == "react_to_monitoring"]
    assert target["ok"], target["error"]
    return target


def messages(sb: Sandbox, needle: str, channel: str | None = None) -> list[dict]:
    return [
        m
        for m in sb.outbox
        if needle in str(m.get("subject")) and (channel is None or m["channel"] == channel)
    ]


def node(sb: Sandbox, node_id: str) -> dict | None:
    return sb.lineage_store().get_nodes([node_id]).get(node_id)


@pytest.fixture(scope="class")
def sb():
    """churn-prod serving churn-models/3; default policy (retraining off). Each test uses its own
    execution and alarm names, so their alerts and records never meet."""
    with Sandbox() as sandbox:
        serving(sandbox)
        yield sandbox


def get(sb, path, **params):
    url = f"{sb.api_url}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class TestReactions:
    """Default policy (retraining off), one sandbox for the class."""

    # --- Model Monitor executions --------------------------------------------------------------------------

    def test_violations_alert_once_with_the_top_violations_and_hang_under_the_serving_version(self, sb):
        # Given a finished execution whose report lists three violations
        name = "model-monitoring-violations-1"
        uri = put_report(sb, name, report("violations.json"))
        # When its Completed event arrives
        target = reaction(sb.put_events([execution(name)])[0])
        # Then one alert (Slack and email, the churn-models route) names the version and the violations
        assert target["result"]["outcome"] == "recorded" and target["result"]["result"] == "violations"
        slack = messages(sb, "Model Monitor: 3 violations on churn-prod (churn-models/3)", "slack")
        email = messages(sb, "Model Monitor: 3 violations on churn-prod (churn-models/3)", "email")
        assert [m["to"] for m in slack] == ["#churn-ml"] and [m["to"] for m in email] == [
            "retention-ds@example.com"
        ]
        assert "tenure — baseline_drift_check: Baseline drift distance: 0.27" in email[0]["text"]
        assert any(
            link.startswith("https://s3.console.aws.amazon.com/s3/object/" + BUCKET)
            for link in email[0]["links"]
        )
        # And the result hangs under the endpoint and the version it served, with its summary
        result_id = f"{ACC}:processing-job/{name}"
        walk = sb.lineage(id=PACKAGE, direction="downstream", depth=1)
        assert {"from": PACKAGE, "to": result_id, "relation": "monitored-by"} in walk["edges"]
        recorded = node(sb, result_id)
        assert recorded["kind"] == "monitoring-execution" and recorded["violationCount"] == 3
        assert recorded["reportUri"] == uri and recorded["modelPackages"] == [PACKAGE]
        assert recorded["servedConfig"] == "churn-prod-v3-5d1c"

    def test_a_clean_run_is_recorded_and_not_notified(self, sb):
        name = "model-monitoring-clean-1"
        put_report(sb, name, report("clean.json"))
        before = len(sb.outbox)
        event = execution(name, exit_message="Completed: Job completed successfully with no violations.")
        target = reaction(sb.put_events([event])[0])
        assert target["result"]["result"] == "clean" and target["result"]["notified"] is None
        assert len(sb.outbox) == before
        assert node(sb, f"{ACC}:processing-job/{name}")["result"] == "clean"

    def test_a_missing_report_is_a_clear_alert_not_a_crash_loop(self, sb):
        name = "model-monitoring-missing-1"
        target = reaction(sb.put_events([execution(name)])[0])
        assert target["attempts"] == 1 and target["result"]["result"] == "report-missing"
        [alert] = messages(sb, f"Model Monitor report unreadable: {name}", "email")
        assert (
            "constraint_violations.json could not be read" in alert["text"] and "NoSuchKey" in alert["text"]
        )
        assert node(sb, f"{ACC}:processing-job/{name}")["result"] == "report-missing"
        assert sb.dlq_messages("react_to_monitoring") == []

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            ("{not json", "not JSON"),
            ({"violations": [{"feature_name": "tenure"}]}, "constraint_check_type: missing"),
        ],
    )
    def test_a_malformed_report_is_a_clear_alert_not_a_crash_loop(self, sb, body, problem):
        name = f"model-monitoring-malformed-{uuid.uuid4().hex[:8]}"
        put_report(sb, name, body)
        target = reaction(sb.put_events([execution(name)])[0])
        assert target["attempts"] == 1 and target["result"]["result"] == "report-malformed"
        [alert] = messages(sb, f"Model Monitor report unreadable: {name}", "email")
        assert "malformed" in alert["text"] and problem in alert["text"]
        assert sb.dlq_messages("react_to_monitoring") == []

    def test_an_empty_report_when_the_execution_counted_violations_is_malformed(self, sb):
        name = "model-monitoring-contradiction-1"
        put_report(sb, name, report("clean.json"))
        target = reaction(sb.put_events([execution(name)])[0])
        assert target["result"]["result"] == "report-malformed"

    def test_a_failed_execution_is_recorded_and_alerted_once_as_a_job_failure(self, sb):
        name = "model-monitoring-failed-1"
        results = sb.put_events([execution(name, status="Failed")])[0]
        assert reaction(results)["result"]["result"] == "failed"
        assert len(messages(sb, f"Processing job {name} failed", "email")) == 1  # report_job_failure's
        assert not messages(sb, name, "slack")[1:]  # and nothing more from monitoring
        assert node(sb, f"{ACC}:processing-job/{name}")["problem"].startswith("AlgorithmError")

    def test_in_progress_and_ordinary_processing_jobs_never_reach_the_reaction(self, sb):
        results = sb.put_events([load("monitoring/in_progress.json"), load("processing_job/completed.json")])
        assert all(t["function"] != "react_to_monitoring" for r in results for t in r["targets"])

    def test_duplicate_deliveries_record_and_alert_once(self, sb):
        name = "model-monitoring-duplicate-1"
        put_report(sb, name, report("violations.json"))
        event = execution(name)
        results = sb.put_events([event, event, dict(event, id=str(uuid.uuid4()))])
        outcomes = [reaction(r)["result"]["outcome"] for r in results]
        # The same id is recognised; a new id for the same execution rewrites the same record
        assert outcomes == ["recorded", "duplicate", "recorded"]
        alerts = [m for m in sb.outbox if name in json.dumps(m, default=str)]
        assert sorted(m["channel"] for m in alerts) == ["email", "slack"]  # deduplicated by execution
        assert node(sb, f"{ACC}:processing-job/{name}")["violationCount"] == 3

    # --- CloudWatch alarms ---------------------------------------------------------------------------------

    def test_a_drift_alarm_and_its_recovery_each_alert_once_and_are_recorded_on_the_version(self, sb):
        alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-drift-recovery"
        raised = alarm_event("ALARM", "OK", "2026-11-03T10:12:30.104+0000", name="churn-prod-drift-recovery")
        ok = alarm_event("OK", "ALARM", "2026-11-03T12:12:30.233+0000", name="churn-prod-drift-recovery")
        first = reaction(sb.put_events([raised])[0])["result"]
        assert (first["outcome"], first["result"], first["modelPackages"]) == ("recorded", "ALARM", [PACKAGE])
        [alert] = messages(
            sb, "Alarm churn-prod-drift-recovery is in ALARM on churn-prod (churn-models/3)", "email"
        )
        assert "Kind: drift" in alert["text"] or "drift" in alert["text"]
        reaction(sb.put_events([ok])[0])
        recovered = messages(sb, "Recovered: alarm churn-prod-drift-recovery is OK on churn-prod", "slack")
        assert [m["to"] for m in recovered] == ["#churn-ml"]  # info goes to Slack only
        recorded = node(sb, alarm)
        assert (recorded["kind"], recorded["status"], recorded["source"]) == (
            "monitoring-execution",
            "OK",
            "cloudwatch-alarm",
        )
        assert [h["status"] for h in sb.lineage_store().history(alarm)] == ["ALARM", "OK"]
        edges = sb.lineage(id=PACKAGE, depth=1)["edges"]
        assert {"from": PACKAGE, "to": alarm, "relation": "monitored-by"} in edges

    def test_a_flapping_alarm_alerts_once_each_way_and_records_every_transition(self, sb):
        name = "churn-prod-flapping"
        states = ["ALARM", "OK", "ALARM", "OK", "ALARM"]
        events = [
            alarm_event(
                state,
                "OK" if state == "ALARM" else "ALARM",
                f"2026-11-03T10:{10 + i:02d}:00.000+0000",
                name=name,
            )
            for i, state in enumerate(states)
        ]
        sb.put_events(events)
        assert len(messages(sb, f"Alarm {name} is in ALARM", "slack")) == 1
        assert len(messages(sb, f"Alarm {name} is in ALARM", "email")) == 1
        assert len(messages(sb, f"Recovered: alarm {name} is OK", "slack")) == 1
        arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
        assert [h["status"] for h in sb.lineage_store().history(arn)] == states
        assert node(sb, arn)["status"] == "ALARM"

    def test_a_late_older_alarm_state_never_moves_the_alarm_back(self, sb):
        name = "churn-prod-late-state"
        newer = alarm_event("OK", "ALARM", "2026-11-03T12:00:00.000+0000", name=name)
        older = alarm_event("ALARM", "OK", "2026-11-03T11:00:00.000+0000", name=name)
        sb.put_events([newer])
        assert reaction(sb.put_events([older])[0])["result"]["outcome"] == "stale"
        arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
        assert node(sb, arn)["status"] == "OK"
        assert [h["status"] for h in sb.lineage_store().history(arn)] == ["ALARM", "OK"]

    def test_an_alarm_on_an_unknown_endpoint_gets_a_generic_alert_and_a_log_line(self, sb):
        event = alarm_event(
            "ALARM", "OK", "2026-11-03T10:00:00.000+0000", name="mystery-5xx", EndpointName="mystery-prod"
        )
        target = reaction(sb.put_events([event])[0])
        assert target["result"]["outcome"] == "unknown-alarm"
        [alert] = messages(
            sb, "Alarm mystery-5xx is in ALARM (no endpoint Steward knows; it names mystery-prod)", "slack"
        )
        assert alert["to"] == "#ml-alerts"  # no group: the default route
        assert any("alarm maps to no known endpoint" in line and "mystery-5xx" in line for line in sb.logs)
        assert node(sb, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mystery-5xx") is None

    def test_an_alarm_without_an_endpoint_dimension_gets_a_generic_alert(self, sb):
        event = alarm_event("ALARM", "OK", "2026-11-03T10:00:00.000+0000", name="sagemaker-unmapped")
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"].update(
            namespace="AWS/SageMaker", dimensions={"Host": "algo-1"}
        )
        assert reaction(sb.put_events([event])[0])["result"]["outcome"] == "unknown-alarm"
        assert messages(sb, "Alarm sagemaker-unmapped is in ALARM (no endpoint Steward knows)", "slack")

    def test_a_tagged_alarm_maps_to_the_endpoint_its_tag_names(self, sb):
        cloudwatch = sb.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName="churn-latency-tagged",
            MetricName="ModelLatency",
            Namespace="AWS/SageMaker",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": "steward:endpoint", "Value": "churn-prod"}],
        )
        arn = cloudwatch.describe_alarms(AlarmNames=["churn-latency-tagged"])["MetricAlarms"][0]["AlarmArn"]
        event = alarm_event("ALARM", "OK", "2026-11-03T10:00:00.000+0000", name="churn-latency-tagged")
        event["resources"] = [arn]
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"].update(
            namespace="AWS/SageMaker", name="ModelLatency", dimensions={}
        )
        result = reaction(sb.put_events([event])[0])["result"]
        assert (result["outcome"], result["endpoint"]) == ("recorded", ENDPOINT)
        assert node(sb, arn)["mappedBy"] == "tag:steward:endpoint"

    # --- what operators read -------------------------------------------------------------------------------

    def test_the_api_and_the_cli_show_recent_results_and_alarms_newest_first(self, sb, capsys):
        name = "model-monitoring-api-1"
        put_report(sb, name, report("violations.json"))
        sb.put_events(
            [
                execution(name),
                alarm_event("ALARM", "OK", "2026-11-03T10:12:30.104+0000", name="churn-prod-api"),
            ]
        )
        status, body = get(sb, "/endpoints/churn-prod/monitoring", since="2026-11-01T00:00:00Z")
        assert status == 200 and body["endpoint"] == ENDPOINT
        times = [i["time"] for i in body["items"]]
        assert times == sorted(times, reverse=True)
        mine = {i["name"]: i for i in body["items"]}
        assert mine[name]["violationCount"] == 3 and mine[name]["modelPackages"] == [PACKAGE]
        assert mine["churn-prod-api"]["type"] == "alarm" and mine["churn-prod-api"]["status"] == "ALARM"
        assert (
            main(["monitoring", "churn-prod", "--since", "2026-11-01T00:00:00Z", "--api-url", sb.api_url])
            == 0
        )
        out = capsys.readouterr().out
        assert f"{name} Completed: violations, 3 violations" in out and "churn-models/3" in out
        assert "tenure — baseline_drift_check" in out and "alarm churn-prod-api → ALARM (drift)" in out

    def test_the_api_refuses_bad_input_by_name_and_unknown_endpoints(self, sb):
        status, body = get(sb, "/endpoints/churn-prod/monitoring", since="yesterday")
        assert status == 400 and body["message"].startswith("since:")
        status, body = get(sb, "/endpoints/churn-prod/monitoring", limit="0")
        assert status == 400 and "limit" in body["message"]
        status, _ = get(sb, "/endpoints/never-deployed/monitoring")
        assert status == 404
        status, body = get(sb, "/endpoints/churn-prod/monitoring", since="2030-01-01T00:00:00Z")
        assert status == 200 and body["items"] == []

    def test_the_ledger_write_is_conditional_so_only_one_of_two_racing_claims_wins(self, sb):
        from steward.monitoring.adapters.store import MonitoringStore
        from steward.monitoring.retraining import Ledger

        ledger = MonitoringStore(sb.output("LineageTableName"), sb.output("IdempotencyTableName"))
        assert ledger.write_ledger("race-pipeline", Ledger(("2026-11-03T10:00:00.000000Z",), "a", None, 1), 0)
        assert not ledger.write_ledger(
            "race-pipeline", Ledger(("2026-11-03T10:00:01.000000Z",), "b", None, 1), 0
        )
        assert ledger.read_ledger("race-pipeline").last_trigger == "a"
        assert ledger.write_ledger("race-pipeline", Ledger((), "c", None, 2), 1)
        assert not ledger.write_ledger("race-pipeline", Ledger((), "d", None, 2), 1)


def test_the_cli_answers_from_a_one_shot_sandbox_loaded_with_the_story(capsys, monkeypatch):
    monkeypatch.delenv("STEWARD_API_URL", raising=False)
    argv = ["monitoring", "churn-prod", "--since", "2026-11-01T00:00:00Z", "--replay"]
    argv += [str(EVENTS / "story_churn.jsonl"), "--setup", str(EVENTS / "sagemaker_resources.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model-monitoring-202611031000-ad4c27ed8808925848eff223 Completed: violations, 3 violations" in out
    assert "alarm churn-prod-feature-drift-tenure → ALARM (drift)" in out
    assert out.count("churn-models/3") == 2  # each against the version serving then


# --- retraining ----------------------------------------------------------------------------------------


def retraining_policy(**retraining) -> dict:
    return {
        "default": {
            "notifications": {"warning": {"slack": ["#ml-alerts"]}, "info": {"slack": ["#ml-activity"]}}
        },
        "groups": {
            "churn-models": {
                "monitoring": {
                    "retraining": {
                        "enabled": True,
                        "pipeline": "churn-train",
                        "parameters": {"TriggeredBy": "{trigger}"},
                        **retraining,
                    }
                }
            }
        },
    }


def runs(sb: Sandbox) -> list[dict]:
    return sb.client("sagemaker").list_pipeline_executions(PipelineName="churn-train")[
        "PipelineExecutionSummaries"
    ]


@pytest.fixture
def retraining_sb(request):
    with Sandbox(policy=retraining_policy(**getattr(request, "param", {}))) as sandbox:
        serving(sandbox, story()[19:28])
        yield sandbox


def test_violations_start_one_retraining_run_that_the_next_version_traces_back_to(retraining_sb):
    sb = retraining_sb
    name = "model-monitoring-retrain-1"
    put_report(sb, name, report("violations.json"))
    result = reaction(sb.put_events([execution(name)])[0])["result"]
    assert result["retraining"]["status"] == "started"
    [run] = runs(sb)
    execution_id = run["PipelineExecutionArn"].lower()
    assert result["retraining"]["pipelineExecutionArn"] == run["PipelineExecutionArn"]
    params = sb.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=run["PipelineExecutionArn"]
    )
    assert params["PipelineParameters"] == [{"Name": "TriggeredBy", "Value": f"{ACC}:processing-job/{name}"}]
    # The run is in the lineage (SageMaker announced it Executing), triggered by the result
    result_id = f"{ACC}:processing-job/{name}"
    assert {"from": result_id, "to": execution_id, "relation": "triggered"} in sb.lineage(
        id=result_id, depth=1
    )["edges"]
    assert node(sb, execution_id)["status"] == "Executing"
    # ...so whatever that run produces traces back, upstream, to why it was trained and what served then
    upstream = sb.lineage(id=execution_id, direction="upstream", depth=2)
    assert {n["id"] for n in upstream["nodes"]} >= {result_id, PACKAGE, ENDPOINT}
    [alert] = messages(sb, "Model Monitor: 3 violations", "slack")
    assert "started" in json.dumps(alert["raw"])


def test_the_cooldown_lets_one_run_start_and_says_why_the_next_did_not(retraining_sb):
    sb = retraining_sb
    name = "model-monitoring-retrain-2"
    put_report(sb, name, report("violations.json"))
    sb.put_events([execution(name)])
    drift = reaction(sb.put_events([load("cloudwatch_alarm/drift_alarm.json")])[0])["result"]
    assert drift["retraining"]["status"] == "skipped" and "cooldown until" in drift["retraining"]["reason"]
    assert len(runs(sb)) == 1
    [alert] = messages(sb, "Alarm churn-prod-feature-drift-tenure is in ALARM", "slack")
    assert "not started: cooldown until" in json.dumps(alert["raw"])


@pytest.mark.parametrize("retraining_sb", [{"cooldown_minutes": 0, "daily_limit": 2}], indirect=True)
def test_the_daily_limit_caps_runs_in_any_24_hours(retraining_sb):
    sb = retraining_sb
    outcomes = []
    for i in range(3):
        name = f"model-monitoring-daily-{i}"
        put_report(sb, name, report("violations.json"))
        outcomes.append(reaction(sb.put_events([execution(name)])[0])["result"]["retraining"])
    assert [o["status"] for o in outcomes] == ["started", "started", "skipped"]
    assert "daily limit reached (2 of 2" in outcomes[2]["reason"]
    assert len(runs(sb)) == 2


@pytest.mark.parametrize("retraining_sb", [{"cooldown_minutes": 0}], indirect=True)
def test_the_same_trigger_delivered_again_under_a_new_id_starts_nothing_more(retraining_sb):
    sb = retraining_sb
    name = "model-monitoring-retrain-dup"
    put_report(sb, name, report("violations.json"))
    event = execution(name)
    first, second = sb.put_events([event, dict(event, id=str(uuid.uuid4()))])
    assert reaction(first)["result"]["retraining"]["status"] == "started"
    assert reaction(second)["result"]["retraining"]["status"] == "already-started"
    assert len(runs(sb)) == 1


def test_a_pipeline_sagemaker_refuses_to_start_is_reported_not_retried():
    with Sandbox(policy=retraining_policy(pipeline="no-such-pipeline")) as sb:
        serving(sb, story()[19:28])
        name = "model-monitoring-refused"
        put_report(sb, name, report("violations.json"))
        target = reaction(sb.put_events([execution(name)])[0])
        assert target["attempts"] == 1
        assert target["result"]["retraining"]["status"] == "failed"
        [alert] = messages(sb, "Model Monitor: 3 violations", "slack")
        assert "failed to start" in json.dumps(alert["raw"])
