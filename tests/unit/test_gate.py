"""The quality gate: thresholds, comparison with production, metric report formats."""

from __future__ import annotations

import pytest

from steward.approvals.gate import evaluate, flatten_metrics
from steward.policy import Gate, PolicyError, parse_policy

GATE = Gate.model_validate(
    {
        "thresholds": {"auc": {"min": 0.88}, "latency_p99_ms": {"max": 120}},
        "compare_with_production": {"metric": "auc", "min_improvement": 0.0},
    }
)


def test_sagemaker_model_quality_and_pipeline_report_formats_flatten():
    quality = {"binary_classification_metrics": {"auc": {"value": 0.913, "standard_deviation": 0.01}}}
    assert flatten_metrics(quality)["auc"] == 0.913
    assert flatten_metrics({"metrics": {"auc": {"value": "0.9"}}, "n": True})["auc"] == 0.9
    assert flatten_metrics({"auc": 0.91, "bad": float("nan")}) == {"auc": 0.91}


def test_passes_thresholds_and_beats_production():
    result = evaluate({"auc": 0.913, "latency_p99_ms": 80}, {"auc": 0.897}, GATE)
    assert result.passed and result.decision == "request-approval"
    comparison = result.checks[-1]
    assert comparison.production == 0.897 and comparison.difference == pytest.approx(0.016)


def test_fails_an_absolute_threshold_with_the_numbers_in_the_summary():
    result = evaluate({"auc": 0.842, "latency_p99_ms": 80}, None, GATE)
    assert not result.passed and result.decision == "reject"
    assert "auc=0.842 (>= 0.88, FAILED)" in result.summary()


def test_worse_than_production_fails_and_missing_metric_fails():
    assert not evaluate({"auc": 0.89, "latency_p99_ms": 80}, {"auc": 0.9}, GATE).passed
    assert not evaluate({"latency_p99_ms": 80}, None, GATE).passed


def test_lower_is_better_comparison():
    gate = Gate.model_validate({"compare_with_production": {"metric": "rmse", "higher_is_better": False}})
    assert evaluate({"rmse": 0.9}, {"rmse": 1.0}, gate).passed
    assert not evaluate({"rmse": 1.1}, {"rmse": 1.0}, gate).passed


@pytest.mark.parametrize(
    ("approval", "field"),
    [
        ({"approvers": [{"email": "a@example.com"}], "quorum": 2}, "default.approval"),
        ({"approvers": []}, "default.approval.approvers"),
        ({"approvers": [{"email": "nope"}]}, "default.approval.approvers.0.email"),
        (
            {"approvers": [{"email": "a@example.com", "slack_user_id": "bob"}]},
            "default.approval.approvers.0.slack_user_id",
        ),
        (
            {"approvers": [{"email": "a@example.com"}], "gate": {"thresholds": {"auc": {}}}},
            "default.approval.gate.thresholds.auc",
        ),
        ({"approvers": [{"email": "a@example.com"}], "on_expiry": "explode"}, "default.approval.on_expiry"),
    ],
)
def test_bad_approval_policy_names_the_field(approval, field):
    with pytest.raises(PolicyError) as caught:
        parse_policy({"default": {"approval": approval}})
    assert any(e.startswith(field) for e in caught.value.errors), caught.value.errors


@pytest.mark.parametrize(
    ("margin", "higher", "text", "value", "passes"),
    [
        (0.0, True, "no lower", 0.90, True),
        (0.02, True, "+0.02 needed", 0.91, False),
        (-0.05, True, "at most 0.05 lower", 0.86, True),  # a loss allowed: never "+-0.05 needed"
        (-0.05, True, "at most 0.05 lower", 0.84, False),
        (0.1, False, "-0.1 needed", 0.79, True),
        (-0.1, False, "at most 0.1 higher", 0.99, True),
    ],
)
def test_the_production_rule_reads_as_it_decides(margin, higher, text, value, passes):
    gate = Gate.model_validate(
        {"compare_with_production": {"metric": "m", "higher_is_better": higher, "min_improvement": margin}}
    )
    result = evaluate({"m": value}, {"m": 0.9}, gate)
    assert result.checks[-1].rule == f"vs production 0.9, {text}"
    assert "+-" not in result.summary() and "--" not in result.summary()
    assert result.passed is passes
