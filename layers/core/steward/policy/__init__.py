"""The policy document (README "Policy"): one validated model, a default entry and one per model group.

Loaded from, in order: STEWARD_POLICY_JSON (the sandbox, tests), the SSM parameter named by
POLICY_PARAMETER (Powertools Parameters, cached), else the default shipped with the layer. A bad
policy raises PolicyError naming each bad field; nothing is half-applied.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from steward.policy.models import (
    DRIFT_BASELINES,
    ApprovalPolicy,
    Approver,
    BiasBound,
    DataChecks,
    Gate,
    GroupPolicy,
    IntegrationTest,
    MonitoringPolicy,
    Policy,
    ProductionComparison,
    PromotionPolicy,
    Retraining,
    Route,
    Routes,
    SampleRequest,
    Severity,
    Stage,
    Strict,
    Threshold,
    Webhook,
)
from steward.policy.rules import (
    PolicyError,
    _raw_cross_field_problems,
    integration_test_problem,
    quorum_problem,
    retraining_problem,
    route_problems,
    stages_problem,
    threshold_problem,
)

__all__ = [
    "DEFAULT_POLICY_FILE",
    "DRIFT_BASELINES",
    "ApprovalPolicy",
    "Approver",
    "BiasBound",
    "DataChecks",
    "Gate",
    "GroupPolicy",
    "IntegrationTest",
    "MonitoringPolicy",
    "Policy",
    "PolicyError",
    "ProductionComparison",
    "PromotionPolicy",
    "Retraining",
    "Route",
    "Routes",
    "SampleRequest",
    "Severity",
    "Stage",
    "Strict",
    "Threshold",
    "Webhook",
    "integration_test_problem",
    "load_policy",
    "parse_policy",
    "quorum_problem",
    "retraining_problem",
    "route_problems",
    "stages_problem",
    "threshold_problem",
]

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy_default.yaml")


def parse_policy(document: Any) -> Policy:
    """Validate a policy document (a dict, or JSON/YAML text); PolicyError lists every bad field."""
    if isinstance(document, str | bytes):
        text = document.decode() if isinstance(document, bytes) else document
        try:
            document = json.loads(text)
        except ValueError:
            import yaml

            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise PolicyError([f"(document): not JSON or YAML: {str(exc)[:200]}"]) from None
    if not isinstance(document, dict):
        raise PolicyError(["(document): a policy is a mapping"])
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        errors = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        reported = "\n".join(errors)
        # Cross-field rules of the parts pydantic did not get to check (a model with a bad field skips its
        # own checks), so one run names every problem. Ones pydantic already named are not repeated.
        for problem in _raw_cross_field_problems(document):
            text = problem.split(": Value error, ", 1)[1]
            if text not in reported:
                errors.append(problem)
                reported += "\n" + text
        raise PolicyError(errors) from None


@lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return parse_policy(DEFAULT_POLICY_FILE.read_text())


def load_policy() -> Policy:
    """The policy in force for this invocation (cached by Powertools Parameters for SSM)."""
    inline = os.environ.get("STEWARD_POLICY_JSON")
    if inline:
        return parse_policy(inline)
    parameter = os.environ.get("POLICY_PARAMETER")
    if parameter:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_parameter(parameter, max_age=300)
        if value and value.strip() not in ("", "default"):
            return parse_policy(value)
    return _default_policy()
