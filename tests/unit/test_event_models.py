"""Event models: every fixture parses, every quirk is normalised, malformed input names its field."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest

from steward.events import EVENT_MODELS, parse_event
from steward.events import models as ev
from steward.events.normalize import normalize_tags, parse_timestamp, pascal_status
from steward.kernel.errors import InvalidEventError, UnsupportedEventError
from tests.conftest import EVENTS, all_event_files, load, story


@pytest.mark.parametrize("path", all_event_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_parses_into_its_model(path):
    # Given a real-shaped event file
    raw = json.loads(path.read_text())
    # When it is parsed
    parsed = parse_event(raw)
    # Then it becomes the model of its detail-type, with the envelope intact
    assert type(parsed) is EVENT_MODELS[raw["detail-type"]]
    assert parsed.id == raw["id"]
    assert parsed.time.tzinfo is not None


def test_every_fixture_has_its_provenance_in_the_events_readme():
    # Given the provenance table of events/README.md ("| `path` | origin |")
    readme = (EVENTS / "README.md").read_text().split("\n## Provenance\n", 1)[1]
    listed = set(re.findall(r"^\| `([^`]+)` \| \S", readme, flags=re.MULTILINE))
    # When it is compared with the files of the folder
    present = {
        p.relative_to(EVENTS).as_posix() for p in EVENTS.rglob("*") if p.is_file() and p.name != "README.md"
    }
    # Then each file is listed once, and nothing listed is missing
    assert present - listed == set(), "files without provenance in events/README.md"
    assert listed - present == set(), "provenance rows for files that do not exist"


def test_story_is_31_events_in_delivery_order():
    events = story()
    assert len(events) == 31
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1793586468517", datetime(2026, 11, 2, 2, 27, 48, 517000, tzinfo=UTC)),  # epoch-millis string
        (1793586468517, datetime(2026, 11, 2, 2, 27, 48, 517000, tzinfo=UTC)),  # epoch-millis int
        (1793586468517.0, datetime(2026, 11, 2, 2, 27, 48, 517000, tzinfo=UTC)),  # float
        (1793586468, datetime(2026, 11, 2, 2, 27, 48, tzinfo=UTC)),  # epoch seconds
        ("2026-11-02T02:33:49Z", datetime(2026, 11, 2, 2, 33, 49, tzinfo=UTC)),
        ("2026-11-03T10:12:30.104+0000", datetime(2026, 11, 3, 10, 12, 30, 104000, tzinfo=UTC)),  # CloudWatch
        ("2026-11-03T12:12:30+02:00", datetime(2026, 11, 3, 10, 12, 30, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_in_every_spelling_become_utc(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", True, [1], "-5", float("nan")])
def test_a_non_timestamp_is_rejected(value):
    with pytest.raises(ValueError, match="timestamp"):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IN_SERVICE", "InService"),
        ("UPDATING", "Updating"),
        ("UPDATE_ROLLBACK_FAILED", "UpdateRollbackFailed"),
        ("ROLLING_BACK", "RollingBack"),
        ("FAILED", "Failed"),
        ("InService", "InService"),
    ],
)
def test_endpoint_statuses_use_the_describe_api_spelling(raw, expected):
    assert pascal_status(raw) == expected


def test_tags_arrive_as_map_or_list_and_become_a_map():
    assert normalize_tags({"a": "1", "b": None}) == {"a": "1", "b": ""}
    assert normalize_tags([{"Key": "a", "Value": "1"}, {"Key": "b"}]) == {"a": "1", "b": ""}
    assert normalize_tags(None) == {}
    with pytest.raises(ValueError, match="Key"):
        normalize_tags([{"Value": "x"}])


def test_endpoint_event_status_is_normalised_at_the_edge():
    parsed = parse_event(load("endpoint/in_service.json"))
    assert parsed.detail.endpoint_status == "InService"


def test_training_job_quirks_int_millis_nulls_and_tuning_parent():
    parsed = parse_event(load("training_job/quirk_int_millis_and_nulls.json"))
    assert parsed.detail.failure_reason is None
    assert parsed.detail.training_end_time is None or parsed.detail.training_end_time.tzinfo
    assert parsed.detail.tuning_job_arn


def test_empty_tags_and_vpc_config_objects_are_tolerated():
    parsed = parse_event(load("training_job/quirk_epoch_millis_strings.json"))
    assert parsed.detail.tags == {}


def test_pipeline_events_read_camel_case_keys():
    step = parse_event(load("pipeline_step/train_executing.json"))
    assert isinstance(step, ev.PipelineStepStatusChange)
    assert step.detail.step_name == "TrainChurnModel"
    assert step.detail.step_resources() == [
        (
            "training-job",
            "arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-8xq2n4vd1k7m-trainchurnmodel-hq7mw2xz4n",
        )
    ]


def test_cache_hit_points_at_the_source_execution():
    step = parse_event(load("pipeline_step/quirk_cache_hit.json"))
    assert step.detail.cache_hit_result.source_pipeline_execution_arn.endswith("/execution/8xq2n4vd1k7m")


def test_model_package_without_updated_fields_and_group_from_arn():
    raw = load("model_package/quirk_no_updated_fields.json")
    raw["detail"].pop("ModelPackageGroupName", None)
    parsed = parse_event(raw)
    assert parsed.detail.updated_model_package_fields is None
    assert parsed.detail.group_name == "churn-models"


def test_model_package_metric_reports_are_found_wherever_they_sit():
    parsed = parse_event(load("model_package/registered_pending.json"))
    assert parsed.detail.metric_report_uris() == {
        "ModelQuality.Statistics": "s3://sagemaker-us-east-1-123456789012/churn-train/8xq2n4vd1k7m/"
        "EvaluateChurnModel/output/evaluation/evaluation.json"
    }


def test_monitoring_execution_is_recognised_with_its_violations():
    parsed = parse_event(load("monitoring/completed_with_violations.json"))
    assert parsed.detail.is_monitoring_execution
    assert parsed.detail.violations_reported
    assert parsed.detail.monitored_endpoint_name == "churn-prod"
    assert not parse_event(load("processing_job/completed.json")).detail.is_monitoring_execution


def test_alarm_dimensions_and_missing_reason_data():
    drift = parse_event(load("cloudwatch_alarm/drift_alarm.json"))
    assert drift.detail.dimensions() == {
        "Endpoint": "churn-prod",
        "MonitoringSchedule": "churn-prod-data-quality",
    }
    initial = parse_event(load("cloudwatch_alarm/quirk_initial_no_reason_data.json"))
    assert initial.detail.previous_state.reason_data is None


def test_unknown_fields_are_tolerated():
    raw = load("training_job/completed.json")
    raw["detail"]["SomethingNew"] = {"nested": [1, 2]}
    raw["brand-new-envelope-field"] = 1
    assert parse_event(raw).detail.training_job_status == "Completed"


def test_unknown_detail_type_is_unsupported_not_invalid():
    raw = load("training_job/completed.json")
    raw["detail-type"] = "SageMaker Image State Change"
    with pytest.raises(UnsupportedEventError, match="Image State Change"):
        parse_event(raw)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["detail"].pop("TrainingJobArn"), "detail.TrainingJobArn"),
        (lambda e: e["detail"].update(TrainingJobStatus=7), "detail.TrainingJobStatus"),
        (lambda e: e["detail"].update(CreationTime="not a time"), "detail.CreationTime"),
        (lambda e: e["detail"].update(Tags=[{"Value": "no key"}]), "detail.Tags"),
        (lambda e: e["detail"].update(InputDataConfig="s3://x"), "detail.InputDataConfig"),
        (lambda e: e.pop("id"), "id"),
        (lambda e: e.update(time="soon"), "time"),
        (lambda e: e.update(detail=None), "detail"),
    ],
)
def test_malformed_events_name_the_field(mutate, field):
    # Given a training event broken in one place
    raw = copy.deepcopy(load("training_job/completed.json"))
    mutate(raw)
    # When it is parsed, Then the error names that field
    with pytest.raises(InvalidEventError) as caught:
        parse_event(raw)
    fields = [e["field"] for e in caught.value.errors]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert caught.value.to_dict()["error"] == "InvalidEvent"


@pytest.mark.parametrize("raw", [None, [], "event", 42, {"detail": {}}])
def test_non_events_are_invalid(raw):
    with pytest.raises(InvalidEventError):
        parse_event(raw)


def test_wrong_source_for_a_sagemaker_detail_type_is_invalid():
    raw = load("endpoint/updating.json")
    raw["source"] = "my.app"
    with pytest.raises(InvalidEventError) as caught:
        parse_event(raw)
    assert caught.value.errors[0]["field"] == "source"
