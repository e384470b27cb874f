"""The sandbox's IAM enforcement (README "IAM in the sandbox"): whose calls are checked against which role."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import Sandbox
from steward.kernel.threads import ContextPool


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as sandbox:
        yield sandbox


def _scan(sb: Sandbox) -> int:
    # A client of nobody's in particular: not one of the sandbox's own (those are exempt)
    table = sb.output("LineageTableName")
    return boto3.client("dynamodb", region_name=sb.region).scan(TableName=table, Limit=1)["Count"]


def test_a_handler_running_in_another_thread_does_not_make_this_threads_calls_its_own(sb):
    # Given notify's role, which may not Scan the lineage table, active in another thread (as when a
    # reacting sandbox runs a handler while the test reads the lineage)
    entered, release = threading.Event(), threading.Event()
    denied: list[str] = []

    def handler() -> None:
        with sb.iam.running("NotifyFunction"):
            try:
                _scan(sb)
            except ClientError as exc:
                denied.append(exc.response["Error"]["Code"])
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=handler)
    worker.start()
    try:
        assert entered.wait(10)
        # Then the handler's own Scan was denied, and this thread's is not the handler's call
        assert denied == ["AccessDeniedException"]
        assert _scan(sb) >= 0
    finally:
        release.set()
        worker.join()
    sb.iam.usage.denials.clear()  # the denial was this test's point, not a failure of the run


def test_the_reads_a_handler_fans_out_to_a_pool_are_checked_as_its_own(sb):
    with (
        sb.iam.running("NotifyFunction"),
        ContextPool(max_workers=2) as pool,
        pytest.raises(ClientError) as denied,
    ):
        pool.submit(_scan, sb).result()
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "NotifyFunctionRole" in denied.value.response["Error"]["Message"]
    assert "dynamodb:Scan" in denied.value.response["Error"]["Message"]
    sb.iam.usage.denials.clear()
