"""A refused identifier writes nothing, in any function the event reaches."""

from __future__ import annotations

import copy
import uuid

from sandbox import Sandbox
from tests.conftest import load


def test_an_empty_package_arn_is_refused_by_every_function_and_writes_nothing():
    # Given a registration whose ModelPackageArn is empty
    event = copy.deepcopy(load("model_package/registered_pending.json"))
    event["id"], event["detail"]["ModelPackageArn"] = str(uuid.uuid4()), ""
    with Sandbox(serve_api=False) as sb:
        # When it is delivered
        result = sb.put_events([event])[0]
        # Then every function it reached refused it as invalid (no IndexError, no crash loop) ...
        assert result["targets"]
        for target in result["targets"]:
            assert not target["ok"] and "detail.ModelPackageArn: empty" in str(target["error"]), target
            # ... kept in its dead-letter queue after the retries, to be seen and redriven, not lost
            assert sb.dlq_messages(target["function"]), target["function"]
        # ... and nothing was recorded under an empty id
        assert sb.lineage()["nodes"] == []
