"""Training rules still running when a version is registered (pure; README "Approvals").

SageMaker Debugger and Profiler rules are evaluated by their own processing jobs, which often end after
the training job: the version can be registered while its training job's rules say `InProgress`. Such a
rule is not "no issues". When the policy weighs the rules (`training_rules: hold | reject`) and an
unfinished rule could still change the gate's decision, the request waits (no approver is asked, nothing
is written to the registry) up to `training_rules_wait_minutes`; the reconciler reads the rules from
DescribeTrainingJob as they end, and the approvals sweep re-gates the request with what they found. Past
the bound, the rules still unfinished hold the version for people (never auto-approved, never rejected
for a finding nobody saw). A request already with people when a finding arrives is rejected by the gate
(`reject`) or keeps waiting for its approvers with the finding shown (`hold`); either way its approvers
are told. A request already decided is left as it is: the finding's alert says the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from steward.approvals.evidence import with_data_checks
from steward.approvals.gate import Check, GateResult, with_training_rules
from steward.lineage.rules import describe, is_open
from steward.policy import Gate


class RulesWatch(BaseModel):
    """What a request keeps while its training job's rules have not all finished."""

    model_config = ConfigDict(defer_build=True)

    mode: Literal["hold", "reject"]
    jobs: list[str]  # the training-job nodes upstream of the version
    until: datetime  # the gate waits for the rules until then
    asked: bool = False  # the version is with people: no more waiting, findings are told to them
    unfinished: list[str] = Field(default_factory=list)  # as last seen
    findings: list[str] = Field(default_factory=list)  # as the request shows them
    base: GateResult  # thresholds and the comparison with production, before rules and data checks
    gate: Gate  # the policy's gate when the request opened
    production: str | None = None  # the version compared with (the approvers' message names it)


def job_rules(node: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(findings, unfinished rules) of one training-job node, as the approval page lists them."""
    name = node.get("name")
    rules = [r for r in node.get("ruleEvaluations") or [] if isinstance(r, dict)]
    findings = [
        f"training job {name}: rule {r.get('RuleConfigurationName')} found issues"
        for r in rules
        if r.get("RuleEvaluationStatus") == "IssuesFound"
    ]
    unfinished = [f"training job {name}: {describe(r)}" for r in rules if is_open(r)]
    return findings, unfinished


def job_rule_results(node: dict[str, Any]) -> list[str]:
    """The other finished rules of one training-job node, as the approval page lists them beside the
    findings: those that found no issues (one line), and each that ended without a verdict (Error,
    Stopped)."""
    name = node.get("name")
    rules = [r for r in node.get("ruleEvaluations") or [] if isinstance(r, dict)]
    clean = sorted(
        str(r.get("RuleConfigurationName")) for r in rules if r.get("RuleEvaluationStatus") == "NoIssuesFound"
    )
    lines = (
        [f"training job {name}: rule{'s' if len(clean) > 1 else ''} {', '.join(clean)} found no issues"]
        if clean
        else []
    )
    return lines + [
        f"training job {name}: rule {r.get('RuleConfigurationName')} ended {r.get('RuleEvaluationStatus')}"
        for r in rules
        if r.get("RuleEvaluationStatus") in ("Error", "Stopped")
    ]


def rules_state(nodes: Iterable[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(findings, unfinished rules) of the training jobs, each sorted."""
    findings: list[str] = []
    unfinished: list[str] = []
    for node in nodes:
        found, running = job_rules(node)
        findings += found
        unfinished += running
    return sorted(findings), sorted(unfinished)


def could_change(gate: GateResult, mode: str) -> bool:
    """Whether a rule still running could change the gate's decision (otherwise nothing waits)."""
    if gate.decision == "reject":
        return False  # no finding makes it better
    return not (mode == "hold" and gate.decision == "request-approval")  # people see it anyway


def with_unfinished(result: GateResult, unfinished: list[str], waited: float | None) -> GateResult:
    """Rules still running hold the version for people (`waited`: the minutes the gate waited for them;
    None: it did not wait, the rules could not change its decision)."""
    if not unfinished:
        return result
    when = f" after {waited:g} min" if waited is not None else " at registration"
    check = Check(
        metric="training rules",
        value=None,
        passed=True,
        rule=("; ".join(unfinished)[:400] + f"{when} (held for people)"),
        finding=True,
    )
    decision = "request-approval" if result.decision == "approve" else result.decision
    return GateResult(passed=result.passed, checks=[*result.checks, check], decision=decision)


def gate_with_rules(
    base: GateResult,
    findings: list[str],
    unfinished: list[str],
    gate: Gate,
    evidence: dict[str, Any],
    waited: float | None = None,
) -> GateResult:
    """The gate's result with the training rules as they are now (unfinished ones hold it for people),
    then the data checks: the same composition the request was opened with."""
    result = with_training_rules(base, findings, gate)
    if gate.training_rules != "ignore":
        result = with_unfinished(result, unfinished, waited)
    return with_data_checks(result, evidence, gate)
