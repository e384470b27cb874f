"""Security of the approval flow, end to end on the sandbox: what the existing tests leave out.

Already covered elsewhere (not repeated here):
- tampered, truncated, oversize and garbage tokens; expired tokens; unknown or rotated keys; the
  anti-forgery value: tests/unit/test_approval_tokens.py, and over HTTP
  tests/integration/test_approvals.py::test_forged_links_change_nothing and
  ::test_a_post_without_the_pages_anti_forgery_value_is_refused_and_audited;
- an expired link changes nothing: test_approvals.py::test_reminders_then_expiry_on_schedule_and_...;
- the registrant and the excluded get no link: test_approvals.py::test_the_registrant_and_the_excluded_...;
- an operator deciding for someone who is not an approver: test_approvals.py::test_operators_list_...;
- Slack: wrong secret, stale timestamp, unknown user: test_approvals.py::test_slack_buttons_decide_only_...
  and tests/unit/test_slack_signature.py (replay with another body or timestamp);
- hostile text on the page and in notifications, field by field: tests/unit/test_approval_page.py,
  tests/unit/test_notifications.py, tests/integration/test_notifications.py::test_hostile_failure_reason_...;
- the approval token in the logs: test_approvals.py::test_tokens_never_appear_in_logs;
- a mail scanner's GET and HEAD, with a browser: tests/e2e/test_approval_browser.py (skippable).

Added here: a validly signed link for someone who is not an approver and for the registrant, a link used
twice (without a browser), GET/HEAD/OPTIONS scanners over plain HTTP, the registrant deciding through
every channel, a valid Slack request replayed, hostile text in every field of a registered version
through to the page, the emails and Slack, and no secret of any kind in the captured logs.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from html.parser import HTMLParser
from typing import Any

import pytest

from sandbox import Sandbox
from steward.approvals import tokens
from steward.approvals.models import ApprovalRequest
from tests.integration.test_approvals import csrf_of, http, link_of, status_of

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><svg/onload=alert(3)> &amp; <!channel> <https://evil.example|click>"
REGISTRANT = "dana@example.com"  # moto registers packages as Studio user profile "fake-user-profile-name"
APPROVERS = [
    {"email": "alice@example.com", "slack_user_id": "U0ALICE"},
    {"email": "bob@example.com"},
    {"email": REGISTRANT, "slack_user_id": "U0DANA", "identities": ["fake-user-profile-name"]},
]


def policy(quorum: int = 1) -> dict[str, Any]:
    return {
        "default": {
            "notifications": {
                "info": {"email": ["ops@example.com"], "slack": ["#ml"]},
                "warning": {"email": ["ops@example.com"], "slack": ["#ml"]},
            },
            "approval": {
                "approvers": APPROVERS,
                "quorum": quorum,
                "gate": {"thresholds": {"auc": {"min": 0.5}}},
            },
        }
    }


def register(sb: Sandbox, description: str = "fraud model", hostile: bool = False) -> str:
    sm = sb.client("sagemaker")
    with contextlib.suppress(sm.exceptions.ClientError):
        sm.create_model_package_group(ModelPackageGroupName="fraud")
    extra: dict[str, Any] = {}
    if hostile:
        extra = {
            "CustomerMetadataProperties": {"auc": "0.9", HOSTILE[:100]: "0.7"},
            "MetadataProperties": {"Repository": HOSTILE[:1000], "CommitId": HOSTILE[:1000]},
        }
    arn = sm.create_model_package(
        ModelPackageGroupName="fraud",
        ModelApprovalStatus="PendingManualApproval",
        ModelPackageDescription=description,
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **({"CustomerMetadataProperties": {"auc": "0.9"}} | extra),
    )["ModelPackageArn"]
    sb.drain()
    return str(arn)


def mint(sb: Sandbox, request_id: str, approver: str) -> str:
    """A link signed with the stack's real key: what a leaked key, or a bug issuing links, would give."""
    secret = sb.client("secretsmanager").get_secret_value(SecretId=f"steward/{sb.stage}/approval-signing")
    keys = {k: str(v).encode() for k, v in json.loads(secret["SecretString"]).items() if k != "active"}
    active = sorted(keys)[-1]
    token = tokens.issue_token(keys, active, request_id, approver, int(time.time()) + 3600)
    return f"{sb.api_url}/approvals/{token}"


def approval_node(sb: Sandbox, package: str) -> dict[str, Any]:
    return next(n for n in sb.lineage()["nodes"] if n["id"] == f"{package.lower()}/approval")


def refusals(sb: Sandbox, package: str) -> list[dict[str, Any]]:
    return [h for h in sb.lineage_store().history(f"{package.lower()}/approval") if h.get("refused")]


@pytest.fixture
def sb():
    with Sandbox(policy=policy()) as sandbox:
        yield sandbox


# --- tokens ---------------------------------------------------------------------------------------------


def test_a_validly_signed_link_for_someone_who_may_not_decide_changes_nothing(sb):
    arn = register(sb)
    for who in ("mallory@example.com", REGISTRANT):
        link = mint(sb, ApprovalRequest.id_for(arn), who)
        status, page, _ = http(link)
        assert status == 403 and "cannot decide" in page  # not an approver of this request: no form
        assert 'name="csrf"' not in page
        status, page, _ = http(link, {"csrf": "x", "decision": "approve"})
        assert status == 403 and status_of(sb, arn) == "PendingManualApproval"
        assert approval_node(sb, arn)["status"] == "Pending"
        assert any(r["refused"] == who for r in refusals(sb, arn))


def test_a_link_used_once_cannot_decide_again(sb):
    sb.set_policy(policy(quorum=2))
    arn = register(sb)
    link = link_of(sb, "alice@example.com")
    _, page, _ = http(link)
    form = {"csrf": csrf_of(page), "decision": "approve"}
    assert http(link, form)[0] == 200
    status, again, _ = http(link, form)  # the same POST replayed (a second tab, a resubmitted form)
    assert status == 409 and "already used" in again
    assert approval_node(sb, arn)["approvedBy"] == ["alice@example.com"]  # still one of the two needed
    assert status_of(sb, arn) == "PendingManualApproval"


def test_link_scanners_change_nothing_and_the_link_still_works(sb):
    import urllib.error
    import urllib.request

    arn = register(sb)
    link = link_of(sb, "alice@example.com")
    before = (status_of(sb, arn), approval_node(sb, arn), len(sb.outbox))
    for method in ("GET", "HEAD", "OPTIONS", "GET"):  # mail scanners, unfurlers, previews; more than once
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(link, method=method)).read()
    assert (status_of(sb, arn), approval_node(sb, arn), len(sb.outbox)) == before
    _, page, headers = http(link)  # not spent: the approver can still decide
    assert (
        "default-src 'none'" in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"
    )
    assert http(link, {"csrf": csrf_of(page), "decision": "approve"})[0] == 200
    assert status_of(sb, arn) == "Approved"


# --- separation of duties ---------------------------------------------------------------------------------


def _slack(sb: Sandbox, user: str, request_id: str, *, timestamp: int | None = None, body: str | None = None):
    from tests.integration.test_approvals import _slack_post

    secret = json.loads(
        sb.client("secretsmanager").get_secret_value(SecretId=sb.output("SlackSecretName"))["SecretString"]
    )["signing_secret"]
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": "steward_approve", "value": request_id}],
        "response_url": f"{sb.receiver.url}/slack/response/1",
    }
    return _slack_post(sb, payload, secret, timestamp=timestamp, body=body)


def test_the_registrant_cannot_approve_their_own_version_through_any_channel(sb):
    from steward_cli import main

    arn = register(sb)
    request_id = ApprovalRequest.id_for(arn)
    recipients = {m["to"] for m in sb.outbox if "Approval requested" in str(m.get("subject"))}
    assert REGISTRANT not in recipients and "U0DANA" not in recipients
    # an operator recording the registrant's approval
    assert main(["approve", request_id, "--as", REGISTRANT, "--api-url", sb.api_url]) == 2
    # the registrant's Slack button (a correctly signed press)
    assert _slack(sb, "U0DANA", request_id)[1]["outcome"] == "not-allowed"
    # a link signed for the registrant
    assert http(mint(sb, request_id, REGISTRANT), {"csrf": "x", "decision": "approve"})[0] == 403
    assert status_of(sb, arn) == "PendingManualApproval"
    # each attempt is refused and audited under the registrant's name (Slack ids map to the approver)
    assert [r["refused"] for r in refusals(sb, arn)].count(REGISTRANT) == 3


# --- Slack ------------------------------------------------------------------------------------------------


def test_a_valid_slack_request_replayed_decides_once(sb):
    sb.set_policy(policy(quorum=2))
    arn = register(sb)
    request_id = ApprovalRequest.id_for(arn)
    stamp = int(time.time())
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE"},
        "actions": [{"action_id": "steward_approve", "value": request_id}],
    }
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    assert _slack(sb, "U0ALICE", request_id, timestamp=stamp, body=body)[1]["outcome"] == "recorded"
    status, answer = _slack(sb, "U0ALICE", request_id, timestamp=stamp, body=body)  # captured and replayed
    assert status == 200 and answer["outcome"] == "used"
    assert approval_node(sb, arn)["approvedBy"] == ["alice@example.com"]
    assert status_of(sb, arn) == "PendingManualApproval"  # one approval of the two needed
    # replayed after the five-minute window: refused before anything is read
    assert _slack(sb, "U0ALICE", request_id, timestamp=stamp - 301, body=body)[0] == 401


# --- hostile text -----------------------------------------------------------------------------------------


class _Markup(HTMLParser):
    """The tags and attributes a browser would build from a document."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.active: list[str] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "img", "svg", "iframe", "object", "embed"):
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.active.append(f"<{tag} {name}={value!r}>")


def active_markup(document: str) -> list[str]:
    """What in `document` would run or load something: none of Steward's templates has any."""
    return _Markup(document).active


def test_hostile_text_in_every_field_stays_inert_on_the_page_in_emails_and_in_slack(sb):
    arn = register(sb, description=HOSTILE * 3, hostile=True)
    link = link_of(sb, "alice@example.com")
    status, page, _ = http(link)
    assert status == 200 and "alert(1)" in page  # shown, as text
    assert active_markup(page) == []
    _, done, _ = http(link, {"csrf": csrf_of(page), "decision": "approve", "comment": HOSTILE})
    assert active_markup(done) == []
    assert status_of(sb, arn) == "Approved"
    emails = [m for m in sb.outbox if m["channel"] == "email" and m.get("html")]
    assert len(emails) >= 3 and any("alert(1)" in m["html"] for m in emails)
    for message in emails:
        assert active_markup(message["html"]) == [], message["subject"]
    slack = [m for m in sb.outbox if m["channel"] == "slack"]
    assert slack
    for message in slack:
        text = json.dumps(message.get("raw") or message)
        # Slack mrkdwn: <, > and & are escaped, so no <!channel> ping and no disguised <url|label> link
        assert "<!channel>" not in text and "<https://evil.example|click>" not in text, message["subject"]


# --- secrets ----------------------------------------------------------------------------------------------


def _secret_strings(sb: Sandbox) -> list[str]:
    found = []
    client = sb.client("secretsmanager")
    for secret in client.list_secrets()["SecretList"]:
        value = client.get_secret_value(SecretId=secret["ARN"]).get("SecretString") or ""
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        leaves = parsed.values() if isinstance(parsed, dict) else [parsed]
        found += [str(v) for v in leaves if isinstance(v, str) and len(v) >= 8 and not v.startswith("http")]
    return found


def test_no_token_key_or_secret_reaches_the_logs(sb):
    arn = register(sb)
    link = link_of(sb, "alice@example.com")
    _, page, _ = http(link)
    http(link, {"csrf": csrf_of(page), "decision": "reject", "comment": "no"})
    other = register(sb)
    _slack(sb, "U0ALICE", ApprovalRequest.id_for(other))
    assert status_of(sb, arn) == "Rejected" and status_of(sb, other) == "Approved"
    secrets = _secret_strings(sb)
    assert len(secrets) >= 3  # the signing keys, the Slack bot token and signing secret, the webhook key
    token = link.rsplit("/", 1)[-1]
    sensitive = [*secrets, token, token.split(".")[1], csrf_of(page)]
    captured = "\n".join(sb.logs) + "\n" + json.dumps(sb.metrics)
    assert len(sb.logs) >= 10  # the flow was logged
    for value in sensitive:
        assert value not in captured, value[:6] + "…"
