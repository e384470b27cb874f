"""Debugger/Profiler rule evaluations (pure): each rule forward only, and the gate's wait for rules still
running (lineage.rules, approvals.rules_watch)."""

from __future__ import annotations

import pytest

from steward.approvals.gate import GateResult
from steward.approvals.rules_watch import could_change, gate_with_rules, rules_state, with_unfinished
from steward.events import parse_event
from steward.lineage.rules import describe, evaluations, is_open, merge
from steward.policy import Gate
from tests.conftest import load


def rule(name: str, status: str, kind: str = "Debugger", **more) -> dict:
    return {"Kind": kind, "RuleConfigurationName": name, "RuleEvaluationStatus": status, **more}


@pytest.mark.parametrize(
    ("known", "reported", "after", "moved"),
    [
        # forward: InProgress → each terminal status, and Stopping → Stopped
        ("InProgress", "IssuesFound", "IssuesFound", True),
        ("InProgress", "NoIssuesFound", "NoIssuesFound", True),
        ("InProgress", "Error", "Error", True),
        ("InProgress", "Stopping", "Stopping", True),
        ("Stopping", "Stopped", "Stopped", True),
        ("Unreported", "InProgress", "InProgress", True),
        # never back, and a duplicate is a no-op
        ("IssuesFound", "InProgress", "IssuesFound", False),
        ("Stopped", "Stopping", "Stopped", False),
        ("IssuesFound", "IssuesFound", "IssuesFound", False),
        ("InProgress", "InProgress", "InProgress", False),
        # the first terminal status stays (a rule ends once)
        ("NoIssuesFound", "IssuesFound", "NoIssuesFound", False),
        ("Error", "NoIssuesFound", "Error", False),
    ],
)
def test_a_rule_moves_forward_only(known, reported, after, moved):
    merged, advanced = merge([rule("Overfit", known)], [rule("Overfit", reported, StatusDetails="x")])
    assert [r["RuleEvaluationStatus"] for r in merged] == [after]
    assert bool(advanced) is moved


def test_rules_move_on_their_own_and_a_new_rule_is_added():
    known = [rule("Overfit", "IssuesFound"), rule("Loss", "InProgress")]
    merged, advanced = merge(
        known, [rule("Overfit", "InProgress"), rule("Loss", "NoIssuesFound"), rule("ProfilerReport", "InProgress", "Profiler")]
    )  # fmt: skip
    assert {(r["Kind"], r["RuleConfigurationName"]): r["RuleEvaluationStatus"] for r in merged} == {
        ("Debugger", "Overfit"): "IssuesFound",
        ("Debugger", "Loss"): "NoIssuesFound",
        ("Profiler", "ProfilerReport"): "InProgress",
    }
    assert [r["RuleConfigurationName"] for r in advanced] == ["Loss", "ProfilerReport"]


def test_a_debugger_and_a_profiler_rule_of_one_name_are_two_rules():
    merged, _ = merge([rule("R", "IssuesFound")], [rule("R", "InProgress", "Profiler")])
    assert len(merged) == 2


def test_a_rule_kept_before_rules_had_a_kind_is_the_same_rule():
    legacy = {"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "InProgress"}
    merged, advanced = merge([legacy], [rule("Overfit", "IssuesFound")])
    assert merged == [rule("Overfit", "IssuesFound")] and len(advanced) == 1


def test_a_merge_keeps_what_the_report_leaves_out():
    arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/overfit-1"
    merged, _ = merge([rule("Overfit", "InProgress", RuleEvaluationJobArn=arn)], [rule("Overfit", "Error")])
    assert merged[0]["RuleEvaluationJobArn"] == arn and merged[0]["RuleEvaluationStatus"] == "Error"


def test_the_event_s_rules_and_configured_rules_without_a_status_yet():
    event = load("training_job/completed.json")
    event["detail"]["DebugRuleEvaluationStatuses"] = [
        {"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "InProgress", "LastModifiedTime": "1793586468517",
         "RuleEvaluationJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/overfit-1"},
    ]  # fmt: skip
    event["detail"]["DebugRuleConfigurations"] = [
        {"RuleConfigurationName": "Overfit"},
        {"RuleConfigurationName": "Loss"},
    ]
    event["detail"]["ProfilerRuleConfigurations"] = [{"RuleConfigurationName": "ProfilerReport"}]
    found = evaluations(parse_event(event).detail)
    assert [(r["Kind"], r["RuleConfigurationName"], r["RuleEvaluationStatus"]) for r in found] == [
        ("Debugger", "Overfit", "InProgress"),
        ("Debugger", "Loss", "Unreported"),
        ("Profiler", "ProfilerReport", "Unreported"),
    ]
    assert found[0]["LastModifiedTime"].startswith("2026-11-02T02:27:48")  # epoch millis, normalised
    assert all(is_open(r) for r in found)
    assert describe(found[1]) == "Debugger rule Loss has not reported a status yet"


def test_rules_state_lists_findings_and_what_has_not_finished():
    nodes = [
        {"name": "train-1", "ruleEvaluations": [rule("Overfit", "IssuesFound"), rule("Loss", "InProgress")]},
        {"name": "train-2", "ruleEvaluations": [rule("ProfilerReport", "Stopping", "Profiler")]},
    ]
    assert rules_state(nodes) == (
        ["training job train-1: rule Overfit found issues"],
        ["training job train-1: Debugger rule Loss is InProgress", "training job train-2: Profiler rule ProfilerReport is Stopping"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("decision", "mode", "changes"),
    [
        ("approve", "hold", True),  # a finding would hold it for people
        ("approve", "reject", True),
        ("request-approval", "reject", True),  # a finding would reject it
        ("request-approval", "hold", False),  # people see it either way
        ("reject", "hold", False),  # nothing makes a rejection better
        ("reject", "reject", False),
    ],
)
def test_the_gate_waits_only_when_a_rule_could_change_its_decision(decision, mode, changes):
    assert could_change(GateResult(passed=decision != "reject", decision=decision), mode) is changes


def test_unfinished_rules_hold_a_version_for_people_but_never_reject_it():
    approved = GateResult(passed=True, decision="approve")
    held = with_unfinished(approved, ["training job t: Debugger rule Overfit is InProgress"], 240)
    assert (held.passed, held.decision) == (True, "request-approval")
    assert (
        held.summary()
        == "training rules: training job t: Debugger rule Overfit is InProgress after 240 min (held for people)"
    )
    assert with_unfinished(approved, [], 240) is approved
    asked = GateResult(passed=True, decision="request-approval")
    assert with_unfinished(asked, ["x"], None).decision == "request-approval"


def test_the_gate_with_rules_is_the_composition_the_request_opened_with():
    base = GateResult(passed=True, decision="approve")
    reject = Gate(on_pass="approve", training_rules="reject")
    found = gate_with_rules(base, ["training job t: rule Overfit found issues"], [], reject, {})
    assert (found.passed, found.decision) == (False, "reject")
    assert "rule Overfit found issues, FAILED" in found.summary()
    clean = gate_with_rules(base, [], [], reject, {})
    assert clean.decision == "approve"
    ignore = Gate(on_pass="approve", training_rules="ignore")
    assert gate_with_rules(base, [], ["still running"], ignore, {}).decision == "approve"


def test_the_wait_is_bounded_by_the_policy():
    assert Gate().training_rules_wait_minutes == 240
    with pytest.raises(ValueError, match="training_rules_wait_minutes"):
        Gate(training_rules_wait_minutes=-1)
