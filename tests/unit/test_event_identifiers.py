"""Identifiers are checked at the edge: a bad one is refused with InvalidEventError naming its field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from steward.events import parse_event
from steward.kernel.errors import InvalidEventError
from tests.conftest import load


def _with(path: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = copy.deepcopy(load(path))
    change(event)
    return event


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(event: dict[str, Any]) -> None:
        event["detail"][key] = value

    return apply


def _set_s3_input(value: str) -> Callable[[dict[str, Any]], None]:
    def apply(event: dict[str, Any]) -> None:
        event["detail"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] = value

    return apply


PACKAGE = "model_package/registered_pending.json"
TRAINING = "training_job/completed.json"
PROCESSING = "processing_job/completed.json"
ENDPOINT = "endpoint/in_service.json"

CASES = [
    (TRAINING, _set("TrainingJobArn", ""), "detail.TrainingJobArn", "empty"),
    (PACKAGE, _set("ModelPackageArn", ""), "detail.ModelPackageArn", "empty"),
    (TRAINING, _set("TrainingJobName", "   "), "detail.TrainingJobName", "empty"),
    (TRAINING, _set("TrainingJobName", "job\x00name"), "detail.TrainingJobName", "U+0000"),
    (TRAINING, _set("TrainingJobName", "job\x1b[31mred"), "detail.TrainingJobName", "U+001B"),
    (TRAINING, _set("TrainingJobName", "job\u202eeman"), "detail.TrainingJobName", "U+202E"),
    (TRAINING, _set("TrainingJobName", "job\u2066x\u2069"), "detail.TrainingJobName", "U+2066"),
    (TRAINING, _set("TrainingJobName", "job\x85"), "detail.TrainingJobName", "U+0085"),
    (TRAINING, _set("TrainingJobName", "job\ud800"), "detail.TrainingJobName", "surrogate"),
    (TRAINING, _set("FailureReason", "fine\ud83d"), "detail.FailureReason", "surrogate"),
    (TRAINING, _set("TrainingJobArn", "not-an-arn"), "detail.TrainingJobArn", "not an ARN"),
    (
        TRAINING,
        _set("TrainingJobArn", "arn:aws:sagemaker:us-east-1:999999999999:training-job/x"),
        "detail.TrainingJobArn",
        "account",
    ),
    (
        TRAINING,
        _set("TrainingJobArn", "arn:aws:sagemaker:eu-west-1:123456789012:training-job/x"),
        "detail.TrainingJobArn",
        "region",
    ),
    (
        TRAINING,
        _set("TrainingJobArn", "arn:aws-cn:sagemaker:us-east-1:123456789012:training-job/x"),
        "detail.TrainingJobArn",
        "partition",
    ),
    (
        PACKAGE,
        _set("ModelPackageArn", "arn:aws:sagemaker:us-east-1:123456789012:model-package/other-group/3"),
        "detail.ModelPackageArn",
        "names group 'other-group'",
    ),
    (
        PACKAGE,
        _set("ModelPackageArn", "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/9"),
        "detail.ModelPackageArn",
        "names version '9'",
    ),
    (ENDPOINT, _set("EndpointStatus", "EXPLODING"), "detail.EndpointStatus", "not an endpoint status"),
    # AWS's own published samples carry placeholders like these ("status", an ARN of another type)
    (TRAINING, _set("TrainingJobStatus", "status"), "detail.TrainingJobStatus", "not a status"),
    (PACKAGE, _set("ModelApprovalStatus", "Maybe"), "detail.ModelApprovalStatus", "not a status"),
    (
        "tuning_job/completed.json",
        _set("HyperParameterTuningJobArn", "arn:aws:sagemaker:us-east-1:123456789012:tuningjob/x"),
        "detail.HyperParameterTuningJobArn",
        "not a hyper-parameter-tuning-job ARN",
    ),
    (PROCESSING, _set_s3_input("https://example.com/data"), "detail.ProcessingInputs.0.S3Input.S3Uri", "S3"),
    (PROCESSING, _set_s3_input("s3://bucket/day/../secret"), "detail.ProcessingInputs.0.S3Input.S3Uri", ".."),
    (PROCESSING, _set_s3_input("s3:///key"), "detail.ProcessingInputs.0.S3Input.S3Uri", "bucket"),
    (PROCESSING, _set_s3_input("s3://user@host/key"), "detail.ProcessingInputs.0.S3Input.S3Uri", "bucket"),
]


@pytest.mark.parametrize(("path", "change", "field", "says"), CASES, ids=[f"{c[2]}~{c[3]}" for c in CASES])
def test_a_bad_identifier_is_refused_naming_its_field(path, change, field, says):
    # Given a real-shaped event with one bad identifier
    event = _with(path, change)
    # When it is parsed, Then it is refused, naming the field and what is wrong
    with pytest.raises(InvalidEventError) as refused:
        parse_event(event)
    fields = {e["field"]: e["message"] for e in refused.value.errors}
    assert field in fields, fields
    assert says in fields[field], fields


@pytest.mark.parametrize(
    "status",
    ["IN_SERVICE", "UPDATING", "CREATING", "ROLLING_BACK", "UPDATE_ROLLBACK_FAILED", "SYSTEM_UPDATING"],
)
def test_every_endpoint_status_sagemaker_has_is_accepted(status):
    assert parse_event(_with(ENDPOINT, _set("EndpointStatus", status))).detail.endpoint_status


def test_free_text_keeps_control_characters_for_the_channels_to_clean():
    event = parse_event(_with(TRAINING, _set("FailureReason", "line one\nline two \x1b[1mbold")))
    assert "\x1b" in event.detail.failure_reason


def test_an_arn_of_another_service_or_account_inside_a_detail_is_not_the_resource_itself():
    # RoleArn is IAM's (no region) and may be any account's: only the resource's own ARN is checked
    event = _with(TRAINING, _set("RoleArn", "arn:aws:iam::999999999999:role/other"))
    assert parse_event(event).detail.role_arn == "arn:aws:iam::999999999999:role/other"
