"""The approval gate on the sandbox: gate outcomes, the link flow over real HTTP, and every refusal."""

from __future__ import annotations

import contextlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sandbox import Sandbox

APPROVERS = [{"email": "alice@example.com"}, {"email": "bob@example.com"}, {"email": "carol@example.com"}]


def policy(quorum=1, **approval):
    return {
        "default": {
            "notifications": {
                "info": {"email": ["ops@example.com"]},
                "warning": {"email": ["ops@example.com"]},
            },
            "approval": {
                "approvers": APPROVERS,
                "quorum": quorum,
                "gate": {"thresholds": {"auc": {"min": 0.88}}},
                **approval,
            },
        }
    }


def register(sb, auc=0.91, group="fraud", created_by=None):
    sm, s3 = sb.client("sagemaker"), sb.client("s3")
    s3.create_bucket(Bucket="sagemaker-reports")
    s3.put_object(
        Bucket="sagemaker-reports",
        Key=f"{group}/{auc}/evaluation.json",
        Body=json.dumps({"metrics": {"auc": {"value": auc}}}),
    )
    with contextlib.suppress(sm.exceptions.ClientError):
        sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        ModelPackageDescription='<script>alert("x")</script> fraud model',
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://sagemaker-reports/{group}/{auc}/evaluation.json",
                }
            }
        },
    )["ModelPackageArn"]
    sb.drain()
    return arn


def link_of(sb, who):
    mails = [
        m
        for m in sb.outbox
        if m["channel"] == "email" and m["to"] == who and "Approval requested" in m["subject"]
    ]
    assert len(mails) == 1, [m["subject"] for m in sb.outbox]
    return mails[0]["links"][0]


def http(url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")
        ) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def csrf_of(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def status_of(sb, arn):
    return sb.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def decide(sb, link, decision, comment=""):
    _, page, _ = http(link)
    return http(link, {"csrf": csrf_of(page), "decision": decision, "comment": comment})


def test_gate_rejects_a_version_below_threshold_with_the_numbers():
    with Sandbox(policy=policy()) as sb:
        arn = register(sb, auc=0.84)
        package = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert package["ModelApprovalStatus"] == "Rejected"
        assert "auc=0.84 (>= 0.88, FAILED)" in package["ApprovalDescription"]
        assert not [m for m in sb.outbox if "Approval requested" in m["subject"]]


def test_gate_can_auto_approve_with_the_numbers_recorded():
    with Sandbox(policy=policy(gate={"thresholds": {"auc": {"min": 0.88}}, "on_pass": "approve"})) as sb:
        arn = register(sb, auc=0.95)
        assert status_of(sb, arn) == "Approved"
        node = {n["id"]: n for n in sb.lineage()["nodes"]}[f"{arn.lower()}/approval"]
        assert node["status"] == "Approved"


def test_each_approver_gets_their_own_link_and_approval_over_http_approves():
    with Sandbox(policy=policy()) as sb:
        arn = register(sb)
        links = {who: link_of(sb, who) for who in ("alice@example.com", "bob@example.com")}
        assert links["alice@example.com"] != links["bob@example.com"]
        # GET shows the page and changes nothing (mail scanners, unfurlers)
        status, page, headers = http(links["alice@example.com"])
        assert status == 200 and status_of(sb, arn) == "PendingManualApproval"
        assert "fraud" in page and "&lt;script&gt;" in page and "<script>" not in page
        assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        # POST from the page decides
        status, page, _ = http(
            links["alice@example.com"], {"csrf": csrf_of(page), "decision": "approve", "comment": "ok"}
        )
        assert status == 200 and "approved" in page
        assert status_of(sb, arn) == "Approved"
        description = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)[
            "ApprovalDescription"
        ]
        assert "alice@example.com" in description
        # the registry's event came back and the lineage records the approval with its audit trail
        nodes = {n["id"]: n for n in sb.lineage()["nodes"]}
        assert nodes[arn.lower()]["status"] == "Approved"
        assert nodes[f"{arn.lower()}/approval"]["approvedBy"] == ["alice@example.com"]
        history = sb.lineage_store().history(f"{arn.lower()}/approval")
        assert any(h.get("by") == "alice@example.com" and h.get("channel") == "link" for h in history)


def test_quorum_needs_distinct_approvers():
    with Sandbox(policy=policy(quorum=2)) as sb:
        arn = register(sb)
        link = link_of(sb, "alice@example.com")
        _, page, _ = http(link)
        form = {"csrf": csrf_of(page), "decision": "approve"}
        assert http(link, form)[0] == 200
        assert status_of(sb, arn) == "PendingManualApproval"
        # the same link again, page or replayed POST: refused, nothing changes
        status, page, _ = http(link)
        assert status == 409 and "already used" in page
        assert http(link, form)[0] == 409
        assert status_of(sb, arn) == "PendingManualApproval"
        decide(sb, link_of(sb, "bob@example.com"), "approve")
        assert status_of(sb, arn) == "Approved"


def test_one_rejection_rejects_with_the_comment():
    with Sandbox(policy=policy(quorum=2)) as sb:
        arn = register(sb)
        decide(sb, link_of(sb, "alice@example.com"), "approve")
        decide(sb, link_of(sb, "bob@example.com"), "reject", "drift on tenure <b>!</b>")
        package = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert package["ModelApprovalStatus"] == "Rejected"
        assert (
            "bob@example.com" in package["ApprovalDescription"]
            and "drift on tenure" in package["ApprovalDescription"]
        )
        status, page, _ = http(link_of(sb, "carol@example.com"))
        assert status == 409 and "Already decided" in page


def test_the_registrant_and_the_excluded_get_no_link_and_cannot_decide():
    # moto registers packages as Studio user profile "fake-user-profile-name"
    approvers = [{"email": "dana@example.com", "identities": ["fake-user-profile-name"]}, *APPROVERS]
    with Sandbox(policy=policy(approvers=approvers, excluded=["carol@example.com"])) as sb:
        arn = register(sb)
        recipients = {m["to"] for m in sb.outbox if "Approval requested" in m["subject"]}
        assert recipients == {"alice@example.com", "bob@example.com"}
        request = sb.lineage()["nodes"]
        approval = next(n for n in request if n["id"] == f"{arn.lower()}/approval")
        assert approval["approvers"] == ["alice@example.com", "bob@example.com"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),
        lambda link: link.rsplit("/", 1)[0] + "/not-a-token",
        lambda link: link.rsplit("/", 1)[0] + "/" + "x" * 3000,
    ],
)
def test_forged_links_change_nothing(mutate):
    with Sandbox(policy=policy()) as sb:
        arn = register(sb)
        forged = mutate(link_of(sb, "alice@example.com"))
        status, page, _ = http(forged)
        assert status in (403, 414) and "Traceback" not in page
        status, page, _ = http(forged, {"csrf": "x", "decision": "approve"})
        assert status in (403, 414) and status_of(sb, arn) == "PendingManualApproval"


def test_a_post_without_the_pages_anti_forgery_value_is_refused_and_audited():
    with Sandbox(policy=policy()) as sb:
        arn = register(sb)
        status, _, _ = http(link_of(sb, "alice@example.com"), {"csrf": "guess", "decision": "approve"})
        assert status == 403 and status_of(sb, arn) == "PendingManualApproval"
        history = sb.lineage_store().history(f"{arn.lower()}/approval")
        assert any(h.get("refused") == "alice@example.com" for h in history)


def test_duplicate_registration_events_open_one_request():
    with Sandbox(policy=policy()) as sb:
        arn = register(sb)
        event = {
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Package State Change",
            "detail": sb.client("sagemaker").describe_model_package(ModelPackageName=arn) | {},
        }
        event["detail"] = json.loads(json.dumps(event["detail"], default=str))
        event["detail"].pop("ResponseMetadata", None)
        sb.put_events([event, event])
        assert (
            len(
                [
                    m
                    for m in sb.outbox
                    if m["to"] == "alice@example.com" and "Approval requested" in m["subject"]
                ]
            )
            == 1
        )


def test_tokens_never_appear_in_logs():
    with Sandbox(policy=policy()) as sb:
        register(sb)
        link = link_of(sb, "alice@example.com")
        decide(sb, link, "approve")
        token = link.rsplit("/", 1)[-1]
        assert token not in "\n".join(sb.logs)


def test_reminders_then_expiry_on_schedule_and_expired_links_change_nothing():
    import time

    quick = policy(expiry_hours=0.001, reminder_hours_before_expiry=[0.0009], on_expiry="reject")
    with Sandbox(policy=quick) as sb:
        arn = register(sb)
        link = link_of(sb, "alice@example.com")
        time.sleep(0.5)
        report = sb.run_schedules("sweep-approvals")[0]["targets"][0]["result"]
        assert len(report["reminded"]) == 1
        reminders = [
            m for m in sb.outbox if m["subject"].startswith("[Steward] Reminder: Approval requested")
        ]
        assert {m["to"] for m in reminders} == {"alice@example.com", "bob@example.com", "carol@example.com"}
        assert sb.run_schedules("sweep-approvals")[0]["targets"][0]["result"]["reminded"] == []  # once
        time.sleep(3.3)
        assert len(sb.run_schedules("sweep-approvals")[0]["targets"][0]["result"]["expired"]) == 1
        assert status_of(sb, arn) == "Rejected"
        status, page, _ = http(link)
        assert status in (409, 410) and "Nothing was changed" in page
        node = next(n for n in sb.lineage()["nodes"] if n["id"] == f"{arn.lower()}/approval")
        assert node["status"] == "Expired"


def test_operators_list_pending_requests_and_decide_for_an_approver(capsys):
    from steward_cli import main

    with Sandbox(policy=policy()) as sb:
        arn = register(sb)
        assert main(["approvals", "--api-url", sb.api_url, "--json"]) == 0
        pending = json.loads(capsys.readouterr().out)["items"]
        assert [p["package_arn"] for p in pending] == [arn]
        request_id = pending[0]["id"]
        # someone who is not an approver is refused (and audited)
        assert main(["approve", request_id, "--as", "mallory@example.com", "--api-url", sb.api_url]) == 2
        assert status_of(sb, arn) == "PendingManualApproval"
        assert (
            main(
                [
                    "approve",
                    request_id,
                    "--as",
                    "bob@example.com",
                    "--comment",
                    "ok by phone",
                    "--api-url",
                    sb.api_url,
                ]
            )
            == 0
        )
        assert "approved" in capsys.readouterr().out
        assert status_of(sb, arn) == "Approved"
        history = sb.lineage_store().history(f"{arn.lower()}/approval")
        decision = next(h for h in history if h.get("by") == "bob@example.com")
        assert decision["channel"] == "operator" and decision["source"].startswith("arn:aws:iam::")
        assert any(h.get("refused") == "mallory@example.com" for h in history)


def _slack_post(sb, payload, secret, timestamp=None, body=None):
    import hashlib
    import hmac
    import time

    body = body if body is not None else "payload=" + urllib.parse.quote(json.dumps(payload))
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{sb.api_url}/slack/interactions",
        data=body.encode(),
        method="POST",
        headers={
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_slack_buttons_decide_only_with_a_valid_fresh_signature():
    approvers = [{"email": "alice@example.com", "slack_user_id": "U0ALICE"}, {"email": "bob@example.com"}]
    with Sandbox(policy=policy(approvers=approvers)) as sb:
        arn = register(sb)
        dm = [m for m in sb.outbox if m["channel"] == "slack" and m["to"] == "U0ALICE"]
        assert len(dm) == 1
        buttons = next(
            b for b in dm[0]["blocks"] if b["type"] == "actions" and b.get("block_id") == "steward_decision"
        )
        approve = next(e for e in buttons["elements"] if e["action_id"] == "steward_approve")
        secret = json.loads(
            sb.client("secretsmanager").get_secret_value(SecretId=sb.output("SlackSecretName"))[
                "SecretString"
            ]
        )["signing_secret"]
        payload = {
            "type": "block_actions",
            "user": {"id": "U0ALICE"},
            "actions": [approve],
            "response_url": f"{sb.receiver.url}/slack/response/1",
        }
        # forged, stale and replayed-with-another-body requests change nothing
        assert _slack_post(sb, payload, "wrong-secret")[0] == 401
        assert _slack_post(sb, payload, secret, timestamp=0)[0] == 401
        assert status_of(sb, arn) == "PendingManualApproval"
        # an unknown Slack user is refused
        stranger = dict(payload, user={"id": "U0MALLORY"})
        assert _slack_post(sb, stranger, secret)[1]["outcome"] == "not-allowed"
        # the approver's signed press decides and the original message is updated
        status, answer = _slack_post(sb, payload, secret)
        assert status == 200 and answer["outcome"] == "recorded"
        assert status_of(sb, arn) == "Approved"
        updates = [m for m in sb.outbox if m["channel"] == "slack-response"]
        assert updates and "approved" in updates[-1]["text"]
        history = sb.lineage_store().history(f"{arn.lower()}/approval")
        assert any(h.get("channel") == "slack" and h.get("by") == "alice@example.com" for h in history)


def test_the_page_shows_where_it_will_deploy_and_compares_with_what_production_serves():
    stages = [
        {"name": "staging", "endpoint": "fraud-staging", "strategy": "all-at-once"},
        {"name": "prod", "endpoint": "fraud-prod", "instance_count": 2, "requires_approval": True},
    ]
    gate = {"thresholds": {"auc": {"min": 0.88}}, "compare_with_production": {"metric": "auc"}}
    document = policy(gate=gate)
    document["default"]["stages"] = stages
    with Sandbox(policy=document) as sb:
        first = register(sb, auc=0.90)
        decide(sb, link_of(sb, "alice@example.com"), "approve")
        assert status_of(sb, first) == "Approved"
        second = register(sb, auc=0.93)
        page = http(
            next(m for m in sb.outbox if m["to"] == "bob@example.com" and "version 2" in m["subject"])[
                "links"
            ][0]
        )[1]
        assert "fraud-staging" in page and "fraud-prod" in page and "own approval" in page
        assert "0.9" in page and "+0.03" in page  # production's value and the difference
        assert status_of(sb, second) == "PendingManualApproval"
