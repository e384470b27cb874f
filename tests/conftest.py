"""Shared fixtures: the event files, and fake AWS credentials before any client exists."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

# Never let a test reach real AWS: fake credentials and region before boto3 is imported anywhere.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "StewardTest",
        "POWERTOOLS_SERVICE_NAME": "steward-test",
    }
)
os.environ.pop("AWS_PROFILE", None)

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"


def load(relative: str) -> dict[str, Any]:
    """One event file from the project's events/ folder."""
    return json.loads((EVENTS / relative).read_text())


def story() -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (EVENTS / "story_churn.jsonl").read_text().splitlines() if line.strip()
    ]


def all_event_files() -> list[Path]:
    return sorted(EVENTS.glob("*/*.json"))


@pytest.fixture
def event():
    return load
