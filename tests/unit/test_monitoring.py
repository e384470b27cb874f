"""Monitoring use cases with fakes: the report summariser, what an alarm is about, the retraining guard."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from steward.events import parse_event
from steward.kernel.errors import DependencyError
from steward.monitoring.alarms import alarm_facts, nature
from steward.monitoring.report import MalformedReportError, report_uri, summarise
from steward.monitoring.retraining import (
    Ledger,
    PipelineStartError,
    RetrainingRequest,
    client_token,
    decide,
    request_retraining,
)
from steward.policy import Retraining, parse_policy
from tests.conftest import EVENTS, load

NOW = datetime(2026, 11, 3, 10, 15, tzinfo=UTC)


def report(name: str):
    return json.loads((EVENTS / "monitoring" / "reports" / name).read_text())


# --- the summariser ------------------------------------------------------------------------------------


def test_data_quality_report_lists_feature_check_and_description_in_order():
    violations = summarise(report("violations.json"))
    assert [(v.feature, v.check) for v in violations] == [
        ("tenure", "baseline_drift_check"),
        ("monthly_charges", "data_type_check"),
        ("contract_type", "categorical_values_check"),
    ]
    assert violations[0].description == "Baseline drift distance: 0.27 exceeds threshold: 0.2"


def test_model_quality_and_bias_reports_name_their_metric_and_facet():
    assert summarise(report("model_quality.json"))[0].feature == "auc"
    assert summarise(report("bias_drift.json"))[0].feature == "CI (gender=0)"


def test_an_empty_violation_list_is_a_clean_run():
    assert summarise(report("clean.json")) == []


def test_repeated_violations_are_listed_once_and_long_text_is_cut():
    item = {"feature_name": "f", "constraint_check_type": "c", "description": "x" * 5000}
    violations = summarise({"violations": [item, dict(item)]})
    assert len(violations) == 1
    assert len(violations[0].description) == 500


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ([], "not a JSON object"),
        ({}, "violations: missing"),
        ({"violations": "many"}, "violations: a list was expected"),
        ({"violations": ["tenure"]}, "violations[0]: an object"),
        ({"violations": [{"feature_name": "tenure"}]}, "violations[0].constraint_check_type: missing"),
    ],
)
def test_a_malformed_report_is_refused_naming_where(document, where):
    with pytest.raises(MalformedReportError, match=where.replace("[", r"\[").replace("]", r"\]")):
        summarise(document)


def test_the_report_is_in_the_result_output():
    outputs = [("other", "s3://b/other"), ("result", "s3://b/reports/2026/11/03/10/")]
    assert report_uri(outputs) == "s3://b/reports/2026/11/03/10/constraint_violations.json"
    assert report_uri([("anything", "s3://b/only")]) == "s3://b/only/constraint_violations.json"
    assert report_uri([("a", "s3://b/1"), ("b", "s3://b/2")]) is None  # ambiguous: no guess
    assert report_uri([]) is None


# --- what an alarm is about ----------------------------------------------------------------------------

POLICY = parse_policy(
    {
        "default": {},
        "groups": {
            "churn-models": {
                "stages": [{"name": "prod", "endpoint": "churn-prod", "rollback_alarms": ["churn-latency"]}],
                "monitoring": {"drift_alarms": ["churn-prod-custom-skew"]},
            }
        },
    }
)


class Tags:
    def __init__(self, tags=None):
        self.tags, self.asked = tags or {}, []

    def alarm_tags(self, arn):
        self.asked.append(arn)
        return self.tags


def alarm(path="cloudwatch_alarm/drift_alarm.json", **metric):
    raw = copy.deepcopy(load(path))
    if metric:
        raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"] = metric
    return raw


def test_drift_alarm_maps_by_its_endpoint_dimension_and_is_drift():
    facts = alarm_facts(parse_event(alarm()), POLICY, Tags())
    assert (facts.endpoint, facts.mapped_by, facts.nature) == ("churn-prod", "dimension:Endpoint", "drift")
    assert facts.arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-feature-drift-tenure"
    assert (facts.state, facts.previous, facts.recovered) == ("ALARM", "OK", False)


def test_invocation_errors_are_errors_and_latency_is_latency():
    errors = parse_event(load("cloudwatch_alarm/rollback_alarm.json"))
    assert alarm_facts(errors, POLICY, Tags()).nature == "errors"
    latency = parse_event(alarm(namespace="AWS/SageMaker", name="ModelLatency", dimensions={}))
    assert nature(latency.detail, []) == "latency"


def test_recovery_needs_a_previous_alarm():
    assert alarm_facts(parse_event(load("cloudwatch_alarm/drift_ok.json")), POLICY, Tags()).recovered
    initial = parse_event(load("cloudwatch_alarm/quirk_initial_no_reason_data.json"))
    assert not alarm_facts(initial, POLICY, Tags()).recovered  # INSUFFICIENT_DATA → OK is no recovery


def test_an_alarm_without_dimensions_maps_by_policy_then_by_tag():
    raw = alarm(namespace="AWS/SageMaker", name="ModelLatency", dimensions={})
    raw["detail"]["alarmName"] = "churn-latency"
    raw["resources"] = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-latency"]
    assert alarm_facts(parse_event(raw), POLICY, Tags()).mapped_by == "policy:stages.rollback_alarms"
    raw["detail"]["alarmName"] = "unnamed"
    tags = Tags({"steward:endpoint": "churn-staging"})
    facts = alarm_facts(parse_event(raw), POLICY, tags)
    assert (facts.endpoint, facts.mapped_by) == ("churn-staging", "tag:steward:endpoint")
    assert tags.asked == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-latency"]


def test_an_alarm_the_policy_names_as_drift_is_drift_and_unmapped_alarms_say_so():
    raw = alarm(namespace="Custom/Churn", name="Skew", dimensions={})
    raw["detail"]["alarmName"] = "churn-prod-custom-skew"
    facts = alarm_facts(parse_event(raw), POLICY, None)  # None: another account's alarm, tags unreadable
    assert (facts.nature, facts.endpoint, facts.mapped_by) == ("drift", None, None)


# --- the retraining guard ------------------------------------------------------------------------------

ENABLED = Retraining(enabled=True, pipeline="churn-train", cooldown_minutes=60, daily_limit=2)


class FakeLedger:
    def __init__(self, ledger=None, conflicts=0):
        self.ledger, self.conflicts, self.writes = ledger, conflicts, 0

    def read_ledger(self, pipeline):
        return self.ledger

    def write_ledger(self, pipeline, ledger, expected_revision):
        current = self.ledger.revision if self.ledger else 0
        if self.conflicts:  # another invocation wrote first: it took the slot
            self.conflicts -= 1
            self.ledger = Ledger((iso(NOW),), "someone-else", "arn:other", current + 1)
            return False
        if current != expected_revision:
            return False
        self.ledger, self.writes = ledger, self.writes + 1
        return True


class FakePipelines:
    def __init__(self, error=None):
        self.error, self.calls = error, []

    def start_pipeline(self, pipeline, parameters, token, display_name, description):
        self.calls.append({"pipeline": pipeline, "parameters": parameters, "token": token})
        if self.error:
            raise self.error
        return f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{pipeline}/execution/run{len(self.calls)}"


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def request(trigger="arn:trigger-1", now=NOW):
    return RetrainingRequest(
        trigger=trigger, reason="3 violations", endpoint="churn-prod", model_package_arn="arn:pkg/3", now=now
    )


def test_first_trigger_starts_and_records_the_run():
    ledger, pipelines = FakeLedger(), FakePipelines()
    outcome = request_retraining(ENABLED, request(), ledger, pipelines)
    assert outcome.status == "started"
    assert outcome.execution_arn.endswith("/execution/run1")
    assert ledger.ledger.last_execution == outcome.execution_arn and ledger.ledger.starts == (iso(NOW),)
    assert pipelines.calls[0]["token"] == client_token("churn-train", "arn:trigger-1")


def test_a_second_trigger_inside_the_cooldown_is_skipped_with_the_time_it_ends():
    ledger, pipelines = FakeLedger(), FakePipelines()
    request_retraining(ENABLED, request(), ledger, pipelines)
    outcome = request_retraining(
        ENABLED, request("arn:trigger-2", NOW + timedelta(minutes=59)), ledger, pipelines
    )
    assert outcome.status == "skipped" and "cooldown until 2026-11-03T11:15" in outcome.reason
    assert len(pipelines.calls) == 1


def test_the_daily_limit_counts_starts_in_any_24_hours():
    ledger, pipelines = FakeLedger(), FakePipelines()
    for hours in (0, 2):
        assert (
            request_retraining(
                ENABLED, request(f"t{hours}", NOW + timedelta(hours=hours)), ledger, pipelines
            ).status
            == "started"
        )
    third = request_retraining(ENABLED, request("t4", NOW + timedelta(hours=4)), ledger, pipelines)
    assert third.status == "skipped" and "daily limit" in third.reason
    later = request_retraining(ENABLED, request("t25", NOW + timedelta(hours=25)), ledger, pipelines)
    assert later.status == "started"  # the first start left the 24-hour window


def test_the_same_trigger_twice_starts_once():
    ledger, pipelines = FakeLedger(), FakePipelines()
    first = request_retraining(ENABLED, request(), ledger, pipelines)
    again = request_retraining(
        Retraining(**{**ENABLED.model_dump(), "cooldown_minutes": 0}), request(), ledger, pipelines
    )
    assert again.status == "already-started" and again.execution_arn == first.execution_arn
    assert len(pipelines.calls) == 1


def test_a_claim_whose_start_never_finished_starts_again_with_the_same_token():
    claimed = Ledger((iso(NOW),), "arn:trigger-1", None, 1)  # crashed between the claim and the call
    pipelines = FakePipelines()
    outcome = request_retraining(ENABLED, request(), FakeLedger(claimed), pipelines)
    assert outcome.status == "started"
    assert pipelines.calls[0]["token"] == client_token("churn-train", "arn:trigger-1")


def test_losing_the_race_to_another_invocation_means_the_cooldown_applies():
    ledger, pipelines = FakeLedger(conflicts=1), FakePipelines()
    outcome = request_retraining(ENABLED, request(), ledger, pipelines)
    assert outcome.status == "skipped" and "cooldown" in outcome.reason
    assert pipelines.calls == []


def test_a_refused_start_gives_the_slot_back_and_says_why():
    ledger = FakeLedger()
    refused = request_retraining(
        ENABLED, request(), ledger, FakePipelines(PipelineStartError("ValidationException: no pipeline"))
    )
    assert refused.status == "failed" and "no pipeline" in refused.reason
    assert ledger.ledger.starts == ()  # nothing started: no cooldown held
    assert request_retraining(ENABLED, request("t2"), ledger, FakePipelines()).status == "started"


def test_a_throttled_start_gives_the_slot_back_and_raises_to_be_retried():
    ledger = FakeLedger()
    with pytest.raises(DependencyError):
        request_retraining(ENABLED, request(), ledger, FakePipelines(DependencyError("ThrottlingException")))
    assert ledger.ledger.starts == ()


def test_parameters_fill_placeholders_and_disabled_policy_starts_nothing():
    pipelines = FakePipelines()
    wanted = Retraining(
        enabled=True,
        pipeline="churn-train",
        parameters={"Reason": "{reason} on {endpoint}", "Keep": "{other}"},
    )
    request_retraining(wanted, request(), FakeLedger(), pipelines)
    assert pipelines.calls[0]["parameters"] == {"Reason": "3 violations on churn-prod", "Keep": "{other}"}
    off = request_retraining(Retraining(pipeline="churn-train"), request(), FakeLedger(), pipelines)
    assert off.status == "skipped" and len(pipelines.calls) == 1


def test_decide_is_allowed_without_history():
    assert decide(None, "t", NOW, ENABLED) == (True, "allowed")


# --- the policy section --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monitoring", "field"),
    [
        ({"retraining": {"enabled": True}}, "groups.g.monitoring.retraining"),
        ({"retraining": {"pipeline": "x", "daily_limit": 0}}, "groups.g.monitoring.retraining.daily_limit"),
        ({"retraining": {"pipeline": "bad name!"}}, "groups.g.monitoring.retraining.pipeline"),
        (
            {"retraining": {"pipeline": "x", "parameters": {"bad name": "v"}}},
            "groups.g.monitoring.retraining.parameters",
        ),
        ({"retrain": {}}, "groups.g.monitoring.retrain"),
    ],
)
def test_a_bad_monitoring_policy_names_the_field(monitoring, field):
    from steward.policy import PolicyError

    with pytest.raises(PolicyError) as caught:
        parse_policy({"default": {}, "groups": {"g": {"monitoring": monitoring}}})
    assert any(e.startswith(field) for e in caught.value.errors), caught.value.errors


def test_the_shipped_policy_has_retraining_off():
    from steward.policy import _default_policy

    assert not _default_policy().monitoring("churn-models").retraining.enabled
