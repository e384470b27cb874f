"""Slack messages as the sandbox's Slack receives them, checked by slack_sdk's Block Kit models.

The sandbox's receiver accepts any payload; Slack would answer `invalid_blocks` to one over a limit
(a permanent failure: the alert is dropped). So what reached it is validated here.
"""

from __future__ import annotations

import copy

import pytest
from slack_sdk.models.blocks import Block

from sandbox import Sandbox
from tests.conftest import load
from tests.unit.test_oracle_slack_blocks import assert_slack_accepts

SPECIALS = "&<>" * 342  # 1 KB


@pytest.fixture
def sb():
    with Sandbox(serve_api=False) as sandbox:
        yield sandbox


def test_a_job_failure_whose_reason_is_1kb_of_escaped_characters_reaches_slack_valid(sb):
    # Given a processing job failing with a FailureReason made entirely of "&<>"
    event = copy.deepcopy(load("processing_job/failed.json"))
    event["detail"]["FailureReason"] = SPECIALS
    # When it is notified
    sb.put_events([event])
    # Then the Slack message Steward posted is one Slack accepts
    (message,) = [m for m in sb.outbox if m["channel"] == "slack"]
    assert_slack_accepts(message["raw"])
    assert all(Block.parse(b) is not None for b in message["raw"]["blocks"])
