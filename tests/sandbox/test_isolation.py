"""What each invocation keeps to itself in one process (sandbox/isolation.py): its environment, its
printed output, Powertools' metric set, Parameters cache, logger keys and the event handler's current
event, while another invocation runs at the same moment in another thread; outside invocations
everything reads as before, and uninstalling leaves the process as it was."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from sandbox.isolation import Isolation


@pytest.fixture
def isolation() -> Iterator[Isolation]:
    isolated = Isolation()
    isolated.install()
    try:
        yield isolated
    finally:
        isolated.uninstall()


def _side_by_side(isolation: Isolation, body, environments: list[dict[str, str]]) -> list:
    """Run `body()` as one invocation per environment, each thread waiting for the others in the middle
    (so they are all inside their invocations at once)."""
    meet, results = threading.Barrier(len(environments), timeout=10), [None] * len(environments)

    def run(index: int) -> None:
        with isolation.invocation(environments[index]) as scope:
            results[index] = body(meet, scope)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(environments))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_each_invocation_reads_and_writes_its_own_environment(isolation, monkeypatch):
    monkeypatch.setenv("SHARED", "process")

    def body(meet, scope):
        os.environ["WRITTEN"] = os.environ["FUNCTION"]  # a handler writing its environment
        meet.wait()
        return os.environ["FUNCTION"], os.environ["WRITTEN"], os.environ.get("SHARED"), os.getenv("FUNCTION")

    results = _side_by_side(isolation, body, [{"FUNCTION": "a"}, {"FUNCTION": "b"}])
    assert results == [("a", "a", "process", "a"), ("b", "b", "process", "b")]
    assert "FUNCTION" not in os.environ and "WRITTEN" not in os.environ  # outside: the process's
    assert os.environ["SHARED"] == "process"


def test_settings_follow_the_environment_of_the_invocation(isolation):
    from steward.kernel.settings import get_settings

    def body(meet, scope):
        first = get_settings().lineage_table
        meet.wait()
        return first, get_settings().lineage_table

    results = _side_by_side(isolation, body, [{"LINEAGE_TABLE_NAME": "one"}, {"LINEAGE_TABLE_NAME": "two"}])
    assert results == [("one", "one"), ("two", "two")]


def test_prints_and_metrics_are_the_invocations_own(isolation):
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = Metrics(namespace="Isolation", service="test")

    def body(meet, scope):
        name = "Metric" + os.environ["FUNCTION"]
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        meet.wait()  # the other invocation has added its metric too
        metrics.flush_metrics()
        print("printed by", os.environ["FUNCTION"])
        return scope.stdout.getvalue()

    before = sys.stdout
    outputs = _side_by_side(isolation, body, [{"FUNCTION": "A"}, {"FUNCTION": "B"}])
    for who, printed in zip("AB", outputs, strict=True):
        emf = json.loads(printed.splitlines()[0])
        assert [m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [f"Metric{who}"]
        assert printed.splitlines()[1] == f"printed by {who}"
    assert sys.stdout is before  # restored once no invocation runs


def test_the_event_handlers_current_event_is_the_invocations_own(isolation):
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    app = APIGatewayRestResolver()

    def body(meet, scope):
        BaseRouter.current_event = os.environ["FUNCTION"]  # what resolve() does
        meet.wait()
        return app.current_event, BaseRouter.current_event

    results = _side_by_side(isolation, body, [{"FUNCTION": "one"}, {"FUNCTION": "two"}])
    assert results == [("one", "one"), ("two", "two")]


def test_the_parameters_cache_starts_empty_in_each_invocation(isolation):
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS, BaseProvider

    class Counting(BaseProvider):
        fetched = 0

        def _get(self, name, **kwargs):
            Counting.fetched += 1
            return f"value of {name}"

        def _get_multiple(self, path, **kwargs):
            return {}

    provider = Counting()
    for _ in range(2):
        with isolation.invocation({}):
            assert provider.get("p", max_age=300) == "value of p"
            assert provider.get("p", max_age=300) == "value of p"  # cached within the invocation
    assert Counting.fetched == 2
    assert "ssm" not in DEFAULT_PROVIDERS or DEFAULT_PROVIDERS["ssm"] is not provider


def test_uninstalling_leaves_the_process_as_it_was():
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider

    environ, meta = os.environ, type(BaseRouter)
    isolated = Isolation()
    isolated.install()
    assert os.environ is not environ
    with isolated.invocation({"ONLY_INSIDE": "1"}):
        assert os.environ["ONLY_INSIDE"] == "1"
    isolated.uninstall()
    assert os.environ is environ and type(BaseRouter) is meta
    assert "store" not in BaseProvider.__dict__
    assert "ONLY_INSIDE" not in os.environ
