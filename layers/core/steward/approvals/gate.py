"""The quality gate: a candidate's metrics against absolute thresholds and against production (pure)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.policy import Gate, ProductionComparison


class Check(BaseModel):
    model_config = ConfigDict(defer_build=True)

    metric: str
    value: float | None
    passed: bool
    rule: str  # e.g. ">= 0.88", "vs production +0.005"
    production: float | None = None
    difference: float | None = None
    finding: bool = False  # not a number: a finding such as a Debugger rule's (the rule says it)


class GateResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    passed: bool
    checks: list[Check] = Field(default_factory=list)
    decision: str  # approve | reject | request-approval

    def failing(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        """One line for ApprovalDescription and messages: the numbers that decided."""
        parts = []
        for c in self.checks:
            shown = f"{c.metric}: {c.rule}" if c.finding else f"{c.metric}={_fmt(c.value)} ({c.rule}"
            text = f"{shown}{'' if c.passed else ', FAILED'}" + ("" if c.finding else ")")
            parts.append(text)
        return "; ".join(parts) or "no gate configured"


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def flatten_metrics(document: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a metrics report, by dotted path, plus the short name of each.

    Handles SageMaker's model-quality format ({"binary_classification_metrics": {"auc": {"value": 0.91}}})
    and pipeline evaluation reports ({"metrics": {"auc": {"value": 0.91}}} or {"auc": 0.91}).
    """
    found: dict[str, float] = {}
    if isinstance(document, dict):
        if "value" in document and _number(document["value"]) is not None and prefix:
            found[prefix] = _number(document["value"])  # type: ignore[assignment]
        for key, child in document.items():
            if key == "value":
                continue
            found.update(flatten_metrics(child, f"{prefix}.{key}" if prefix else str(key)))
    elif _number(document) is not None and prefix:
        found[prefix] = _number(document)  # type: ignore[assignment]
    short: dict[str, float] = {}
    for path, value in found.items():
        name = path.rsplit(".", 1)[-1]
        if name in ("standard_deviation", "value"):
            continue
        short.setdefault(name, value)
    return {**short, **found}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def evaluate(metrics: dict[str, float], production: dict[str, float] | None, gate: Gate) -> GateResult:
    """Absolute thresholds, then the comparison with production (skipped when nothing serves yet)."""
    checks: list[Check] = []
    for name, threshold in sorted(gate.thresholds.items()):
        value = metrics.get(name)
        ok = value is not None
        rules = []
        if threshold.min is not None:
            rules.append(f">= {threshold.min:g}")
            ok = ok and value is not None and value >= threshold.min
        if threshold.max is not None:
            rules.append(f"<= {threshold.max:g}")
            ok = ok and value is not None and value <= threshold.max
        checks.append(Check(metric=name, value=value, passed=ok, rule=" and ".join(rules)))
    comparison = gate.compare_with_production
    if comparison is not None:
        value = metrics.get(comparison.metric)
        baseline = (production or {}).get(comparison.metric)
        if baseline is None:
            checks.append(
                Check(
                    metric=comparison.metric,
                    value=value,
                    passed=value is not None,
                    rule="no production version to compare with",
                )
            )
        else:
            difference = None if value is None else value - baseline
            gain = (
                None if difference is None else (difference if comparison.higher_is_better else -difference)
            )
            ok = gain is not None and gain >= comparison.min_improvement
            checks.append(
                Check(
                    metric=comparison.metric,
                    value=value,
                    production=baseline,
                    difference=difference,
                    passed=ok,
                    rule=f"vs production {baseline:.4g}, {_margin_text(comparison)}",
                )
            )
    passed = all(c.passed for c in checks)
    decision = gate.on_pass if passed else gate.on_fail
    return GateResult(passed=passed, checks=checks, decision=decision)


def _margin_text(comparison: ProductionComparison) -> str:
    """The rule in words: "no lower", "+0.02 needed", or for a loss allowed "at most 0.05 lower"."""
    margin, higher = comparison.min_improvement, comparison.higher_is_better
    if margin == 0:
        return "no lower" if higher else "no higher"
    if margin > 0:
        return f"{'+' if higher else '-'}{margin:g} needed"
    return f"at most {-margin:g} {'lower' if higher else 'higher'}"


def with_training_rules(result: GateResult, findings: list[str], gate: Gate) -> GateResult:
    """The gate's result once the training job's Debugger/Profiler findings are weighed as the policy
    says: `reject` fails the gate, `hold` keeps the version for people (never auto-approved)."""
    if not findings or gate.training_rules == "ignore":
        return result
    held = gate.training_rules == "hold"
    check = Check(
        metric="training rules",
        value=None,
        passed=held,
        rule="; ".join(findings)[:500] + (" (held for people)" if held else ""),
        finding=True,
    )
    checks = [*result.checks, check]
    passed = result.passed and held
    decision: str
    if not passed:
        decision = gate.on_fail
    elif held and result.decision == "approve":
        decision = "request-approval"
    else:
        decision = result.decision
    return GateResult(passed=passed, checks=checks, decision=decision)
