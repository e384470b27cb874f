"""GET /status and `steward status` on the sandbox: the estate in one call, from a fixed number of reads."""

from __future__ import annotations

import copy
import json
import re
import urllib.error
import urllib.request
import uuid
from collections import Counter

import pytest

from sandbox import Sandbox
from steward_cli import main
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
    # gsi2 listings: endpoints, deployments, approvals, alarms (no approval open: no BatchGetItem)
    assert counts[0] == counts[1] == 4, counts


def _calls_of_one_status(sb: Sandbox) -> Counter[str]:
    before = Counter(sb.aws_calls)
    answer = status(sb)
    assert not answer["ok"]
    return Counter(sb.aws_calls) - before


def test_every_call_is_the_same_for_one_endpoint_or_many_and_none_is_to_sagemaker() -> None:
    from tests.integration.test_monitoring import alarm_event

    calls, alarmed = [], []
    for n in (1, 25):
        # Given n endpoints, each with an alarm in ALARM, and a dead letter
        with Sandbox() as sb:
            sb.put_events([endpoint_event(f"ep-{i}") for i in range(n)])
            sb.put_events(
                [
                    alarm_event(
                        "ALARM", "OK", "2030-01-01T01:00:00.000+0000", f"ep-{i}-5xx", EndpointName=f"ep-{i}"
                    )
                    for i in range(n)
                ]
            )
            sqs = sb.client("sqs")
            sqs.send_message(
                QueueUrl=sqs.get_queue_url(QueueName="steward-local-notifications-dlq")["QueueUrl"],
                MessageBody="{}",
            )
            # When the estate is asked for
            calls.append(_calls_of_one_status(sb))
            alarmed.append(sum(1 for e in status(sb)["endpoints"] if e["alarms"]))
    # Then every endpoint's alarm is there, from the same calls whatever n, and not one to SageMaker
    assert alarmed == [1, 25]
    assert calls[0] == calls[1], calls
    assert not [op for op in calls[1] if op.startswith("sagemaker.")], calls[1]


# --- what serves, the last deployment, monitoring and alarms (issue 21) ------------------------------


def _endpoint(answer: dict, name: str) -> dict:
    return next(e for e in answer["endpoints"] if e["name"] == name)


def test_serving_version_approver_and_the_last_deployment_per_endpoint(capsys) -> None:
    from tests.integration.test_promotion import approve, policy, register

    with Sandbox(policy=policy()) as sb:
        v1 = register(sb)
        approve(sb, v1, who="alice@example.com")
        answer = status(sb)
        prod = _endpoint(answer, "fraud-prod")
        assert prod["serving"]["version"] == 1 and prod["serving"]["modelPackageArn"] == v1
        assert prod["serving"]["approvedBy"] == ["alice@example.com"]
        assert prod["serving"]["deployedBy"] == "steward" and prod["serving"]["since"]
        assert prod["lastDeployment"]["outcome"] == "succeeded" and answer["ok"] is True
        # v2 fails on staging: serving stays v1, the failure needs attention until a success follows
        sb.endpoint_outcome("fraud-staging", "fail")
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
        answer = status(sb)
        staging = _endpoint(answer, "fraud-staging")
        assert staging["lastDeployment"]["outcome"] == "failed" and staging["lastDeployment"]["version"] == 2
        assert any("deployment of fraud/2 failed" in a for a in staging["attention"]), staging
        assert answer["ok"] is False and _endpoint(answer, "fraud-prod")["serving"]["version"] == 1
        assert main(["status", "--api-url", sb.api_url]) == 1
        out = capsys.readouterr().out
        assert "fraud/v1" in out and "approved by alice@example.com" in out
        assert "last deployment: promotion of v2 failed" in out


def test_a_silent_rollback_serves_the_previous_version_and_needs_attention() -> None:
    from tests.integration.test_promotion import approve, policy, register

    with Sandbox(policy=policy()) as sb:
        approve(sb, register(sb))
        sb.endpoint_outcome("fraud-staging", "silent-rollback")
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
        staging = _endpoint(status(sb), "fraud-staging")
        assert staging["serving"]["version"] == 1  # the config v1's deployment made still serves
        assert staging["lastDeployment"]["outcome"] == "rolled-back"
        assert staging["attention"] and "rolled-back" in staging["attention"][-1]
        # the next success on the endpoint clears it
        sb.endpoint_outcome("fraud-staging", "succeed")
        approve(sb, register(sb, artifact="s3://models/fraud/v3.tar.gz"))
        staging = _endpoint(status(sb), "fraud-staging")
        assert staging["serving"]["version"] == 3 and staging["attention"] == []


def test_an_endpoint_steward_did_not_deploy_says_so() -> None:
    with Sandbox() as sb:
        sb.put_events([endpoint_event("hand-made")])
        (entry,) = status(sb)["endpoints"]
        assert entry["serving"]["deployedBy"] == "not Steward" and entry["serving"]["version"] is None
        assert entry["lastDeployment"] is None and entry["monitoring"] is None


def test_alarms_and_the_latest_monitoring_result(capsys) -> None:
    from tests.integration.test_monitoring import alarm_event, execution
    from tests.integration.test_monitoring import serving as churn_serving

    with Sandbox() as sb:
        churn_serving(sb)
        prod = _endpoint(status(sb), "churn-prod")
        assert prod["alarms"] == [] and prod["monitoring"] is None
        sb.put_events([execution("mon-older")])
        newer = execution(
            "mon-newer", exit_message="Completed: Job completed successfully with no violations."
        )
        newer["detail"]["ProcessingEndTime"] = "2030-01-01T00:00:00Z"
        sb.put_events([newer])
        sb.put_events([execution("mon-older")])  # a late duplicate does not take it back
        prod = _endpoint(status(sb), "churn-prod")
        assert prod["monitoring"]["name"] == "mon-newer", prod["monitoring"]
        # an alarm in ALARM needs attention (exit 1); its later OK clears it; an older state changes nothing
        sb.put_events([alarm_event("ALARM", "OK", "2030-01-01T01:00:00.000+0000")])
        answer = status(sb)
        prod = _endpoint(answer, "churn-prod")
        assert [(a["name"], a["state"]) for a in prod["alarms"]] == [
            ("churn-prod-feature-drift-tenure", "ALARM")
        ]
        assert "alarm churn-prod-feature-drift-tenure in ALARM" in prod["attention"] and not answer["ok"]
        assert main(["status", "--api-url", sb.api_url]) == 1
        assert "alarm churn-prod-feature-drift-tenure: ALARM" in capsys.readouterr().out
        sb.put_events([alarm_event("OK", "ALARM", "2030-01-01T02:00:00.000+0000")])
        sb.put_events([alarm_event("ALARM", "OK", "2030-01-01T00:30:00.000+0000")])  # stale
        prod = _endpoint(status(sb), "churn-prod")
        assert [a["state"] for a in prod["alarms"]] == ["OK"] and prod["attention"] == []


def test_a_crash_between_the_summary_and_the_record_is_completed_by_the_redelivery() -> None:
    """The summary is written before the record: a redelivery is cut short only once the record (and
    its event-id marker) landed, so no crash can leave a record without its summary."""
    from tests.integration.test_monitoring import execution
    from tests.integration.test_monitoring import serving as churn_serving

    with Sandbox() as sb:
        churn_serving(sb)
        event = execution("mon-crashed")
        node_id = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/mon-crashed"
        with sb.faults("dynamodb.TransactWriteItems"):  # every attempt dies after the summary's update
            sb.put_events([event])
        assert not sb.lineage_store().get_nodes([node_id]).get(node_id, {}).get("result")
        sb.put_events([event])  # redriven: the record lands, the summary stays the newest
        assert (
            sb.lineage_store().get_nodes([node_id])[node_id]["result"] == "report-missing"
        )  # no report in this bucket: said
        assert _endpoint(status(sb), "churn-prod")["monitoring"]["name"] == "mon-crashed"
        sb.put_events([event])  # a true duplicate now: cut short, nothing lost
        assert _endpoint(status(sb), "churn-prod")["monitoring"]["name"] == "mon-crashed"


def test_a_summary_update_that_fails_never_leaves_a_record_without_its_summary() -> None:
    """(With the summary written after the record, this ended with the result recorded and the
    endpoint's summary lost: the redelivery was cut short by the record's event-id marker.)"""
    from tests.integration.test_monitoring import execution
    from tests.integration.test_monitoring import serving as churn_serving

    with Sandbox() as sb:
        churn_serving(sb)
        event = execution("mon-unsummarised")
        with sb.faults("dynamodb.UpdateItem"):
            sb.put_events([event])
        sb.put_events([event])
        assert _endpoint(status(sb), "churn-prod")["monitoring"]["name"] == "mon-unsummarised"


def test_errors_exit_2_never_1_which_means_attention(capsys) -> None:
    # Given an API that cannot be reached, and one that refuses the endpoint's name
    with Sandbox() as sb:
        url = sb.api_url
        refused = main(["status", "nowhere", "--api-url", url])
    unreachable = main(["status", "--api-url", url])  # the sandbox is down now
    # Then both are errors (2), told on stderr; 1 stays "something needs attention"
    assert (refused, unreachable) == (2, 2)
    err = capsys.readouterr().err
    assert "HTTP 404" in err and "cannot reach" in err


def test_deployments_in_flight_and_queued_and_open_requests_with_their_age(capsys) -> None:
    from tests.integration.test_promotion import approve, policy, register

    with Sandbox(policy=policy()) as sb:
        # Given fraud v1 serving, v2 deploying to a staging endpoint that holds, v3 queued behind it, and
        # v4 waiting for its approvers
        approve(sb, register(sb))
        sb.endpoint_outcome("fraud-staging", "hold")
        approve(sb, register(sb, artifact="s3://models/fraud/v2.tar.gz"))
        approve(sb, register(sb, artifact="s3://models/fraud/v3.tar.gz"))
        register(sb, artifact="s3://models/fraud/v4.tar.gz")
        # When the estate is asked for
        answer = status(sb)
        code = main(["status", "--api-url", sb.api_url])
        # Then staging shows the deployment in flight and the queued one, and v4's open request and its age
        staging = _endpoint(answer, "fraud-staging")
        assert [(d["version"], d["status"]) for d in staging["deployments"]] == [
            (2, "InProgress"),
            (3, "Queued"),
        ]
        (request,) = answer["approvalRequests"]
        assert staging["approvalRequests"] == [request] and request["version"] == 4
        assert isinstance(request["ageSeconds"], int) and request["ageSeconds"] >= 0 and request["createdAt"]
        # and only there: asked for prod alone, there is no request
        assert status(sb, endpoint="fraud-prod")["approvalRequests"] == []
        assert status(sb, endpoint="fraud-staging")["approvalRequests"] == [request]
        # none of which needs attention; the table says each
        assert answer["ok"] and code == 0
        table = capsys.readouterr().out
        assert "deployment InProgress: promotion of v2 (staging)" in table
        assert "deployment Queued: promotion of v3 (staging)" in table
        assert re.search(r"approval open: fraud/4 for \d+ s", table), table


def test_a_request_for_an_endpoint_not_recorded_yet_is_listed_with_its_age(capsys) -> None:
    from tests.integration.test_promotion import policy, register

    with Sandbox(policy=policy()) as sb:
        # Given a group's first version waiting for its approvers: no endpoint of its stages exists yet
        register(sb)
        # When the estate is shown
        answer = status(sb)
        assert main(["status", "--api-url", sb.api_url]) == 0
    # Then the request is listed on its own, with its age
    (request,) = answer["approvalRequests"]
    assert answer["endpoints"] == [] and request["endpointName"] == "fraud-staging"
    table = capsys.readouterr().out
    assert re.search(
        rf"approval open: fraud/1 for \d+ s \({request['requestId']}\), for fraud-staging", table
    )
