"""SageMaker Debugger and Profiler rule evaluations of a training job (pure): what the job's lineage node
keeps of them (`ruleEvaluations`), and the forward-only merge of what a later event or DescribeTrainingJob
says.

A rule is evaluated by its own processing job, which often ends after the training job: the Completed
event can say `InProgress`, and SageMaker sends no further training-job event when the rule ends. So each
rule moves on its own: InProgress → Stopping → NoIssuesFound | IssuesFound | Error | Stopped, never back,
and the first terminal status stays (a duplicate or a late report changes nothing).
"""

from __future__ import annotations

from typing import Any

TERMINAL = frozenset({"NoIssuesFound", "IssuesFound", "Error", "Stopped"})
FINDINGS = frozenset({"IssuesFound", "Error"})  # worth an alert (Error: the rule could not be evaluated)
UNREPORTED = "Unreported"  # a configured rule the event names no status for yet: not finished either
_RANK = {UNREPORTED: 0, "InProgress": 1, "Stopping": 2}
_TERMINAL_RANK = 3

# (kind as people read it, the statuses' field, the configurations' field) of a training job's detail
KINDS = (
    ("Debugger", "debug_rule_evaluation_statuses", "debug_rule_configurations"),
    ("Profiler", "profiler_rule_evaluation_statuses", "profiler_rule_configurations"),
)


def rank(entry: dict[str, Any]) -> int:
    status = entry.get("RuleEvaluationStatus")
    return _TERMINAL_RANK if status in TERMINAL else _RANK.get(str(status), 1)


def is_open(entry: dict[str, Any]) -> bool:
    """Not finished: its outcome may still be a finding."""
    return entry.get("RuleEvaluationStatus") not in TERMINAL


def evaluations(detail: Any) -> list[dict[str, Any]]:
    """The rules a training job's detail (event or DescribeTrainingJob) reports, as the node keeps them.
    A rule that is configured but has no status in the detail is kept as Unreported."""
    found: list[dict[str, Any]] = []
    for kind, statuses, configurations in KINDS:
        named = set()
        for rule in getattr(detail, statuses):
            entry = {"Kind": kind, **rule.model_dump(by_alias=True, exclude_none=True, mode="json")}
            entry["RuleConfigurationName"] = rule.rule_configuration_name or ""
            named.add(entry["RuleConfigurationName"])
            found.append(entry)
        for configured in getattr(detail, configurations):
            name = configured.rule_configuration_name
            if name and name not in named:
                named.add(name)
                found.append(
                    {"Kind": kind, "RuleConfigurationName": name, "RuleEvaluationStatus": UNREPORTED}
                )
    return found


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return str(entry.get("Kind") or ""), str(entry.get("RuleConfigurationName") or "")


def merge(
    known: list[dict[str, Any]], reported: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the rules after `reported`, the entries of `reported` that moved a rule forward or added one).
    A rule only moves to a later status; at the same rank what is known stays (duplicates are no-ops)."""
    merged = {_key(e): dict(e) for e in known if isinstance(e, dict)}
    advanced = []
    for entry in reported:
        key = _key(entry)
        if key not in merged:  # kept before rules had a kind: the same name is the same rule
            key = next((k for k in merged if k[0] == "" and k[1] == key[1]), key)
        current = merged.get(key)
        if current is not None and rank(entry) <= rank(current):
            continue
        merged.pop(key, None)
        merged[_key(entry)] = {**(current or {}), **entry}
        advanced.append(entry)
    return sorted(merged.values(), key=_key), advanced


def describe(entry: dict[str, Any]) -> str:
    """ "Debugger rule Overfit found issues", as messages and the approval page say it."""
    status = entry.get("RuleEvaluationStatus")
    said = {
        "IssuesFound": "found issues",
        "NoIssuesFound": "found no issues",
        "Error": "could not be evaluated",
        "Stopped": "was stopped",
        UNREPORTED: "has not reported a status yet",
    }.get(str(status), f"is {status}")
    return f"{entry.get('Kind') or 'Debugger'} rule {entry.get('RuleConfigurationName') or '?'} {said}"
