"""Approvals at their edges: a genuine link used too late is audited; a version approved outside Steward
first, then properly through Steward, is deployed."""

from __future__ import annotations

import time

from sandbox import Sandbox
from tests.integration.test_approvals import csrf_of, http, link_of, policy, register


def test_a_genuine_link_used_after_expiry_is_refused_and_audited():
    with Sandbox(policy=policy(expiry_hours=0.001, reminder_hours_before_expiry=[])) as sb:
        # Given Alice opened her link while it was valid
        arn = register(sb)
        link = link_of(sb, "alice@example.com")
        _, page, _ = http(link)
        csrf = csrf_of(page)
        # When she posts her decision after the link expired (3.6 s)
        time.sleep(4)
        status, answer, _ = http(link, {"csrf": csrf, "decision": "approve", "comment": "late"})
        # Then it is refused, changes nothing, and the attempt is in the audit trail
        assert status in (403, 409, 410), (status, answer[:300])
        assert sb.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
            "PendingManualApproval"
        )
        history = sb.lineage_store().history(f"{arn.lower()}/approval")
        assert any(
            h.get("refused") == "alice@example.com" and h.get("reason") == "expired" for h in history
        ), history


def test_approved_in_the_registry_first_then_through_steward_is_deployed():
    from tests.integration import test_promotion as promo

    with Sandbox(policy=promo.policy()) as sb:
        # Given a version approved in the registry (console) while its Steward request was pending:
        arn = promo.register(sb)
        sm = sb.client("sagemaker")
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        sb.drain()
        # promotion refuses it (no Steward approval yet)
        [refused] = promo.ours(promo.deployments(sb, "fraud-staging"))
        assert refused["status"] == "refused" and "pending, not approved" in refused["failureReason"]
        # When Alice then approves it through her emailed link
        link = link_of(sb, "alice@example.com")
        _, page, _ = http(link)
        status, _, _ = http(link, {"csrf": csrf_of(page), "decision": "approve", "comment": "checked"})
        assert status == 200
        sb.drain()
        # Then the very same version is deployed to its first stage
        [deployment] = promo.ours(promo.deployments(sb, "fraud-staging"))
        assert deployment["status"] == "succeeded", deployment
        assert deployment["modelPackageArn"] == arn and deployment["approvedBy"] == ["alice@example.com"]
