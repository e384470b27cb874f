"""Policy errors, and the rules across fields written once: the models call them, and parse_policy runs
them over the raw document when validation fails, so one run reports every problem."""

from __future__ import annotations

from typing import Any


class PolicyError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid policy: " + "; ".join(errors))


# --- rules across fields, written once ---------------------------------------------------------------
# pydantic runs a model's own checks only once all its fields are valid, so `steward policy validate` would
# name a cross-field problem only after the field errors were fixed. Each rule is a plain function: the
# models call it, and parse_policy also runs it over the raw document when validation fails, so one run
# reports every problem.


def threshold_problem(low: Any, high: Any) -> str | None:
    if low is None and high is None:
        return "a threshold needs min and/or max"
    if _number(low) and _number(high) and low > high:
        return "min is above max"
    return None


def quorum_problem(quorum: Any, approvers: int) -> str | None:
    if isinstance(quorum, int) and quorum > approvers:
        return f"quorum {quorum} is more than the {approvers} approvers"
    return None


def stages_problem(names: list[Any], endpoints: list[Any]) -> str | None:
    if len(names) != len(set(names)):
        return "stage names must be unique"
    if len(endpoints) != len(set(endpoints)):
        return "each stage needs its own endpoint"
    return None


def retraining_problem(enabled: Any, pipeline: Any) -> str | None:
    return "pipeline: required when retraining is enabled" if enabled is True and not pipeline else None


def integration_test_problem(requests: Any, uri: Any) -> str | None:
    return "an integration test needs requests or requests_s3_uri" if not requests and not uri else None


def route_problems(group: str, severity: str, digest: Any, webhooks: list[Any], defined: Any) -> list[str]:
    found = []
    if digest is True and severity == "critical":
        found.append(f"groups.{group}.notifications.critical.digest: critical is never held back")
    found.extend(
        f"groups.{group}.notifications.{severity}.webhooks: no webhook {name!r}"
        for name in webhooks
        if name not in defined
    )
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _raw_cross_field_problems(document: dict[str, Any]) -> list[str]:
    """The rules above over a document that did not validate: whatever parts have the right shape."""

    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def items(value: Any) -> list[Any]:
        return value if isinstance(value, list) else []

    found: list[str] = []
    groups = mapping(document.get("groups"))
    entries = [("default", "default", document.get("default"))]
    entries += [(f"groups.{name}", name, entry) for name, entry in groups.items()]
    defined = mapping(document.get("webhooks"))
    for where, name, raw in entries:
        entry = mapping(raw)
        approval = mapping(entry.get("approval"))
        if approval:
            quorum = quorum_problem(approval.get("quorum", 1), len(items(approval.get("approvers"))))
            if quorum:
                found.append(f"{where}.approval: Value error, {quorum}")
            thresholds = mapping(mapping(approval.get("gate")).get("thresholds"))
            for metric, raw_bound in thresholds.items():
                bound = mapping(raw_bound)
                problem = threshold_problem(bound.get("min"), bound.get("max"))
                if problem:
                    found.append(f"{where}.approval.gate.thresholds.{metric}: Value error, {problem}")
        stages = [mapping(stage) for stage in items(entry.get("stages"))]
        staged = stages_problem([s.get("name") for s in stages], [s.get("endpoint") for s in stages])
        if staged:
            found.append(f"{where}: Value error, {staged}")
        for index, stage in enumerate(stages):
            test = mapping(stage.get("integration_test"))
            if "integration_test" in stage and (
                problem := integration_test_problem(test.get("requests"), test.get("requests_s3_uri"))
            ):
                found.append(f"{where}.stages.{index}.integration_test: Value error, {problem}")
        retraining = mapping(mapping(entry.get("monitoring")).get("retraining"))
        retrain = retraining_problem(retraining.get("enabled"), retraining.get("pipeline"))
        if retrain:
            found.append(f"{where}.monitoring.retraining: Value error, {retrain}")
        for severity in ("info", "warning", "critical"):
            route = mapping(mapping(entry.get("notifications")).get(severity))
            webhooks = [w for w in items(route.get("webhooks")) if isinstance(w, str)]
            for problem in route_problems(name, severity, route.get("digest"), webhooks, defined):
                found.append(f"(document): Value error, {problem}")
    return found
