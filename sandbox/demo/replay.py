"""Reading EventBridge events from files, and creating the SageMaker resources no event carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.provisioning.storage import create_bucket


class EventFileError(ValueError):
    """A file that is not a JSON event, a JSON list of events, or JSON Lines of events."""


def load_events(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Events from .json files (one event or a list) and .jsonl files (one per line), in order."""
    events: list[dict[str, Any]] = []
    for raw_path in paths:
        path = Path(raw_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EventFileError(f"{path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise EventFileError(f"{path}: not UTF-8 text") from None
        stripped = text.strip()
        if not stripped:
            continue
        if path.suffix == ".jsonl" or (
            "\n" in stripped and not stripped.startswith("[") and _is_jsonl(stripped)
        ):
            items = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        items.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise EventFileError(f"{path}: line {number}: {exc.msg}") from None
        else:
            try:
                loaded = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise EventFileError(f"{path}: line {exc.lineno}: {exc.msg}") from None
            items = loaded if isinstance(loaded, list) else [loaded]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise EventFileError(f"{path}: item {i + 1} is not a JSON object")
            events.append(item)
    return events


def _is_jsonl(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return True
    return False


def create_sagemaker_resources(sm: Any, spec: dict[str, Any]) -> list[str]:
    """Create what SageMaker already holds: {"create_model": [...], "create_endpoint_config": [...],
    "create_pipeline": [...], "s3_objects": [{"Uri": "s3://...", "Body": {...}}]} (the S3 objects are what
    SageMaker jobs wrote, e.g. Model Monitor's constraint_violations.json; buckets are created as needed)."""
    created = []
    for args in spec.get("create_model", []):
        sm.create_model(**args)
        created.append(f"model/{args['ModelName']}")
    for args in spec.get("create_endpoint_config", []):
        sm.create_endpoint_config(**args)
        created.append(f"endpoint-config/{args['EndpointConfigName']}")
    for args in spec.get("create_pipeline", []):
        sm.create_pipeline(**args)
        created.append(f"pipeline/{args['PipelineName']}")
    if spec.get("s3_objects"):
        import boto3

        s3 = boto3.session.Session().client("s3", region_name=sm.meta.region_name)
        buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for obj in spec["s3_objects"]:
            bucket, _, key = str(obj["Uri"]).removeprefix("s3://").partition("/")
            if bucket not in buckets:
                create_bucket(s3, bucket)
                buckets.add(bucket)
            body = obj.get("Body")
            s3.put_object(Bucket=bucket, Key=key, Body=body if isinstance(body, str) else json.dumps(body))
            created.append(f"s3://{bucket}/{key}")
    return created
