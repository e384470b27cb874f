"""The bench's inputs: the fixtures under events/, the story, and the generated 10,000-event burst."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"
_NAMESPACE = uuid.UUID("5f0e0f2c-2b47-4e8e-9a55-2d0c8f0b6c11")


def event_id(*parts: object) -> str:
    """A deterministic event id: the same input always gets the same id, so duplicates are real ones."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def fixtures(events_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(relative path, event) for every events/<type>/*.json, sorted; each has an id."""
    found = []
    for path in sorted(events_dir.glob("*/*.json")):
        event = json.loads(path.read_text())
        if not isinstance(event, dict) or "detail-type" not in event:
            continue
        event.setdefault("id", event_id("fixture", path.relative_to(events_dir)))
        found.append((str(path.relative_to(events_dir)), event))
    return found


def story(events_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    lines = (events_dir / "story_churn.jsonl").read_text().splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            event = json.loads(line)
            event.setdefault("id", event_id("story", number))
            found.append((f"story_churn.jsonl:{number}", event))
    return found


# (fixture, name field, ARN field, ARN resource type): job state changes, each job InProgress then done.
_JOBS = (
    ("training_job/in_progress_training.json", "training_job/completed.json", "TrainingJob", "training-job"),
    (
        "processing_job/in_progress.json",
        "processing_job/completed.json",
        "ProcessingJob",
        "processing-job",
    ),
)


def burst(events_dir: Path, count: int) -> list[dict[str, Any]]:
    """`count` distinct job state-change events: count/2 jobs with distinct names, each reported
    InProgress and then Completed (training and processing jobs alternating). Deterministic."""
    templates = [
        (
            json.loads((events_dir / started).read_text()),
            json.loads((events_dir / done).read_text()),
            field,
            kind,
        )
        for started, done, field, kind in _JOBS
    ]
    events: list[dict[str, Any]] = []
    for job in range(count // 2):
        started, done, field, kind = templates[job % len(templates)]
        name = f"bench-{kind}-{job:05d}"
        for state, template in (("started", started), ("done", done)):
            event = copy.deepcopy(template)
            event["id"] = event_id("burst", job, state)
            event["detail"][f"{field}Name"] = name
            event["detail"][f"{field}Arn"] = f"{ACCOUNT_ARN}:{kind}/{name}"
            event["resources"] = [f"{ACCOUNT_ARN}:{kind}/{name}"]
            events.append(event)
    return events
