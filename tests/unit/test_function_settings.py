"""Per-function settings fail fast: a missing or malformed variable is a ConfigurationError naming it,
raised before the handler does any work and logged once; names have no silent defaults."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from steward.kernel.errors import ConfigurationError
from steward.kernel.handler import lambda_handler
from steward.kernel.settings import LineageTables, ReconcileBudget, Settings, get_settings, variables


class _Model(LineageTables, ReconcileBudget):
    """A function's model: two names required, two tunables with defaults."""


class _Context:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "r"


def test_names_are_required_and_tunables_keep_their_defaults():
    assert variables(_Model) == {
        "LINEAGE_TABLE_NAME": True,
        "IDEMPOTENCY_TABLE_NAME": True,
        "EVENT_ID_TTL_SECONDS": False,
        "RECONCILE_BUDGET": False,
    }
    with mock.patch.dict(os.environ, {"LINEAGE_TABLE_NAME": "l", "IDEMPOTENCY_TABLE_NAME": "i"}):
        settings = get_settings(_Model)
    assert (settings.lineage_table, settings.reconcile_budget) == ("l", 100)


def test_a_missing_variable_is_a_configuration_error_naming_it():
    environment = {"LINEAGE_TABLE_NAME": "l", "RECONCILE_BUDGET": "0"}
    with mock.patch.dict(os.environ, environment, clear=True), pytest.raises(ConfigurationError) as raised:
        get_settings(_Model)
    message = str(raised.value)
    assert "missing IDEMPOTENCY_TABLE_NAME" in message
    assert "malformed RECONCILE_BUDGET" in message
    assert "LINEAGE_TABLE_NAME" not in message


def test_an_empty_name_is_as_wrong_as_a_missing_one():
    environment = {"LINEAGE_TABLE_NAME": "", "IDEMPOTENCY_TABLE_NAME": "i"}
    with (
        mock.patch.dict(os.environ, environment, clear=True),
        pytest.raises(ConfigurationError, match="malformed LINEAGE_TABLE_NAME"),
    ):
        get_settings(_Model)


def test_the_whole_stack_view_invents_no_names():
    with mock.patch.dict(os.environ, {}, clear=True):
        settings = get_settings()
    assert isinstance(settings, Settings)
    assert settings.lineage_table is None and settings.notification_queue_url is None


def test_a_misconfigured_function_fails_before_any_work_with_one_line_naming_the_variable():
    calls = []

    class _Once(LineageTables):
        """A model of its own: its message was never logged in this process."""

    @lambda_handler(_Once)
    def handler(event, context):
        calls.append(event)
        return {"ok": True}

    with (
        mock.patch.dict(os.environ, {"LINEAGE_TABLE_NAME": "l"}, clear=True),
        mock.patch("steward.kernel.handler.logger.error") as error,
    ):
        for _ in range(3):
            with pytest.raises(ConfigurationError, match="missing IDEMPOTENCY_TABLE_NAME"):
                handler({}, _Context())
    assert calls == []
    assert error.call_count == 3  # one line per failed invocation, nothing else
    extra = error.call_args.kwargs["extra"]
    assert (extra["missing"], extra["malformed"]) == (["IDEMPOTENCY_TABLE_NAME"], [])
    assert "IDEMPOTENCY_TABLE_NAME" in extra["detail"]
    with mock.patch.dict(os.environ, {"LINEAGE_TABLE_NAME": "l", "IDEMPOTENCY_TABLE_NAME": "i"}, clear=True):
        assert handler({"id": "e"}, _Context()) == {"ok": True}
    assert calls == [{"id": "e"}]


def test_no_silent_default_hides_a_missing_table():
    # (the whole-stack Settings used to default LINEAGE_TABLE_NAME to "steward-lineage")
    with (
        mock.patch.dict(os.environ, {"IDEMPOTENCY_TABLE_NAME": "i"}, clear=True),
        pytest.raises(ConfigurationError, match="missing LINEAGE_TABLE_NAME"),
    ):
        get_settings(LineageTables)
