"""Data checks as evidence (pure): Clarify bias and explainability reports and drift-check baselines
read into rows, and the gate's checks on them."""

from __future__ import annotations

import pytest

from steward.approvals import evidence
from steward.approvals.gate import GateResult
from steward.policy import Gate, PolicyError, parse_policy

BIAS = {
    "version": "1.0",
    "pre_training_bias_metrics": {
        "label": "churn",
        "facets": {"gender": [{"value_or_threshold": "female", "metrics": [{"name": "CI", "value": -0.31}]}]},
    },
    "post_training_bias_metrics": {
        "label": "churn",
        "facets": {
            "gender": [
                {
                    "value_or_threshold": "female",
                    "metrics": [{"name": "DPPL", "value": 0.04}, {"name": "DI", "value": 0.92}],
                },
                {
                    "value_or_threshold": "male",
                    "metrics": [{"name": "DPPL", "value": -0.13}, {"name": "DI", "value": 1.3}],
                },
            ],
            "age": [
                {
                    "value_or_threshold": "(40, 120]",
                    "metrics": [{"name": "DPPL", "value": 0.02}, {"name": "X", "value": None}],
                }
            ],
        },
    },
}
SHAP = {
    "explanations": {
        "kernel_shap": {"label0": {"global_shap_values": {"tenure": 0.3, "charges": 0.1, "id": 0.6}}}
    }
}


def gate(**data_checks) -> Gate:
    return Gate.model_validate({"data_checks": data_checks, "on_fail": "reject"})


def test_bias_rows_cover_every_stage_facet_and_value_and_skip_what_is_not_a_number() -> None:
    rows = evidence.bias_rows(BIAS)
    assert len(rows) == 6
    assert {
        "stage": "pre_training",
        "facet": "gender",
        "facetValue": "female",
        "metric": "CI",
        "value": -0.31,
    } in rows
    with pytest.raises(ValueError, match="JSON object"):
        evidence.bias_rows([1, 2])


def test_features_are_ranked_with_their_share_of_the_whole() -> None:
    rows = evidence.feature_rows(SHAP)
    assert [(r["feature"], r["share"]) for r in rows] == [("id", 0.6), ("tenure", 0.3), ("charges", 0.1)]
    flat = {"explanations": {"kernel_shap": {"global_shap_values": {"a": -1.0, "b": 3.0}}}}
    assert evidence.feature_rows(flat)[0] == {"feature": "b", "meanAbsShap": 3.0, "share": 0.75}
    with pytest.raises(ValueError, match="kernel_shap"):
        evidence.feature_rows({"explanations": {}})


def test_a_bias_bound_holds_for_every_facet_and_names_the_worst() -> None:
    found = {"bias": evidence.bias_rows(BIAS)}
    [di, dppl, ci] = evidence.checks(  # by name
        found,
        gate(
            bias={
                "DPPL": {"max_abs": 0.1},
                "DI": {"min": 0.8, "max": 1.25},
                "pre_training.CI": {"max_abs": 0.5},
            }
        ),
    )
    assert (dppl.passed, dppl.value) == (False, -0.13) and "worst gender=male" in dppl.rule
    assert (di.passed, di.value) == (False, 1.3)
    assert ci.passed and ci.metric == "bias pre_training.CI"


def test_a_bound_on_a_metric_the_report_lacks_fails() -> None:
    [check] = evidence.checks({"bias": []}, gate(bias={"DPPL": {"max_abs": 0.1}}))
    assert not check.passed and "not in the bias report" in check.rule


def test_top_feature_share_and_required_baselines() -> None:
    found = {
        "explainability": evidence.feature_rows(SHAP),
        "driftBaselines": evidence.baselines({"ModelQuality": {"Constraints": {"S3Uri": "s3://b/c.json"}}}),
    }
    [share, baselines] = evidence.checks(
        found, gate(max_top_feature_share=0.5, require_drift_baselines=["ModelQuality", "Bias"])
    )
    assert not share.passed and share.value == 0.6 and "(id)" in share.rule
    assert not baselines.passed and baselines.rule == "missing: Bias"
    assert found["driftBaselines"] == {"ModelQuality.Constraints": "s3://b/c.json"}


def test_the_gate_fails_on_a_failing_data_check_and_is_unchanged_without_any() -> None:
    passed = GateResult(passed=True, checks=[], decision="approve")
    failing = evidence.with_data_checks(
        passed, {"bias": evidence.bias_rows(BIAS)}, gate(bias={"DPPL": {"max_abs": 0.01}})
    )
    assert not failing.passed and failing.decision == "reject"
    assert evidence.with_data_checks(passed, {}, gate()) is passed


def test_lines_show_what_was_read_and_what_was_not() -> None:
    shown = evidence.lines(
        {
            "bias": evidence.bias_rows(BIAS)[:1],
            "explainability": evidence.feature_rows(SHAP),
            "driftBaselines": {"Bias.PostTrainingConstraints": "s3://b/post.json"},
            "problems": ["Explainability.Report s3://b/x.json: NoSuchKey"],
        }
    )
    assert shown == [
        "bias (pre-training) CI for gender=female: -0.31",
        "top features by mean |SHAP|: id 60%, tenure 30%, charges 10%",
        "drift-check baseline Bias.PostTrainingConstraints: s3://b/post.json",
        "not read: Explainability.Report s3://b/x.json: NoSuchKey",
    ]


def test_the_policy_names_what_is_wrong_in_data_checks() -> None:
    approval = {"approvers": [{"email": "a@example.com"}]}
    with pytest.raises(PolicyError) as problem:
        parse_policy(
            {
                "default": {
                    "approval": {
                        **approval,
                        "gate": {
                            "data_checks": {
                                "bias": {"DP PL": {"max": 1}, "DI": {}},
                                "max_top_feature_share": 2,
                                "require_drift_baselines": ["Nope"],
                            }
                        },
                    }
                }
            }
        )
    text = str(problem.value)
    for needle in ("max_top_feature_share", "require_drift_baselines"):
        assert needle in text, text
