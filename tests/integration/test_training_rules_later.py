"""Debugger/Profiler rules that end after their training job (issue 20, item 2): the Completed event says
InProgress and SageMaker sends nothing when the rule ends. The reconciler reads the rules from
DescribeTrainingJob, records them forward only and raises the alert the event would have; the gate waits
for rules still running (within the policy's bound) and re-gates when they end."""

from __future__ import annotations

import copy
import time
import uuid

from sandbox import Sandbox
from tests.integration.test_approvals import http, register, status_of

ALERTS = {"warning": {"email": ["ml-team@example.com"]}, "info": {"email": ["ml-team@example.com"]}}
JOB = "churn-train-rules"


def _job(sb: Sandbox, rules=("Overfit", "LossNotDecreasing"), profiler=()) -> dict:
    """A training job with Debugger (and Profiler) rules, delivered Completed with its rules InProgress."""
    sb.client("sagemaker").create_training_job(
        TrainingJobName=JOB,
        RoleArn="arn:aws:iam::123456789012:role/r",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://b/out"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        DebugRuleConfigurations=[{"RuleConfigurationName": r, "RuleEvaluatorImage": "img"} for r in rules],
        **(
            {"ProfilerRuleConfigurations": [{"RuleConfigurationName": r, "RuleEvaluatorImage": "img"} for r in profiler]}
            if profiler
            else {}
        ),
    )  # fmt: skip
    event = sb.training_job_event(JOB)
    event["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": "s3://b/m.tar.gz"}  # what register() packages
    event["id"] = str(uuid.uuid4())
    sb.put_events([event])
    return event


def _node(sb: Sandbox) -> dict:
    return next(n for n in sb.lineage()["nodes"] if n["kind"] == "training-job")


def _rules(sb: Sandbox) -> dict:
    return {r["RuleConfigurationName"]: r["RuleEvaluationStatus"] for r in _node(sb)["ruleEvaluations"]}


def _reconcile(sb: Sandbox) -> dict:
    return sb.run_schedules("reconcile")[0]["targets"][0]["result"]


def _sweep(sb: Sandbox) -> dict:
    return sb.run_schedules("sweep-approvals")[0]["targets"][0]["result"]


def _rule_alerts(sb: Sandbox) -> list[dict]:
    return [m for m in sb.outbox if m["channel"] == "email" and "found issues" in m["subject"]]


def _policy(mode: str, on_pass: str = "approve", wait: float = 240) -> dict:
    return {
        "default": {
            "notifications": ALERTS,
            "approval": {
                "approvers": [{"email": "alice@example.com"}, {"email": "bob@example.com"}],
                "gate": {
                    "thresholds": {},
                    "on_pass": on_pass,
                    "training_rules": mode,
                    "training_rules_wait_minutes": wait,
                },
            },
        }
    }


def _asked(sb: Sandbox) -> list[dict]:
    return [m for m in sb.outbox if m["channel"] == "email" and "Approval requested" in m["subject"]]


# --- recording and alerting ---------------------------------------------------------------------------


def test_rules_that_end_after_the_job_are_read_from_describe_alerted_once_and_never_go_back():
    with Sandbox(policy={"default": {"notifications": ALERTS}}, serve_api=False) as sb:
        # Given a job delivered Completed while its rules were still InProgress: nothing to alert yet
        completed = _job(sb)
        assert _node(sb)["status"] == "Completed"
        assert _rules(sb) == {"Overfit": "InProgress", "LossNotDecreasing": "InProgress"}
        assert _rule_alerts(sb) == []
        # When the rules end (no event) and the reconciler runs
        sb.finish_training_rules(
            JOB,
            {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"},
            {"Overfit": "RuleEvaluationConditionMet: Evaluation of the rule Overfit at step 300"},
        )
        report = _reconcile(sb)
        # Then the rules are recorded and the alert names the rule and where its report is
        assert report["rules"] == [
            {
                "id": completed["detail"]["TrainingJobArn"].lower(),
                "rules": {"Debugger Overfit": "IssuesFound", "Debugger LossNotDecreasing": "NoIssuesFound"},
            }
        ]
        assert _rules(sb) == {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"}
        alerts = _rule_alerts(sb)
        assert len(alerts) == 1 and "Overfit" in alerts[0]["subject"]
        assert "LossNotDecreasing" not in alerts[0]["subject"]
        assert f"s3://b/out/{JOB}/rule-output/Overfit/" in alerts[0]["text"]
        assert "step 300" in alerts[0]["text"]
        # And the job leaves the rules' watch: the next run describes nothing and alerts nobody
        sb.aws_calls.clear()
        again = _reconcile(sb)
        assert (again["rules"], again["checked"]) == ([], 0)
        assert "sagemaker.DescribeTrainingJob" not in sb.aws_calls
        # And a late redelivery of the Completed event (rules InProgress) moves no rule back
        sb.put_events([{**copy.deepcopy(completed), "id": str(uuid.uuid4())}])
        sb.put_events([completed])  # the same event again
        assert _rules(sb) == {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"}
        assert len(_rule_alerts(sb)) == 1


def test_each_rule_moves_on_its_own_and_a_profiler_rule_is_watched_too():
    with Sandbox(policy={"default": {"notifications": ALERTS}}, serve_api=False) as sb:
        _job(sb, rules=("Overfit",), profiler=("ProfilerReport",))
        # Given the Debugger rule ended first: recorded, while the Profiler rule keeps the job watched
        sb.finish_training_rules(JOB, {"Overfit": "NoIssuesFound"})
        assert _reconcile(sb)["rules"][0]["rules"] == {"Debugger Overfit": "NoIssuesFound"}
        assert _rule_alerts(sb) == []  # no issues: nothing to say
        assert _rules(sb) == {"Overfit": "NoIssuesFound", "ProfilerReport": "InProgress"}
        # When the Profiler rule cannot be evaluated
        sb.finish_training_rules(JOB, {"ProfilerReport": "Error"}, {"ProfilerReport": "InternalServerError"})
        _reconcile(sb)
        # Then that is alerted as a rule that could not be evaluated, naming it
        mails = [m for m in sb.outbox if m["channel"] == "email" and "could not be evaluated" in m["subject"]]
        assert len(mails) == 1 and "ProfilerReport" in mails[0]["subject"]
        assert _reconcile(sb)["checked"] == 0


def test_a_watch_the_reconciler_cannot_describe_ends_with_the_reason():
    with Sandbox(policy={"default": {"notifications": ALERTS}}, serve_api=False) as sb:
        # Given a Completed event with rules InProgress for a job SageMaker does not know
        event = copy.deepcopy(_job(sb))
        event["id"] = str(uuid.uuid4())
        event["detail"].update(
            TrainingJobName="gone", TrainingJobArn=event["detail"]["TrainingJobArn"] + "-gone"
        )
        event["resources"] = [event["detail"]["TrainingJobArn"]]
        sb.put_events([event])
        # When the reconciler runs
        report = _reconcile(sb)
        # Then it is reported missing and no longer watched (the reason is on the node)
        gone = event["detail"]["TrainingJobArn"].lower()
        assert gone in report["missing"]
        node = {n["id"]: n for n in sb.lineage()["nodes"]}[gone]
        assert node["rulesWatch"] == "not found in SageMaker"
        assert gone not in {n["id"] for n in sb.lineage_store().rules_watched()}


# --- the gate ------------------------------------------------------------------------------------------


def test_the_gate_waits_for_rules_still_running_and_rejects_when_the_finding_arrives():
    with Sandbox(policy=_policy("reject")) as sb:
        # Given a version registered while its training job's rules are still running (on_pass: approve)
        _job(sb)
        arn = register(sb)
        # Then it is neither approved ("InProgress" is not "no issues") nor sent to people yet
        assert status_of(sb, arn) == "PendingManualApproval"
        assert _asked(sb) == []
        assert _sweep(sb)["rules"] == []  # still running: the sweep leaves it waiting
        # When a rule finds issues and the reconciler, then the sweep, run
        sb.finish_training_rules(JOB, {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"})
        _reconcile(sb)
        swept = _sweep(sb)
        # Then the gate rejects it, as it would have had the event carried the finding
        assert len(swept["rules"]) == 1
        assert status_of(sb, arn) == "Rejected"
        described = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert "rule Overfit found issues, FAILED" in described["ApprovalDescription"]
        assert _asked(sb) == []
        # And the next sweep has nothing left to do
        assert _sweep(sb)["rules"] == []


def test_rules_that_end_clean_let_the_gate_approve_as_it_would_have():
    with Sandbox(policy=_policy("hold")) as sb:
        _job(sb)
        arn = register(sb)
        assert status_of(sb, arn) == "PendingManualApproval"
        sb.finish_training_rules(JOB, {"Overfit": "NoIssuesFound", "LossNotDecreasing": "NoIssuesFound"})
        _reconcile(sb)
        _sweep(sb)
        assert status_of(sb, arn) == "Approved"  # on_pass: approve, and no finding to hold it


def test_a_hold_for_a_late_finding_sends_the_version_to_people_naming_the_rule():
    with Sandbox(policy=_policy("hold")) as sb:
        _job(sb)
        arn = register(sb)
        sb.finish_training_rules(JOB, {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"})
        _reconcile(sb)
        _sweep(sb)
        assert status_of(sb, arn) == "PendingManualApproval"  # on_pass approve, but held for people
        asked = _asked(sb)
        assert {m["to"] for m in asked} == {"alice@example.com", "bob@example.com"}
        assert "rule Overfit found issues (held for people)" in asked[0]["text"]
        _, page, _ = http(asked[0]["links"][0])
        assert "rule Overfit found issues" in page


def test_past_the_wait_unfinished_rules_go_to_people_and_a_later_finding_rejects_and_tells_them():
    with Sandbox(policy=_policy("reject", wait=0.004)) as sb:  # a quarter of a second
        _job(sb)
        arn = register(sb)
        assert _asked(sb) == []
        # When the wait is over with the rules still running
        time.sleep(0.4)
        _sweep(sb)
        # Then the approvers are asked, the unfinished rules named (never auto-approved)
        asked = _asked(sb)
        assert len(asked) == 2 and status_of(sb, arn) == "PendingManualApproval"
        assert "Debugger rule Overfit is InProgress" in asked[0]["text"]
        assert "(held for people)" in asked[0]["text"]
        # When the finding arrives while the request is with them
        sb.finish_training_rules(JOB, {"Overfit": "IssuesFound", "LossNotDecreasing": "NoIssuesFound"})
        _reconcile(sb)
        _sweep(sb)
        # Then the policy's reject applies, and each approver hears their link no longer decides
        assert status_of(sb, arn) == "Rejected"
        told = [m for m in sb.outbox if "rejected by the gate" in m["subject"]]
        assert {m["to"] for m in told} == {"alice@example.com", "bob@example.com"}
        assert "rule Overfit found issues" in told[0]["text"] and told[0]["links"] == []
        status, page, _ = http(asked[0]["links"][0])
        assert status in (409, 410) and "Nothing was changed" in page
        # And a second sweep tells nobody twice
        _sweep(sb)
        assert len([m for m in sb.outbox if "rejected by the gate" in m["subject"]]) == 2


def test_a_finding_that_arrives_while_people_decide_a_held_version_is_shown_and_told():
    with Sandbox(policy=_policy("hold", on_pass="request-approval")) as sb:
        # Given hold with request-approval: an unfinished rule cannot change the decision, so people are
        # asked at once, the rule still running named
        _job(sb)
        arn = register(sb)
        asked = _asked(sb)
        assert len(asked) == 2 and "is InProgress at registration" in asked[0]["text"]
        # When the rule finds issues
        sb.finish_training_rules(JOB, {"Overfit": "IssuesFound"})
        _reconcile(sb)
        _sweep(sb)
        # Then the request stays theirs; they are told, with their link, and the page shows the finding
        assert status_of(sb, arn) == "PendingManualApproval"
        told = [m for m in sb.outbox if "has a new finding" in m["subject"]]
        assert {m["to"] for m in told} == {"alice@example.com", "bob@example.com"}
        assert told[0]["links"] and "rule Overfit found issues" in told[0]["text"]
        _, page, _ = http(told[0]["links"][0])
        assert "rule Overfit found issues" in page


def test_ignore_never_waits():
    with Sandbox(policy=_policy("ignore")) as sb:
        _job(sb)
        arn = register(sb)
        assert status_of(sb, arn) == "Approved"  # the rules change nothing, running or not
