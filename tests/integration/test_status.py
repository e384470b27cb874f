"""GET /status and `steward status` on the sandbox: the estate in one call, from a fixed number of reads."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
import uuid

import pytest

from sandbox import Sandbox
from steward.cli import main
from tests.conftest import load


def status(sb: Sandbox, **params: str) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    with urllib.request.urlopen(f"{sb.api_url}/status" + (f"?{query}" if query else "")) as response:
        return json.loads(response.read())


def endpoint_event(name: str, fixture: str = "endpoint/in_service.json") -> dict:
    event = copy.deepcopy(load(fixture))
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
    event["id"], event["resources"] = str(uuid.uuid4()), [arn]
    event["detail"].update(EndpointName=name, EndpointArn=arn)
    return event


def test_empty_stack(capsys) -> None:
    with Sandbox() as sb:
        answer = status(sb)
        assert answer["endpoints"] == [] and answer["ok"] is True
        assert {q["name"] for q in answer["dlqs"]} == {"RecordLineage", "Notify", "PromoteModel"}
        assert all(q["depth"] == 0 for q in answer["dlqs"])
        assert main(["status", "--api-url", sb.api_url]) == 0
    assert "nothing needs attention" in capsys.readouterr().out


def test_story_replayed(capsys) -> None:
    code = main(
        [
            "status",
            "--json",
            "--replay",
            "events/story_churn.jsonl",
            "--setup",
            "events/sagemaker_resources.json",
        ]
    )
    answer = json.loads(capsys.readouterr().out)
    prod = next(e for e in answer["endpoints"] if e["name"] == "churn-prod")
    assert prod["status"] == "InService" and prod["endpointConfigName"] == "churn-prod-v3-5d1c"
    assert code == (0 if answer["ok"] else 1)


def test_failed_change_then_success() -> None:
    with Sandbox() as sb:
        sb.put_events([endpoint_event("ep-a", "endpoint/failed.json")])
        assert main(["status", "--api-url", sb.api_url]) == 1
        assert main(["status", "ep-a", "--api-url", sb.api_url]) == 1
        later = endpoint_event("ep-a")
        later["time"] = "2030-01-01T00:00:00Z"
        later["detail"]["LastModifiedTime"] = "2030-01-01T00:00:00Z"
        later["detail"].pop("FailureReason", None)
        sb.put_events([later])
        assert status(sb, endpoint="ep-a")["endpoints"][0]["lastChange"]["outcome"] == "succeeded"
        assert main(["status", "--api-url", sb.api_url]) == 0


def test_dlq_message_needs_attention() -> None:
    with Sandbox() as sb:
        sqs = sb.client("sqs")
        url = sqs.get_queue_url(QueueName="steward-local-notifications-dlq")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        answer = status(sb)
        notify = next(q for q in answer["dlqs"] if q["name"] == "Notify")
        assert notify["depth"] == 1 and notify["oldestAgeSeconds"] is not None
        assert main(["status", "--api-url", sb.api_url]) == 1
        assert next(q for q in status(sb)["dlqs"] if q["name"] == "Notify")["depth"] == 1


def test_unknown_endpoint_is_404() -> None:
    with Sandbox() as sb:
        with pytest.raises(urllib.error.HTTPError) as refused:
            status(sb, endpoint="nowhere")
        assert refused.value.code == 404


def _dynamodb_calls(sb: Sandbox) -> int:
    before = sum(n for op, n in sb.aws_calls.items() if op.startswith("dynamodb."))
    status(sb)
    return sum(n for op, n in sb.aws_calls.items() if op.startswith("dynamodb.")) - before


def test_dynamodb_calls_do_not_grow_with_endpoints() -> None:
    counts = []
    for n in (1, 20):
        with Sandbox() as sb:
            sb.put_events([endpoint_event(f"ep-{i}") for i in range(n)])
            assert len(status(sb)["endpoints"]) == n
            counts.append(_dynamodb_calls(sb))
    assert counts[0] == counts[1] == 3, counts
