"""Data checks as evidence (pure): a version's SageMaker Clarify bias and explainability reports and
its DriftCheckBaselines, read into rows people can look at, and the gate's checks on them.

Clarify's analysis.json: `{"pre_training_bias_metrics"|"post_training_bias_metrics": {"facets": {FACET:
[{"value_or_threshold": V, "metrics": [{"name": "DPPL", "value": 0.02, ...}]}]}}}` for bias, and
`{"explanations": {"kernel_shap": {LABEL: {"global_shap_values": {FEATURE: mean |SHAP|}}}}}` (or the
values directly under "kernel_shap") for explainability. What cannot be read is said, not guessed.
"""

from __future__ import annotations

import math
from typing import Any

from steward.approvals.gate import Check, GateResult
from steward.policy import Gate

MAX_ROWS = 200
REPORT_SECTIONS = ("Bias.", "Explainability.")  # ModelMetrics paths read as evidence, not as metrics
TOP_FEATURES = 10


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def bias_rows(document: Any) -> list[dict[str, Any]]:
    """Every (stage, facet, facet value, metric, value) of a Clarify bias report."""
    rows: list[dict[str, Any]] = []
    if not isinstance(document, dict):
        raise ValueError("a bias report is a JSON object")  # noqa: TRY004 (bad input, not a bug)
    for stage in ("pre_training", "post_training"):
        section = document.get(f"{stage}_bias_metrics")
        facets = section.get("facets") if isinstance(section, dict) else None
        if not isinstance(facets, dict):
            continue
        for facet, groups in facets.items():
            for group in groups if isinstance(groups, list) else []:
                if not isinstance(group, dict):
                    continue
                for metric in group.get("metrics") or []:
                    value = _number(metric.get("value")) if isinstance(metric, dict) else None
                    if value is None or not isinstance(metric.get("name"), str):
                        continue
                    rows.append(
                        {
                            "stage": stage,
                            "facet": str(facet)[:100],
                            "facetValue": str(group.get("value_or_threshold", ""))[:100],
                            "metric": metric["name"][:40],
                            "value": value,
                        }
                    )
    return rows[:MAX_ROWS]


def feature_rows(document: Any) -> list[dict[str, Any]]:
    """The top features by mean |SHAP| (over every label), with their share of the total."""
    if not isinstance(document, dict):
        raise ValueError("an explainability report is a JSON object")  # noqa: TRY004
    shap = (
        (document.get("explanations") or {}).get("kernel_shap")
        if isinstance(document.get("explanations"), dict)
        else None
    )
    if not isinstance(shap, dict):
        raise ValueError("no explanations.kernel_shap in the explainability report")  # noqa: TRY004
    labels = [shap] if "global_shap_values" in shap else [v for v in shap.values() if isinstance(v, dict)]
    totals: dict[str, float] = {}
    for label in labels:
        values = label.get("global_shap_values")
        for feature, value in values.items() if isinstance(values, dict) else []:
            number = _number(value)
            if number is not None:
                totals[str(feature)[:100]] = totals.get(str(feature)[:100], 0.0) + abs(number)
    whole = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FEATURES]
    return [
        {"feature": f, "meanAbsShap": round(v, 6), "share": round(v / whole, 4) if whole else None}
        for f, v in ranked
    ]


def baselines(drift_check_baselines: Any) -> dict[str, str]:
    """DriftCheckBaselines' S3 URIs by path, e.g. {"ModelQuality.Constraints": "s3://..."}."""
    found: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            uri = node.get("S3Uri")
            if isinstance(uri, str) and uri.startswith("s3://"):
                found[path] = uri[:1024]
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))

    walk(drift_check_baselines, "")
    return dict(sorted(found.items())[:50])


def lines(evidence: dict[str, Any]) -> list[str]:
    """What the approval page and the audit report show under "Data checks"."""
    shown = [
        f"bias ({r['stage'].replace('_', '-')}) {r['metric']} for {r['facet']}={r['facetValue']}: "
        f"{r['value']:.4g}"
        for r in evidence.get("bias") or []
    ][:30]
    features = evidence.get("explainability") or []
    if features:
        shown.append(
            "top features by mean |SHAP|: "
            + ", ".join(
                f"{f['feature']} {f['share']:.0%}" if f.get("share") is not None else f["feature"]
                for f in features[:5]
            )
        )
    shown += [
        f"drift-check baseline {path}: {uri}" for path, uri in (evidence.get("driftBaselines") or {}).items()
    ]
    shown += [f"not read: {p}" for p in evidence.get("problems") or []]
    return [line[:400] for line in shown]


def _bias_check(name: str, bound: Any, rows: list[dict[str, Any]]) -> Check:
    stage, _, metric = name.rpartition(".")
    stage = stage or "post_training"
    mine = [r for r in rows if r["metric"] == metric and r["stage"] == stage]
    parts = []
    if bound.max_abs is not None:
        parts.append(f"|x| <= {bound.max_abs:g}")
    if bound.min is not None:
        parts.append(f">= {bound.min:g}")
    if bound.max is not None:
        parts.append(f"<= {bound.max:g}")
    rule = " and ".join(parts)
    if not mine:
        return Check(metric=f"bias {name}", value=None, passed=False, rule=f"{rule}: not in the bias report")

    def miss(value: float) -> float:
        """How far outside the bounds (0 inside)."""
        out = 0.0
        if bound.max_abs is not None:
            out = max(out, abs(value) - bound.max_abs)
        if bound.min is not None:
            out = max(out, bound.min - value)
        if bound.max is not None:
            out = max(out, value - bound.max)
        return out

    worst = max(mine, key=lambda r: (miss(r["value"]), abs(r["value"])))
    return Check(
        metric=f"bias {name}",
        value=worst["value"],
        passed=miss(worst["value"]) <= 0,
        rule=f"{rule} for every facet (worst {worst['facet']}={worst['facetValue']})",
    )


def checks(evidence: dict[str, Any], gate: Gate) -> list[Check]:
    wanted = gate.data_checks
    found = [
        _bias_check(name, bound, evidence.get("bias") or []) for name, bound in sorted(wanted.bias.items())
    ]
    if wanted.max_top_feature_share is not None:
        features = evidence.get("explainability") or []
        top: dict[str, Any] = features[0] if features else {}
        share = top.get("share")
        found.append(
            Check(
                metric="top feature share",
                value=share,
                passed=share is not None and share <= wanted.max_top_feature_share,
                rule=f"<= {wanted.max_top_feature_share:g}"
                + (f" ({top['feature']})" if top else ": no explainability report"),
            )
        )
    if wanted.require_drift_baselines:
        present = {path.split(".", 1)[0] for path in evidence.get("driftBaselines") or {}}
        missing = [b for b in wanted.require_drift_baselines if b not in present]
        found.append(
            Check(
                metric="drift-check baselines",
                value=None,
                passed=not missing,
                rule=("missing: " + ", ".join(missing))
                if missing
                else "present: " + ", ".join(wanted.require_drift_baselines),
                finding=True,
            )
        )
    return found


def with_data_checks(result: GateResult, evidence: dict[str, Any], gate: Gate) -> GateResult:
    """The gate's result with the data checks the policy asks for; any failing one fails the gate."""
    extra = checks(evidence, gate)
    if not extra:
        return result
    passed = result.passed and all(c.passed for c in extra)
    decision = result.decision if passed else gate.on_fail
    return GateResult(passed=passed, checks=[*result.checks, *extra], decision=decision)
