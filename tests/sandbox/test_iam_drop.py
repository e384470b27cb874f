"""Removing any one statement a function needs makes a run fail with AccessDenied naming the action and the
resource (issue 18; README "IAM in the sandbox", the drop test).

What a function needs is taken from a run: a scenario of tests/sandbox/iam_scenarios.py runs with usage
collected, and each statement that alone allowed some request of it is needed. The scenario then runs
again without that statement (`sandbox.iam.dropping`): it must fail, and the AccessDenied it got must name
an action and a resource the statement granted. `make test` checks a sample: STEWARD_IAM_DROP_SAMPLE
scenarios (default 2) drawn with a seed (STEWARD_IAM_DROP_SEED, default today's date, printed), one
needed statement of each. `make iam-drop` (STEWARD_IAM_DROP_SAMPLE=all) checks every needed statement of
every function, each in the fastest scenario that needs it.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime

from sandbox.iam import AccessDeniedError
from tests.sandbox import iam_scenarios

# Scenarios of well under a second: what the sample draws from (the others take one to several).
FAST = (
    "lineage-page", "status-dlq", "slack-buttons", "reconcile-every-kind", "backfill-tuning-job", "retraining",
    "refused-events", "failures-past-retries",
)  # fmt: skip
SEED = int(os.environ.get("STEWARD_IAM_DROP_SEED") or datetime.now(UTC).strftime("%Y%m%d"))
SAMPLE = os.environ.get("STEWARD_IAM_DROP_SAMPLE", "2")


def _cases(rng: random.Random) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    """(scenario, function, statement key, the statement's grants) to drop, each needed by its scenario."""
    exhaustive = SAMPLE == "all"
    names = list(iam_scenarios.SCENARIOS) if exhaustive else rng.sample(FAST, int(SAMPLE))
    found: dict[tuple[str, str], tuple[float, str, list[tuple[str, str]]]] = {}
    for name in names:
        baseline = iam_scenarios.run(name)
        assert baseline.error is None and baseline.usage.denials == [], (name, baseline.error)
        needed = sorted(iam_scenarios.needed(baseline.usage))
        assert needed, f"{name} needs no statement"
        for function, key in needed if exhaustive else [rng.choice(needed)]:
            units = baseline.usage.functions[function].granted[key]
            if (function, key) not in found or baseline.seconds < found[(function, key)][0]:
                found[(function, key)] = (baseline.seconds, name, units)
    return [(name, function, key, units) for (function, key), (_, name, units) in sorted(found.items())]


def test_removing_a_statement_a_function_needs_fails_with_access_denied_naming_the_action_and_resource():
    print(f"IAM drop test: seed {SEED}, sample {SAMPLE} (STEWARD_IAM_DROP_SEED, STEWARD_IAM_DROP_SAMPLE)")
    start = time.monotonic()
    cases = _cases(random.Random(SEED))
    problems = []
    for name, function, key, units in cases:
        # When the scenario runs again without the statement
        dropped = iam_scenarios.drop(name, function, key, units)
        # Then it fails, and with an AccessDenied for something the statement granted, named in full
        named = [
            d
            for d in dropped.denials
            if f"is not authorized to perform: {d['action']} on resource: {d['resource']}" in d["message"]
        ]
        error = dropped.run.error
        if error is None or not named:
            problems.append(
                f"{name}: without {function} {key} the run ended {error!r}, denials {dropped.denials}"
            )
        elif isinstance(error, AccessDeniedError) and not any(d["message"] in str(error) for d in named):
            problems.append(f"{name}: without {function} {key} the error does not name the denial: {error}")
        else:
            print(f"  {name}: without {function} {key}: {named[0]['message'][:160]}")
    print(f"IAM drop test: {len(cases)} statement(s) dropped in {time.monotonic() - start:.1f} s")
    assert problems == []
