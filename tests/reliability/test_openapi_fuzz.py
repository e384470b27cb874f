"""The API fuzzed against its own OpenAPI document: schemathesis over HTTP, on the sandbox's API.

The document is fetched from the served API (GET /openapi.json), as a client would, and every operation
in it is called with generated requests: its examples, schemathesis's coverage cases (boundaries,
missing and wrongly typed parameters) and a few random ones. Each answer must be no 5xx, and its
status, content type and body must be among those the document declares for that operation. The
sandbox holds the demo's story (churn-prod and its versions, v5 waiting for approval), so the examples
reach 200s and their bodies are checked too. Routes IAM-authorised in AWS are open on the sandbox.

Bounded: 4 random cases per operation besides its examples and coverage cases, derandomized (the same
requests every run): about 500 requests, about 15 s on an idle 2-core machine. The bound is the number
of requests, not a clock: a timed assertion fails on a loaded CI machine without anything being wrong.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox import Sandbox
from tests.reliability import scenario

# Not negative_data_rejection / positive_data_acceptance: the sandbox does not check SigV4 (an unsigned
# request is answered, where API Gateway says 403), and a page token (`next`) is opaque to any schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served():
    with Sandbox() as sb:
        scenario.setup(sb)
        sb.put_events(scenario.story_events())
        sb.set_policy(scenario.live_policy())
        scenario.Live().register(sb, "live5run", 0.934)  # a pending approval request to list
        yield sb


@pytest.fixture(scope="module")
def api_schema(served):
    config = schemathesis.Config.from_dict(
        {
            "base-url": served.api_url,
            "seed": 20261127,
            "request-timeout": 30,
            "phases": {
                "examples": {"enabled": True},
                "fuzzing": {"enabled": True},
                # Methods no route has get API Gateway's 403; TRACE and QUERY are left out because the
                # sandbox's HTTP server does not know them (a 501 of http.server, not of API Gateway).
                "coverage": {
                    "enabled": True,
                    "unexpected-methods": ["get", "put", "post", "delete", "options", "patch"],
                },
            },
        }
    )
    return schemathesis.openapi.from_url(f"{served.api_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's from_fixture reads and relabels `Node._nodeid`, which pytest 9.2 no longer has
    (the id lives in `_id`): give it the attribute it expects (it only labels the subtests)."""
    request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_document_declares(case):
    case.call_and_validate(checks=CHECKS, timeout=30)
