"""The CloudWatch dashboard of template.yaml (StewardDashboard), checked against the template and the code.

Every function, DLQ and alarm of the template is on it; and every Steward metric it names is one the
functions emit, and the other way round. "Emit" is read from the EMF the sandbox captures (`sb.metrics`:
Powertools prints each invocation's metrics to stdout), over the demo (`make demo`'s story) and a few
edges the demo does not reach (duplicates, stale and invalid events, a failed delivery, the schedules,
promotions queued, rolled back and refused, a refused decision, a dependency failing).

The sandbox runs every function in one process, so the `service` dimension in its EMF is the process's
(Powertools reads POWERTOOLS_SERVICE_NAME once, at import); on Lambda each function has its own process
and its own POWERTOOLS_SERVICE_NAME. Each metric is therefore attributed to the function whose invocation
printed it, and the dashboard's `service` dimension is checked against that function's variable.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import urllib.request
import uuid
from collections import Counter
from functools import cache
from typing import Any, ClassVar
from unittest import mock

import pytest

from sandbox import Sandbox
from tests.conftest import REPO, load
from tests.infra.test_template import _ref, cfn, resources

pytestmark = pytest.mark.infra

TEMPLATE = REPO / "template.yaml"
SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@cache
def body_text() -> str:
    (dashboard,) = resources("AWS::CloudWatch::Dashboard").values()
    sub = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(sub, str), "DashboardBody is a !Sub of one JSON string"
    return sub


def widgets() -> list[dict[str, Any]]:
    """The dashboard's widgets, each ${X} of the !Sub left as the text "{X}" (a logical id, X.Attr, or a
    pseudo parameter), which is what the tests below compare against the template."""
    return json.loads(SUB.sub(lambda m: "{" + m.group(1) + "}", body_text()))["widgets"]


def _lines_of(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric name, dimensions, statistic) of each metric line of a metric widget."""
    lines = []
    for line in widget["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        namespace, name, *pairs = line[: len(line) - 1] if options else line
        stat = options.get("stat") or widget["properties"].get("stat", "Average")
        lines.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), stat))
    return lines


def metric_lines() -> list[tuple[str, str, dict[str, str], str]]:
    return [line for widget in widgets() if widget["type"] == "metric" for line in _lines_of(widget)]


def functions_env() -> dict[str, dict[str, str]]:
    return {
        name: fn["Properties"]["Environment"]["Variables"]
        for name, fn in resources("AWS::Lambda::Function").items()
    }


def steward_metrics() -> set[tuple[str, str]]:
    """(metric name, service) of every Steward (EMF) metric the dashboard names."""
    namespace = {env["POWERTOOLS_METRICS_NAMESPACE"] for env in functions_env().values()}
    return {(name, dims["service"]) for ns, name, dims, _ in metric_lines() if ns in namespace}


# --- the dashboard against the template -------------------------------------------------------------


def test_the_body_is_json_of_metric_alarm_and_text_widgets_in_the_stacks_region():
    # Given the dashboard body (a !Sub of a JSON string), with its references read as text
    kinds = Counter(w["type"] for w in widgets())
    # Then it holds metric, alarm and text widgets only, each metric widget in the stack's region
    assert set(kinds) <= {"metric", "alarm", "text"} and kinds["metric"] and kinds["alarm"]
    for widget in widgets():
        assert {"x", "y", "width", "height"} <= set(widget), widget
        assert widget["x"] + widget["width"] <= 24, widget
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "{AWS::Region}", widget["properties"]["title"]
            assert widget["properties"]["period"] >= 60
    # And every reference is to a pseudo parameter, a parameter or a resource of the template
    known = set(cfn()["Resources"]) | set(cfn().get("Parameters", {}))
    for reference in SUB.findall(body_text()):
        assert reference.startswith("AWS::") or reference.split(".")[0] in known, reference


def test_every_function_shows_errors_throttles_duration_p95_and_concurrent_executions():
    # Given the Lambda metrics on the dashboard, by metric and FunctionName
    shown = {
        (name, dims["FunctionName"]): stat for ns, name, dims, stat in metric_lines() if ns == "AWS/Lambda"
    }
    wanted = {"Errors": "Sum", "Throttles": "Sum", "Duration": "p95", "ConcurrentExecutions": "Maximum"}
    # Then each function of the template (by its Ref) has the four, duration as p95
    for function in resources("AWS::Lambda::Function"):
        for metric, stat in wanted.items():
            assert shown.get((metric, "{" + function + "}")) == stat, (function, metric)


def dead_letter_queues() -> set[str]:
    """Queues something dead-letters to: a queue's redrive policy, a function's on-failure destination,
    a rule target's DeadLetterConfig."""
    found = {
        _ref(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    found |= {
        _ref(c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
        for c in resources("AWS::Lambda::EventInvokeConfig").values()
    }
    found |= {
        _ref(t["DeadLetterConfig"]["Arn"])
        for r in resources("AWS::Events::Rule").values()
        for t in r["Properties"]["Targets"]
        if "DeadLetterConfig" in t
    }
    found.discard(None)
    return found  # type: ignore[return-value]


def test_every_dlq_shows_its_depth_and_oldest_message_age():
    # Given the template's dead-letter queues (three today)
    queues = dead_letter_queues()
    assert len(queues) >= 3
    shown = {(name, dims.get("QueueName")) for ns, name, dims, _ in metric_lines() if ns == "AWS/SQS"}
    # Then each one's depth and oldest message's age are on the dashboard (by its QueueName)
    for queue in queues:
        assert ("ApproximateNumberOfMessagesVisible", "{" + queue + ".QueueName}") in shown, queue
        assert ("ApproximateAgeOfOldestMessage", "{" + queue + ".QueueName}") in shown, queue


def test_every_alarm_of_the_template_is_linked_from_an_alarm_widget():
    # Given the alarms of the template (each DLQ's, each function's errors)
    alarms = set(resources("AWS::CloudWatch::Alarm"))
    # When the alarm widgets' ARNs are read
    linked = [a for w in widgets() if w["type"] == "alarm" for a in w["properties"]["alarms"]]
    # Then each alarm is linked once, by its ARN
    assert sorted(linked) == sorted("{" + a + ".Arn}" for a in alarms)


def test_steward_metrics_use_the_namespace_and_the_service_names_of_the_functions():
    # Given the namespace and service names the functions' environment sets
    envs = functions_env().values()
    (namespace,) = {env["POWERTOOLS_METRICS_NAMESPACE"] for env in envs}
    services = {env["POWERTOOLS_SERVICE_NAME"] for env in envs}
    custom = [(ns, n, dims) for ns, n, dims, _ in metric_lines() if not ns.startswith("AWS/")]
    # Then every custom metric is in that namespace, with Powertools' one dimension: a function's service
    assert custom
    for ns, name, dims in custom:
        assert ns == namespace, name
        assert set(dims) == {"service"} and dims["service"] in services, (name, dims)


def test_the_dashboard_url_is_an_output():
    url = cfn()["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert "${StewardDashboard}" in url and "cloudwatch" in url


# --- the dashboard against what the functions emit --------------------------------------------------


class Recording(Sandbox):
    """A sandbox that attributes each EMF metric to the function whose invocation printed it."""

    emitted: ClassVar[Counter[tuple[str, str]]] = Counter()

    def _invoke(self, spec: Any, event: Any) -> dict[str, Any]:
        before = len(self.metrics)
        record = super()._invoke(spec, event)
        service = spec.environment["POWERTOOLS_SERVICE_NAME"]
        for emf in self.metrics[before:]:
            for directive in emf["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    assert metric["Name"] in emf, emf  # a value for each metric named
                    self.emitted[(metric["Name"], service)] += 1
        return record


def _post(sb: Sandbox, path: str, body: Any) -> int:
    request = urllib.request.Request(
        f"{sb.api_url}{path}",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _get(sb: Sandbox, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{sb.api_url}{path}", timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _demo() -> None:
    """`make demo`'s story, every sandbox it opens recording."""
    from sandbox.demo import lifecycle as demo

    with mock.patch.object(demo, "Sandbox", Recording):
        assert demo.run_demo(out=io.StringIO()) == 0


def _lineage_notifications_monitoring_and_schedules() -> None:
    """The shipped policy, a webhook on critical notifications; lineage edges, a delivery retried, a
    Model Monitor report missing, the API's store throttled, and every schedule once."""
    import yaml

    from steward.notify.adapters.channels import MAX_ATTEMPTS
    from steward.policy import DEFAULT_POLICY_FILE
    from tests.integration.test_monitoring import execution, serving

    policy = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for entry in (policy["default"], policy["groups"]["churn-models"]):
        entry["notifications"]["critical"]["webhooks"] = ["pager"]
    policy["webhooks"] = {"pager": {"url": "${sandbox.receiver}/webhooks/pager"}}
    with Recording(policy=policy) as sb:
        serving(sb)  # churn-prod serving churn-models/3: the story's first events
        completed = load("training_job/completed.json")
        invalid = copy.deepcopy(completed)
        del invalid["detail"]["TrainingJobArn"]
        late = dict(load("training_job/in_progress_training.json"), id=str(uuid.uuid4()))  # older: stale
        sb.put_events([completed, completed, late, invalid])
        # every attempt of the first delivery fails (retried from the queue), then one fails for good
        sb.receiver.fail("/webhooks/pager", times=MAX_ATTEMPTS, status=503, retry_after=0)
        sb.put_events([load("transform_job/failed.json")])
        sb.receiver.fail("/webhooks/pager", times=1, status=410)
        sb.put_events([load("processing_job/failed.json")])
        assert sb.put_events([execution("model-monitoring-missing-1")])[0]["targets"]
        with sb.faults("dynamodb.*", rate=1.0):
            assert _get(sb, "/lineage?id=arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod") == 503
        sb.run_schedules()
        assert sb.backfill()["done"]  # the backfill function, invoked by name


def _promotions_and_approvals() -> None:
    """Promotion's outcomes the demo does not reach (queued, rolled back, refused), a gate that approves
    on its own, a stage that asks its approvers again, and a refused decision."""
    from steward.approvals.models import ApprovalRequest
    from tests.integration.test_promotion import APPROVERS, approve, policy, register

    doc = policy()
    doc["groups"] = {
        "autofraud": {
            "approval": {"approvers": APPROVERS, "quorum": 1, "gate": {"on_pass": "approve"}},
            "stages": [
                {"name": "staging", "endpoint": "autofraud-staging", "strategy": "all-at-once"},
                {"name": "prod", "endpoint": "autofraud-prod", "requires_approval": True},
            ],
        }
    }
    with Recording(policy=doc) as sb:
        auto = register(sb, group="autofraud")  # approved by the gate, staging, then prod asks again
        decision = {"decision": "approve", "as": "bob@example.com", "comment": "prod go"}
        stage_request = f"/approval-requests/{ApprovalRequest.id_for(auto, 'prod')}/decisions"
        assert _post(sb, stage_request, decision) == 200
        assert _post(sb, stage_request, decision) == 409  # decided already: refused
        approve(sb, register(sb))  # fraud v1: staging, then prod
        sb.endpoint_outcome("fraud-staging", "hold")
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
        approve(sb, register(sb, artifact="s3://models/fraud/v3.tar.gz"))  # the endpoint is busy: queued
        sb.complete_endpoint("fraud-staging", "succeed")
        sb.endpoint_outcome("fraud-staging", "rollback")
        approve(sb, register(sb, artifact="s3://models/fraud/v4.tar.gz"))  # rolled back
        outside = register(sb, artifact="s3://models/fraud/v5.tar.gz")
        sb.client("sagemaker").update_model_package(ModelPackageArn=outside, ModelApprovalStatus="Approved")
        sb.drain()  # approved in the console, not through Steward: refused


@pytest.fixture(scope="module")
def emitted() -> Counter[tuple[str, str]]:
    Recording.emitted = Counter()
    _demo()
    _lineage_notifications_monitoring_and_schedules()
    _promotions_and_approvals()
    return Recording.emitted


def test_every_metric_the_dashboard_names_is_emitted_by_the_function_it_names(emitted):
    # Given what the functions emitted (as metric name and the emitting function's service name)
    # Then each Steward metric of the dashboard is among them, under the service the dashboard filters on
    missing = sorted(steward_metrics() - set(emitted))
    assert not missing, f"on the dashboard, never emitted: {missing}"


def test_every_metric_the_functions_emit_is_on_the_dashboard(emitted):
    # Given what the functions emitted, When compared with the dashboard's Steward metrics
    absent = sorted(set(emitted) - steward_metrics())
    # Then nothing a function emits is missing from the dashboard
    assert not absent, f"emitted, not on the dashboard: {absent}"


@pytest.mark.parametrize(
    ("service", "names"),
    [
        ("promote_model", {"Started", "Succeeded", "Failed", "RolledBack", "Queued", "Refused"}),
        ("request_approval", {"ApprovalRequested", "ApprovalGateApproved", "ApprovalGateRejected"}),
        ("api", {"ApprovalDecisionRecorded", "ApprovalDecisionRefused", "RollbackRequested"}),
        ("notify", {"NotificationSent", "NotificationDeduplicated", "NotificationFailed"}),
    ],
)
def test_the_functions_that_emitted_nothing_now_count_their_outcomes(emitted, service, names):
    # Given the scenarios, which reach each of these outcomes at least once
    wanted = {f"Promotion{n}" for n in names} if service == "promote_model" else names
    # Then the function emitted a metric for each, and the dashboard shows it
    assert wanted <= {name for name, by in emitted if by == service}
    assert wanted <= {name for name, by in steward_metrics() if by == service}


# --- the promotion counter (layers/core/steward/promotion/counts.py) ----------------------------------


@contextlib.contextmanager
def _metric_set():
    from steward.kernel.observability import metrics

    metrics.clear_metrics()
    try:
        yield metrics.metric_set
    finally:
        metrics.clear_metrics()


def test_a_promotion_outcome_counts_what_it_set_off():
    from steward.promotion.counts import count_outcomes

    # Given a staging success that started prod and the deployment queued behind it
    outcome = {
        "outcome": "succeeded",
        "next": {"outcome": "started"},
        "queued": {"outcome": "queued"},
    }
    with _metric_set() as recorded:
        # When it is counted
        assert count_outcomes(outcome) is outcome
        # Then each deployment it moved counts once
        assert {name: m["Value"] for name, m in recorded.items()} == {
            "PromotionSucceeded": [1.0],
            "PromotionStarted": [1.0],
            "PromotionQueued": [1.0],
        }


def test_a_next_stage_that_asks_its_approvers_counts_an_approval_request_and_duplicates_count_nothing():
    from steward.promotion.counts import count_outcomes

    with _metric_set() as recorded:
        count_outcomes({"outcome": "succeeded", "next": {"outcome": "requested"}})
        count_outcomes({"outcome": "duplicate"})
        count_outcomes({"outcome": "ignored", "reason": "no deployment"})
        assert set(recorded) == {"PromotionSucceeded", "ApprovalRequested"}


def test_the_reconciler_counts_what_it_ended_and_started():
    from steward.promotion.counts import count_outcomes

    with _metric_set() as recorded:
        count_outcomes({"outcome": "reconciled", "ended": ["a", "b"], "started": ["c"], "waiting": []})
        assert recorded["PromotionReconciled"]["Value"] == [2.0]
        assert recorded["PromotionStarted"]["Value"] == [1.0]
