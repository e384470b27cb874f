"""Redrive with in-memory fakes: both DLQ shapes, delete only on success."""

from __future__ import annotations

import json

from steward_cli.redrive import redrive, unwrap


class FakeQueue:
    def __init__(self, messages):
        self.messages = list(messages)
        self.deleted = []

    def receive(self, max_messages):
        batch, self.messages = self.messages[:max_messages], self.messages[max_messages:]
        return batch

    def delete(self, receipt):
        self.deleted.append(receipt)


def destination_record(event_id):
    return {
        "ReceiptHandle": f"r-{event_id}",
        "Body": json.dumps(
            {
                "requestContext": {
                    "functionArn": "arn:aws:lambda:us-east-1:1:function:f:$LATEST",
                    "condition": "RetriesExhausted",
                },
                "requestPayload": {"id": event_id},
                "responsePayload": {"errorType": "Boom", "errorMessage": "bad"},
            }
        ),
    }


def eventbridge_dead_letter(event_id):
    return {
        "ReceiptHandle": f"r-{event_id}",
        "Body": json.dumps({"id": event_id}),
        "MessageAttributes": {"ERROR_MESSAGE": {"StringValue": "throttled"}},
    }


def test_both_shapes_unwrap_to_the_original_event():
    assert unwrap(destination_record("a")).event == {"id": "a"}
    assert unwrap(destination_record("a")).error == "Boom: bad"
    assert unwrap(destination_record("a")).function_arn.endswith(":function:f:$LATEST")
    assert unwrap(eventbridge_dead_letter("b")).event == {"id": "b"}
    assert unwrap(eventbridge_dead_letter("b")).error == "throttled"
    assert unwrap({"ReceiptHandle": "x", "Body": "not json"}) is None


def test_an_eventbridge_dead_letter_goes_back_to_the_target_it_could_not_reach():
    letter = eventbridge_dead_letter("c")
    letter["MessageAttributes"]["TARGET_ARN"] = {
        "StringValue": "arn:aws:lambda:us-east-1:123456789012:function:steward-dev-promote-model"
    }
    assert unwrap(letter).function_arn.endswith(":function:steward-dev-promote-model")
    letter["MessageAttributes"]["TARGET_ARN"] = {"StringValue": "arn:aws:sqs:us-east-1:1:queue"}
    assert unwrap(letter).function_arn is None  # not a function: the default one


def test_only_successes_are_deleted():
    queue = FakeQueue(
        [destination_record("ok"), eventbridge_dead_letter("bad"), {"ReceiptHandle": "z", "Body": "{"}]
    )
    report = redrive(
        queue, lambda event, arn: (event["id"] == "ok", None if event["id"] == "ok" else "still bad")
    )
    assert queue.deleted == ["r-ok"]
    assert [r["eventId"] for r in report.redriven] == ["ok"]
    assert report.failed == [{"eventId": "bad", "error": "still bad"}]
    assert report.unreadable == 1


def test_limit_bounds_the_work():
    queue = FakeQueue([eventbridge_dead_letter(str(i)) for i in range(25)])
    report = redrive(queue, lambda event, arn: (True, None), limit=12)
    assert len(report.redriven) == 12
