"""The clean runs each scenario is compared with (one sandbox each, closed before the scenario starts)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability import scenario


@pytest.fixture(scope="session")
def baseline() -> dict[str, Any]:
    """The story and the live part with promotion stages, nothing duplicated, reordered or failing."""
    observed, _, _ = scenario.clean_run(scenario.Live())
    assert scenario.invariants(observed) == []
    return observed


@pytest.fixture(scope="session")
def baseline_without_stages() -> dict[str, Any]:
    """The same with a policy that has approvals but no promotion stages."""
    observed, _, _ = scenario.clean_run(scenario.Live(stages=False))
    assert scenario.invariants(observed) == []
    return observed
