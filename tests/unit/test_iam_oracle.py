"""The sandbox's IAM evaluator against an independent one (README "IAM in the sandbox").

The oracle is @cloud-copilot/iam-simulate (npm, pinned in tests/iam_oracle/package-lock.json; test-only,
installed by `make test` / `make iam-oracle` into tests/iam_oracle/node_modules, never part of the stack),
a simulator of AWS's policy evaluation with every condition operator. Generated statement/request pairs
(tests/unit/iam_cases.py; a seed fixes them) must get the same verdict from both: allowed, explicitly
denied or implicitly denied. Where the two differ on purpose, the case is pinned below with both answers
and the reason. STEWARD_IAM_ORACLE_SEED / STEWARD_IAM_ORACLE_CASES choose another set (`make iam-oracle`
runs 20,000); without node the test fails in CI and is skipped elsewhere (STEWARD_SKIP_IAM_ORACLE=1 skips it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sandbox.iam import evaluate, request, statements_of
from tests.unit.iam_cases import ACCOUNT, generate

ORACLE = Path(__file__).resolve().parents[1] / "iam_oracle"
HINT = "the IAM oracle is not installed: `make iam-oracle` (npm ci in tests/iam_oracle; `make test` does it)"
SEED = int(os.environ.get("STEWARD_IAM_ORACLE_SEED", "18"))
CASES = int(os.environ.get("STEWARD_IAM_ORACLE_CASES", "2000"))


@pytest.fixture(scope="module")
def oracle():
    if os.environ.get("STEWARD_SKIP_IAM_ORACLE") == "1":
        pytest.skip("STEWARD_SKIP_IAM_ORACLE=1: the IAM oracle cross-check skipped on request")
    node = shutil.which("node")
    if node is None or not (ORACLE / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        if os.environ.get("CI"):
            pytest.fail(HINT, pytrace=False)
        pytest.skip(HINT)

    def verdicts(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [node, "evaluate.mjs"],
            cwd=ORACLE,
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    return verdicts


def ours(case: dict[str, Any]) -> str:
    decision = evaluate(
        statements_of({"Statement": case["statements"]}, "role"),
        request(case["action"], case["resource"], **case["context"]),
    )
    return "Allowed" if decision.allowed else "ExplicitlyDenied" if decision.denied_by else "ImplicitlyDenied"


def _operators(cases: list[dict[str, Any]]) -> Counter[str]:
    found: Counter[str] = Counter()
    for case in cases:
        for statement in case["statements"]:
            found.update(f"{statement['Effect']} {k}" for k in statement if k.startswith("Not"))
            for operator in statement.get("Condition") or {}:
                qualifier, _, name = operator.rpartition(":")
                found.update([name.removesuffix("IfExists"), qualifier or "-"])
                found.update(["IfExists"] if name.endswith("IfExists") else [])
    return found


def test_the_evaluator_agrees_with_the_oracle_on_generated_statements_and_requests(oracle):
    print(
        f"IAM oracle cross-check: seed {SEED}, {CASES} cases (STEWARD_IAM_ORACLE_SEED, STEWARD_IAM_ORACLE_CASES)"
    )
    cases = generate(SEED, CASES)
    # Given a set that exercises every operator the evaluator supports, both kinds of Not and of effect
    used = _operators(cases)
    supported = {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
        "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "NumericEquals", "NumericNotEquals",
        "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
        "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool",
        "Null", "ForAnyValue", "ForAllValues", "IfExists", "Allow NotAction", "Allow NotResource",
        "Deny NotAction", "Deny NotResource",
    }  # fmt: skip
    if CASES >= 2000:
        assert {k for k in supported if used[k] >= 5} == supported, sorted(supported - set(used))
    # When both evaluate them
    answers = oracle(cases)
    refused = [(c, a) for c, a in zip(cases, answers, strict=True) if "error" in a]
    assert refused == []  # every case is one the oracle accepts (real actions, keys, resource types)
    theirs = [a["verdict"] for a in answers]
    # Then every verdict is the same, and the set is not lopsided
    counts = Counter(theirs)
    assert all(counts[v] >= CASES // 10 for v in ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")), counts
    differ = [(c, mine, t) for c, t in zip(cases, theirs, strict=True) if (mine := ours(c)) != t]
    assert [f"ours {m}, oracle {t}: {json.dumps(c)}" for c, m, t in differ[:5]] == [], f"{len(differ)} differ"


TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/steward-local-lineage"


def _case(statement: dict[str, Any], resource: str = TABLE, **context: Any) -> dict[str, Any]:
    return {"statements": [statement], "action": "dynamodb:GetItem", "resource": resource, "context": context}


# Where the sandbox answers otherwise than the oracle, on purpose: (case, ours, the oracle's, why).
DIFFERENCES = [
    pytest.param(
        _case(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": f"arn:aws:dynamo*:{ACCOUNT}:table/steward-local-lineage",
            }
        ),
        "Allowed",
        "ImplicitlyDenied",
        id="a-star-ending-a-segment-runs-past-colons",
        # IAM's Resource reference: "if the * wildcard is the last character of a resource ARN segment, it
        # can expand to match beyond the colon boundaries". The oracle keeps every * inside its segment.
    ),
    pytest.param(
        _case({"Effect": "Allow", "Action": "*", "Resource": TABLE.replace("us-east-1", "US-EAST-1")}),
        "ImplicitlyDenied",
        "Allowed",
        id="arn-segments-are-case-sensitive",
        # The oracle compares partition, service, region and account without case; the sandbox compares the
        # whole ARN with case, as IAM documents for Resource. No template writes a region in capitals.
    ),
    pytest.param(
        _case(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateEquals": {"aws:EpochTime": "2026-11-27T03:01:22Z"}},
            },
            **{"aws:EpochTime": "1795748482"},
        ),
        "Allowed",
        "ImplicitlyDenied",
        id="epoch-seconds-equal-the-same-iso-instant",
        # 1795748482 s after the epoch is 2026-11-27T03:01:22Z. The oracle reads an epoch value as seconds
        # and an ISO-8601 one as milliseconds (JavaScript's Date.parse), so the two never compare equal.
    ),
]


@pytest.mark.parametrize(("case", "mine", "theirs"), DIFFERENCES)
def test_the_deliberate_differences_from_the_oracle(oracle, case, mine, theirs):
    assert ours(case) == mine
    # still the oracle's answer: when it changes, the README's list of differences is out of date
    assert oracle([case]) == [{"verdict": theirs}]
