"""Alarms in the order EventBridge delivers them: a late, older ALARM never pages after the recovery;
Model Monitor's namespace is drift however AWS spells it."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from tests.integration.test_monitoring import alarm_event, messages, reaction, serving


@pytest.fixture
def sb():
    with Sandbox(serve_api=False) as sandbox:
        serving(sandbox)
        yield sandbox


def test_an_alarm_older_than_the_recovery_already_recorded_pages_no_one(sb):
    # Given the recovery at 11:00 arrived first (the ALARM at 10:00 was delayed)
    name = "churn-prod-late-alarm"
    ok = alarm_event("OK", "ALARM", "2026-11-03T11:00:00.000+0000", name=name, Endpoint="churn-prod")
    reaction(sb.put_events([ok])[0])
    # When the older ALARM arrives
    late = alarm_event("ALARM", "OK", "2026-11-03T10:00:00.000+0000", name=name, Endpoint="churn-prod")
    outcome = reaction(sb.put_events([late])[0])
    # Then it is kept as history (stale) and no ALARM alert is sent
    assert outcome["result"]["outcome"] == "stale"
    assert messages(sb, f"Alarm {name} is in ALARM") == []


def test_a_newer_alarm_after_the_recovery_pages(sb):
    name = "churn-prod-new-alarm"
    ok = alarm_event("OK", "ALARM", "2026-11-03T11:00:00.000+0000", name=name, Endpoint="churn-prod")
    reaction(sb.put_events([ok])[0])
    newer = alarm_event("ALARM", "OK", "2026-11-03T12:00:00.000+0000", name=name, Endpoint="churn-prod")
    assert reaction(sb.put_events([newer])[0])["result"]["outcome"] == "recorded"
    assert messages(sb, f"Alarm {name} is in ALARM")


@pytest.mark.parametrize(
    "namespace",
    [
        "aws/sagemaker/Endpoints/data-metrics",
        "/aws/sagemaker/Endpoints/data-metrics",
        "/AWS/SageMaker/Endpoints/model-metrics",
    ],
)
def test_model_monitor_metrics_are_drift_however_the_namespace_is_spelled(sb, namespace):
    # Given a drift alarm whose metric lives in Model Monitor's namespace, spelled as AWS documents it
    name = f"drift-{abs(hash(namespace))}"
    event = alarm_event("ALARM", "OK", "2026-11-03T10:12:30.104+0000", name=name)
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric["namespace"] = namespace
    metric["dimensions"] = {"MonitoringSchedule": "churn-prod-data-quality", "Endpoint": "churn-prod"}
    # When it is delivered, Then the rule takes it and the alarm is classed as drift
    target = reaction(sb.put_events([event])[0])
    assert target["result"]["outcome"] == "recorded"
    node = sb.lineage_store().get_nodes([event["resources"][0].lower()]).get(event["resources"][0].lower())
    node = node or next(n for n in sb.lineage()["nodes"] if n.get("name") == name)
    assert node["nature"] == "drift"


def test_the_rule_takes_model_monitor_alarms_by_namespace_alone_with_or_without_the_slash(sb):
    for namespace in ("aws/sagemaker/Endpoints/data-metrics", "/aws/sagemaker/Endpoints/data-metrics"):
        event = alarm_event("ALARM", "OK", "2026-11-03T10:12:30.104+0000", name=f"ns-{len(namespace)}")
        metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        metric["namespace"], metric["dimensions"] = namespace, {"MonitoringSchedule": "s"}  # no endpoint
        functions = {t["function"] for t in sb.put_events([event])[0]["targets"]}
        assert "react_to_monitoring" in functions, namespace
