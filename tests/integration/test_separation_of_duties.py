"""Separation of duties: every identity SageMaker reports for the registrant is checked, in every channel."""

from __future__ import annotations

import copy
import uuid

import pytest

from sandbox import Sandbox
from tests.conftest import load

ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/ds-role/dana-session"
APPROVERS = [
    {"email": "dana@example.com", "slack_user_id": "U0DANA", "identities": [ROLE_SESSION]},
    {"email": "erin@example.com", "slack_user_id": "U0ERIN"},
    {"email": "frank@example.com"},
]


def _policy() -> dict:
    return {
        "default": {
            "notifications": {
                "info": {"email": ["ops@example.com"]},
                "warning": {"email": ["ops@example.com"]},
            },
            "approval": {"approvers": APPROVERS, "quorum": 1},
        }
    }


def _registered(created_by: dict) -> dict:
    event = copy.deepcopy(load("model_package/registered_pending.json"))
    event["id"] = str(uuid.uuid4())
    event["detail"]["CreatedBy"] = created_by
    return event


def _approvers_of(sb: Sandbox) -> list[str]:
    node = next(n for n in sb.lineage()["nodes"] if n["kind"] == "approval")
    return list(node["approvers"])


@pytest.mark.parametrize(
    "created_by",
    [
        # A Studio profile that is nobody's and the IAM identity that is Dana's, reported together
        {"UserProfileName": "studio-shared", "IamIdentity": {"Arn": ROLE_SESSION}},
        # The IAM identity alone
        {"IamIdentity": {"Arn": ROLE_SESSION, "PrincipalId": "AROAEXAMPLE:dana-session"}},
        # An assumed-role session named after the approver's email, no identities configured for her
        {
            "UserProfileName": "studio-shared",
            "IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/other-role/Dana@Example.com"},
        },
        # A SourceIdentity set to her email
        {
            "IamIdentity": {
                "Arn": "arn:aws:sts::123456789012:assumed-role/r/s",
                "SourceIdentity": "dana@example.com",
            }
        },
    ],
    ids=["profile-and-iam", "iam-only", "session-named-after-email", "source-identity"],
)
def test_the_registrant_is_known_by_every_identity_sagemaker_reports(created_by):
    # Given a version whose CreatedBy carries an identity of approver Dana among others
    with Sandbox(policy=_policy(), serve_api=False) as sb:
        # When it is registered
        results = sb.put_events([_registered(created_by)])
        assert all(t["ok"] for t in results[0]["targets"])
        # Then Dana is not an approver of it, gets no link, and the others are
        assert _approvers_of(sb) == ["erin@example.com", "frank@example.com"]
        asked = {m["to"] for m in sb.outbox if "Approval requested" in str(m.get("subject"))}
        assert "dana@example.com" not in asked and "U0DANA" not in asked
        assert {"erin@example.com", "frank@example.com"} <= asked


def test_a_registrant_unknown_to_the_policy_leaves_every_approver_eligible():
    with Sandbox(policy=_policy(), serve_api=False) as sb:
        sb.put_events(
            [
                _registered(
                    {
                        "UserProfileName": "studio-shared",
                        "IamIdentity": {"Arn": "arn:aws:iam::123456789012:user/ci"},
                    }
                )
            ]
        )
        assert _approvers_of(sb) == ["dana@example.com", "erin@example.com", "frank@example.com"]
