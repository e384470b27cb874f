"""S3 containment never creates a path between siblings: data written under `day/a` does not feed a job
that read `day/a-other`, even once some job has read the whole `day` folder."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from sandbox import Sandbox
from tests.conftest import load

ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/"
DAY = "s3://bucket/day"


def _job(name: str, reads: list[str], writes: list[str]) -> dict[str, Any]:
    event = copy.deepcopy(load("processing_job/completed.json"))
    event["id"] = str(uuid.uuid4())
    event["resources"] = [ARN + name]
    d = event["detail"]
    d["ProcessingJobName"], d["ProcessingJobArn"] = name, ARN + name
    template_in = d["ProcessingInputs"][0]
    d["ProcessingInputs"] = [
        {**template_in, "InputName": f"in-{i}", "S3Input": {**template_in["S3Input"], "S3Uri": uri}}
        for i, uri in enumerate(reads)
    ]
    template_out = d["ProcessingOutputConfig"]["Outputs"][0]
    d["ProcessingOutputConfig"]["Outputs"] = [
        {**template_out, "OutputName": f"out-{i}", "S3Output": {**template_out["S3Output"], "S3Uri": uri}}
        for i, uri in enumerate(writes)
    ]
    d.pop("AppSpecification", None)
    return event


STORY = [
    _job("writes-a", reads=["s3://bucket/raw"], writes=[f"{DAY}/a"]),
    _job("writes-a-other", reads=["s3://bucket/raw2"], writes=[f"{DAY}/a-other"]),
    _job("writes-ab", reads=["s3://bucket/raw3"], writes=[f"{DAY}/ab"]),  # a string prefix, not a path one
    _job("reads-day", reads=[DAY], writes=["s3://bucket/summary"]),  # the parent, read as a whole
    _job("reads-a-other", reads=[f"{DAY}/a-other"], writes=["s3://bucket/other-out"]),
    _job("reads-a-file", reads=[f"{DAY}/a/part-0001.csv"], writes=["s3://bucket/file-out"]),
    _job("reads-ab", reads=[f"{DAY}/ab"], writes=["s3://bucket/ab-out"]),
]


@pytest.fixture(scope="module")
def sb():
    with Sandbox(serve_api=False) as sandbox:
        results = sandbox.put_events(STORY)
        assert all(t["ok"] for r in results for t in r["targets"])
        yield sandbox


def _jobs(graph: dict[str, Any]) -> set[str]:
    return {n["name"] for n in graph["nodes"] if n["kind"] == "processing-job"}


def test_downstream_of_a_folder_reaches_readers_of_it_its_parent_and_its_files(sb):
    # When we walk downstream from the job that wrote day/a
    reached = _jobs(sb.lineage(id=ARN + "writes-a", direction="downstream", depth=8))
    # Then readers of day/a's data are reached: the reader of the whole day folder, the reader of a file
    assert {"reads-day", "reads-a-file"} <= reached


def test_downstream_never_crosses_to_a_sibling_folder(sb):
    reached = _jobs(sb.lineage(id=ARN + "writes-a", direction="downstream", depth=8))
    # day/a-other is a sibling: nothing written under day/a reaches its reader
    assert "reads-a-other" not in reached
    # day/ab starts with the same characters but is another folder
    assert "reads-ab" not in reached


def test_upstream_never_crosses_to_a_sibling_folder(sb):
    # The reader of day/a-other came from what wrote day/a-other (and nothing else under day)
    reached = _jobs(sb.lineage(id=ARN + "reads-a-other", direction="upstream", depth=8))
    assert "writes-a-other" in reached
    assert not {"writes-a", "writes-ab"} & reached


def test_upstream_of_the_parents_reader_reaches_everything_written_under_it(sb):
    reached = _jobs(sb.lineage(id=ARN + "reads-day", direction="upstream", depth=8))
    assert {"writes-a", "writes-a-other", "writes-ab"} <= reached


def test_a_file_reader_upstream_reaches_the_folders_writer_only(sb):
    reached = _jobs(sb.lineage(id=ARN + "reads-a-file", direction="upstream", depth=8))
    assert "writes-a" in reached
    assert not {"writes-a-other", "writes-ab"} & reached
