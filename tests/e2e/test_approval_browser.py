"""The approval page as an approver uses it: the emailed link opened in a real (headless) Chromium.

Only public interfaces: a model version is registered in the sandbox's embedded SageMaker (which emits
the Model Package State Change that starts the approval), the approver's link is read from the email
captured in `sb.outbox`, the page is driven in the browser, and the outcome is read back from the
embedded registry and the lineage. Screenshots land in tests/e2e/artifacts/ (<test name>.png, the page
the test ended on, plus <test name>--<step>.png for the steps worth looking at).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from sandbox import Sandbox

pytestmark = pytest.mark.browser

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
REGISTRANT = "fake-user-profile-name"  # how moto's SageMaker reports who registered a package
EXPIRY_HOURS = 0.0015  # 5.4 s: long enough to open the page, short enough to wait out


def group_policy(name: str, **approval: Any) -> dict[str, Any]:
    """Three approvers, a gate (threshold and comparison with production), two promotion stages."""
    return {
        "approval": {
            "approvers": [{"email": ALICE}, {"email": BOB}, {"email": CAROL}],
            "quorum": 1,
            "reminder_hours_before_expiry": [],
            "gate": {
                "thresholds": {"auc": {"min": 0.88}},
                "compare_with_production": {"metric": "auc"},
            },
            **approval,
        },
        "stages": [
            {"name": "staging", "endpoint": f"{name}-staging", "strategy": "all-at-once"},
            {
                "name": "prod",
                "endpoint": f"{name}-prod",
                "instance_count": 2,
                "strategy": "canary",
                "requires_approval": True,
            },
        ],
    }


# One sandbox for the module; each test works on its own model package group.
POLICY = {
    "default": {"notifications": {"info": {"email": ["ml-ops@example.com"]}}},
    "groups": {
        "churn": group_policy("churn"),
        "credit": group_policy("credit"),
        "fraud": group_policy("fraud", quorum=2),
        "expiring": group_policy("expiring", expiry_hours=EXPIRY_HOURS),
        "mobile": group_policy("mobile"),
    },
}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(policy=POLICY) as sandbox:
        yield sandbox


# --- the sandbox side: register, read the mail, check the registry and the lineage ------------------


def register(sb: Sandbox, group: str, auc: float) -> str:
    """Register a version with an evaluation report in S3, as a SageMaker pipeline's RegisterModel does."""
    sm, s3 = sb.client("sagemaker"), sb.client("s3")
    with contextlib.suppress(s3.exceptions.ClientError):
        s3.create_bucket(Bucket="sagemaker-reports")
    key = f"{group}/{auc}/evaluation.json"
    s3.put_object(Bucket="sagemaker-reports", Key=key, Body=json.dumps({"metrics": {"auc": {"value": auc}}}))
    with contextlib.suppress(sm.exceptions.ClientError):
        sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        ModelPackageDescription=f"XGBoost {group} model retrained on November data",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": f"s3://models/{group}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://sagemaker-reports/{key}",
                }
            }
        },
    )["ModelPackageArn"]
    sb.drain()  # the registry's event → request_approval → the approvers' emails
    return arn


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def approval_link(sb: Sandbox, group: str, version: int, approver: str) -> str:
    """The approver's own link, from the HTML part of their email (and the same in the text part)."""
    mails = [
        m
        for m in sb.outbox
        if m["channel"] == "email"
        and m["to"] == approver
        and m["subject"].endswith(f"Approval requested: {group} version {version}")
    ]
    assert len(mails) == 1, [(m["to"], m["subject"]) for m in sb.outbox]
    anchors = _Anchors()
    anchors.feed(mails[0]["html"])
    links = [href for href in anchors.hrefs if href.startswith(f"{sb.api_url}/approvals/")]
    assert len(links) == 1, anchors.hrefs
    assert links[0] in mails[0]["text"]
    return links[0]


def http(
    url: str, method: str = "GET", form: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def approve_over_http(link: str) -> None:
    """What an approver's browser does, without one: GET the page, POST its form (sets up production)."""
    status, page, _ = http(link)
    assert status == 200, page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, page, _ = http(link, "POST", {"csrf": csrf, "decision": "approve", "comment": "baseline"})
    assert status == 200 and "Decision recorded" in page, page


def package(sb: Sandbox, arn: str) -> dict[str, Any]:
    return sb.client("sagemaker").describe_model_package(ModelPackageName=arn)


def approval_node(sb: Sandbox, arn: str) -> dict[str, Any]:
    """The version's approval record: the `approval` node its lineage links to (gated-by)."""
    graph = sb.lineage(id=arn, direction="downstream", depth=1)
    gated = {e["to"] for e in graph["edges"] if e["from"] == arn.lower() and e["relation"] == "gated-by"}
    # the version's own request; a stage that needs its own approval (prod) gets `<arn>/approval/<stage>`
    (node,) = [n for n in graph["nodes"] if n["kind"] == "approval" and n["id"] == f"{arn.lower()}/approval"]
    assert node["id"] in gated
    return node


def decisions(sb: Sandbox, arn: str) -> list[dict[str, Any]]:
    """The audit trail of the version's approval: the decisions recorded in the node's history."""
    history = sb.lineage_store().history(approval_node(sb, arn)["id"])
    return [h for h in history if h.get("decision") in ("approve", "reject")]


def unchanged(sb: Sandbox, arn: str, approved_by: list[str]) -> None:
    """The registry still waits for a decision and the approval record holds only what it held."""
    assert package(sb, arn)["ModelApprovalStatus"] == "PendingManualApproval"
    node = approval_node(sb, arn)
    assert node["status"] == "Pending" and node["approvedBy"] == approved_by


# --- the browser side -------------------------------------------------------------------------------


def by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return {"css": By.CSS_SELECTOR, "xpath": By.XPATH, "tag": By.TAG_NAME}[kind]


def heading(driver: Any) -> str:
    return driver.find_element(by("tag"), "h1").text


def shown(driver: Any) -> str:
    """The page's visible text, whitespace collapsed."""
    return " ".join(driver.find_element(by("tag"), "body").text.split())


def facts(driver: Any) -> dict[str, str]:
    """The page's summary list: each <dt> label with its <dd> value."""
    terms = driver.find_elements(by("css"), "dl dt")
    values = driver.find_elements(by("css"), "dl dd")
    return {t.text: v.text for t, v in zip(terms, values, strict=True)}


def metric_rows(driver: Any, metric: str) -> list[list[str]]:
    """The metrics table's rows for one metric (one per check): metric, candidate, production,
    difference, rule, result."""
    rows = driver.find_elements(by("xpath"), f"//table//tr[td[1][normalize-space()='{metric}']]")
    return [[c.text.strip() for c in row.find_elements(by("tag"), "td")] for row in rows]


def submit(driver: Any, decision: str, comment: str) -> None:
    """Type the comment and press Approve or Reject; wait for the page the POST returns."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(by("css"), "textarea[name=comment]")
    box.clear()
    box.send_keys(comment)
    before = driver.find_element(by("tag"), "h1")
    driver.find_element(by("css"), f"button[name=decision][value={decision}]").click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(before))


def assert_nothing_hidden_sideways(driver: Any) -> None:
    """No column of the metrics table is cut off inside its scroll box, and the page is no wider
    than the window."""
    overflowing = driver.execute_script(
        "return [...document.querySelectorAll('table')].map(t => t.parentElement)"
        "  .filter(box => box.scrollWidth > box.clientWidth).length"
    )
    assert overflowing == 0
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def csp_violations(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def assert_styled_and_nothing_blocked(driver: Any) -> None:
    """The stylesheet applied (its CSP hash matches in a real browser) and no CSP violation was logged."""
    approve = driver.find_element(by("css"), "button[value=approve]")
    reject = driver.find_element(by("css"), "button[value=reject]")
    colours = {b.value_of_css_property("background-color") for b in (approve, reject)}
    # Chromium's unstyled button is light grey; ours are two distinct, saturated colours
    assert len(colours) == 2 and not colours & {"rgba(239, 239, 239, 1)", "rgba(0, 0, 0, 0)"}, colours
    assert csp_violations(driver) == []


# --- the scenarios ----------------------------------------------------------------------------------


def test_an_approver_approves_from_the_emailed_link(sb, browser, screenshot):
    # Given version 1 of churn approved (so it is production) and version 2 registered with a better AUC
    production = register(sb, "churn", auc=0.90)
    approve_over_http(approval_link(sb, "churn", 1, CAROL))
    assert package(sb, production)["ModelApprovalStatus"] == "Approved"
    arn = register(sb, "churn", auc=0.93)
    link = approval_link(sb, "churn", 2, ALICE)

    # When a mail scanner fetches the link first (GET and HEAD)
    status, body, headers = http(link)
    http(link, "HEAD")
    # Then it gets the page with its security headers, and nothing is decided or spent
    assert status == 200 and "Approve churn version 2?" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    unchanged(sb, arn, approved_by=[])

    # When Alice opens her link
    browser.get(link)
    # Then the page says what she is approving: group, version, who registered it, the metrics
    assert heading(browser) == "Approve churn version 2?"
    summary = facts(browser)
    assert summary["Model group"] == "churn" and summary["Version"] == "2"
    assert summary["Package"] == arn and summary["Registered by"] == REGISTRANT
    assert summary["Approvals"] == "0 of 1 (none yet)"
    auc = metric_rows(browser, "auc")
    # the threshold, and the comparison with production (version 1): candidate, production, difference
    assert [">= 0.88", "✓ pass"] in [row[4:] for row in auc], auc
    assert ["auc", "0.93", "0.9", "+0.03"] in [row[:4] for row in auc], auc
    assert {row[5] for row in auc} == {"✓ pass"}, auc
    # what deploys where, and as whom she decides
    page = shown(browser)
    assert "churn-staging" in page and "churn-prod" in page
    assert f"Deciding as {ALICE}" in page
    assert_styled_and_nothing_blocked(browser)
    assert_nothing_hidden_sideways(browser)
    screenshot("page")

    # When she approves with a comment
    submit(browser, "approve", "Ship it: +0.03 AUC over version 1")
    # Then she sees the confirmation
    assert heading(browser) == "Decision recorded"
    assert "Version 2 of churn is now approved" in shown(browser)
    # And the registry holds the decision, naming her and her comment
    described = package(sb, arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert ALICE in described["ApprovalDescription"]
    assert "Ship it: +0.03 AUC over version 1" in described["ApprovalDescription"]
    # And the version's lineage has the audited approval: who, through which channel, with what comment
    node = approval_node(sb, arn)
    assert node["status"] == "Approved" and node["approvedBy"] == [ALICE]
    (decision,) = decisions(sb, arn)
    assert decision["by"] == ALICE and decision["decision"] == "approve" and decision["channel"] == "link"
    assert decision["comment"] == "Ship it: +0.03 AUC over version 1"
    # And promotion started for exactly this version: a deployment of it to the first stage's endpoint
    graph = sb.lineage(id=arn, direction="downstream", depth=2)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes[arn.lower()]["status"] == "Approved"
    kind = {node_id: node["kind"] for node_id, node in nodes.items()}
    deployments = {
        e["to"] for e in graph["edges"] if e["from"] == arn.lower() and kind.get(e["to"]) == "deployment"
    }
    targets = {
        nodes[e["to"]]["name"]
        for e in graph["edges"]
        if e["from"] in deployments and kind.get(e["to"]) == "endpoint"
    }
    assert targets == {"churn-staging"}, graph

    # When the links are opened again (hers, and Bob's, who no longer needs to decide)
    for again in (link, approval_link(sb, "churn", 2, BOB)):
        browser.get(again)
        # Then the page says it is decided, offers no form, and changes nothing
        assert heading(browser) == "Already decided"
        assert "Version 2 of churn is approved. Nothing was changed." in shown(browser)
        assert browser.find_elements(by("tag"), "form") == []
    assert len(decisions(sb, arn)) == 1


def test_an_approver_rejects_with_a_comment(sb, browser, screenshot):
    # Given the first version of credit, so there is nothing in production to compare with
    arn = register(sb, "credit", auc=0.91)
    browser.get(approval_link(sb, "credit", 1, BOB))
    assert heading(browser) == "Approve credit version 1?"
    auc = metric_rows(browser, "auc")
    assert ["auc", "0.91", "—", "—", ">= 0.88", "✓ pass"] in auc, auc
    assert ["auc", "0.91", "—", "—", "no production version to compare with", "✓ pass"] in auc, auc
    screenshot("page")

    # When Bob rejects it, saying why (markup in a comment is only text)
    comment = "Drift on tenure: retrain with <b>March</b> data"
    submit(browser, "reject", comment)

    # Then he sees the confirmation, and the registry says Rejected with his name and comment
    assert heading(browser) == "Decision recorded"
    assert "Version 1 of credit is now rejected" in shown(browser)
    described = package(sb, arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert BOB in described["ApprovalDescription"] and comment in described["ApprovalDescription"]
    # And the audit trail in the lineage has the rejection with the comment
    assert approval_node(sb, arn)["status"] == "Rejected"
    (decision,) = decisions(sb, arn)
    assert (decision["by"], decision["decision"], decision["comment"]) == (BOB, "reject", comment)

    # And another approver's link now says it was decided
    browser.get(approval_link(sb, "credit", 1, ALICE))
    assert heading(browser) == "Already decided"
    assert "Version 1 of credit is rejected" in shown(browser)


def test_an_expired_link_changes_nothing(sb, browser, screenshot):
    # Given a group whose links expire after a few seconds, and Alice's page opened in time
    arn = register(sb, "expiring", auc=0.92)
    link = approval_link(sb, "expiring", 1, ALICE)
    expires = datetime.fromisoformat(approval_node(sb, arn)["expiresAt"]).timestamp()
    browser.get(link)
    assert heading(browser) == "Approve expiring version 1?", (
        f"the page opened {time.time() - expires:+.1f}s after expiry: the machine is too slow for "
        f"EXPIRY_HOURS={EXPIRY_HOURS}"
    )
    screenshot("page")

    # When she only presses Approve once the link has expired
    time.sleep(max(0.0, expires - time.time()) + 0.5)
    submit(browser, "approve", "looks fine")

    # Then the page says it expired, and nothing was decided
    assert heading(browser) == "This link has expired"
    assert "Nothing was changed" in shown(browser)
    unchanged(sb, arn, approved_by=[])
    assert decisions(sb, arn) == []
    # And opening the link again says the same (410 Gone), with no form to submit
    assert http(link)[0] == 410
    browser.get(link)
    assert heading(browser) == "This link has expired"
    assert browser.find_elements(by("tag"), "form") == []
    unchanged(sb, arn, approved_by=[])


def test_a_reused_link_changes_nothing(sb, browser, screenshot):
    # Given a group that needs two approvals, and Alice's link open in two tabs
    arn = register(sb, "fraud", auc=0.94)
    link = approval_link(sb, "fraud", 1, ALICE)
    browser.get(link)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(link)
    second = browser.current_window_handle
    assert heading(browser) == "Approve fraud version 1?"

    # When she approves in the first tab
    browser.switch_to.window(first)
    submit(browser, "approve", "ok")
    assert heading(browser) == "Decision recorded"
    assert "1 of 2 approvals so far for version 1 of fraud" in shown(browser)
    screenshot("recorded")
    # And submits the stale form in the second tab
    browser.switch_to.window(second)
    submit(browser, "approve", "ok again")

    # Then the link is spent: the page says so and her approval counts once
    assert heading(browser) == "This link was already used"
    assert "Nothing was changed" in shown(browser)
    unchanged(sb, arn, approved_by=[ALICE])
    assert [d["by"] for d in decisions(sb, arn)] == [ALICE]
    # And opening it again says the same (409), with no form
    assert http(link)[0] == 409
    browser.get(link)
    assert heading(browser) == "This link was already used"
    assert browser.find_elements(by("tag"), "form") == []

    # While Bob's page shows her approval so far and still lets him decide
    browser.get(approval_link(sb, "fraud", 1, BOB))
    assert facts(browser)["Approvals"] == f"1 of 2 ({ALICE})"
    assert browser.find_elements(by("css"), "button[value=approve]")
    unchanged(sb, arn, approved_by=[ALICE])


def test_the_page_on_a_phone(sb, phone, screenshot):
    # Given a registered version (its metrics table has six columns: more than a phone's width)
    arn = register(sb, "mobile", auc=0.95)

    # When Alice opens her link on a phone (390x844 CSS pixels)
    phone.get(approval_link(sb, "mobile", 1, ALICE))
    assert heading(phone) == "Approve mobile version 1?"
    width = phone.execute_script("return window.innerWidth")
    assert width == 390

    # Then nothing scrolls sideways: not the page, and not the metrics table inside it
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width
    assert_nothing_hidden_sideways(phone)
    assert ["auc", "0.95", "—", "—", ">= 0.88", "✓ pass"] in metric_rows(phone, "auc")
    # And both buttons are on screen, side by side or stacked, full-size tap targets inside the width
    for button in phone.find_elements(by("css"), "button[name=decision]"):
        phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        rect = button.rect
        assert button.is_displayed() and button.is_enabled(), button.text
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= width, (button.text, rect)
        assert rect["height"] >= 44, (button.text, rect)  # the usual minimum touch target
    # And the text is readable without zooming
    body_size = phone.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_size >= 16
    assert_styled_and_nothing_blocked(phone)
    phone.execute_script("window.scrollTo(0, 0)")
    screenshot("page")

    # When she approves from the phone, the confirmation fits too
    submit(phone, "approve", "approved from my phone")
    assert heading(phone) == "Decision recorded"
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width
    assert package(sb, arn)["ModelApprovalStatus"] == "Approved"
