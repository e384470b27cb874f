"""Approval pages: hostile text is escaped everywhere, the CSP matches the page, the form posts with csrf."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from steward.approvals.page import (
    COMMENT_MAX_LENGTH,
    SECURITY_HEADERS,
    STYLESHEET,
    confirmation_page,
    message_page,
)

XSS = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>'<svg onload=alert(3)>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#x27;"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "section", "dl", "dt", "dd",
    "p", "strong", "span", "ul", "li", "div", "table", "thead", "tbody", "tr", "th", "td", "form", "input",
    "label", "textarea", "button",
}  # fmt: skip


class Page(HTMLParser):
    """The parsed page: every element with its attributes, and the text a browser would show."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.elements if t == tag]


def confirmation(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "group": "churn",
        "version": 7,
        "package_arn": "arn:aws:sagemaker:eu-west-1:111122223333:model-package/churn/7",
        "registered_by": "bob@example.com",
        "description": "XGBoost retrained on March data",
        "metrics": [
            {
                "name": "auc",
                "value": 0.913,
                "production": 0.897,
                "difference": 0.913 - 0.897,
                "threshold": ">= 0.88",
                "passed": True,
            },
            {
                "name": "latency_p99_ms",
                "value": 84,
                "production": 80,
                "difference": 4,
                "threshold": 120,
                "passed": True,
            },
            {
                "name": "recall",
                "value": 0.71,
                "production": 0.714,
                "difference": -0.004,
                "threshold": None,
                "passed": False,
            },
        ],
        "lineage_summary": ["s3://data/churn/2024-03 → training-job churn-train-42 → model.tar.gz"],
        "deployment_plan": ["staging → churn-staging (ml.m5.large \u00d71, canary)"],
        "approver": "alice@example.com",
        "expires_at_iso": "2024-03-02T10:00:00Z",
        "form_action": "/approvals/req-1?t=abc.def",
        "csrf": "csrf-value-123",
        "approvals_so_far": [],
        "quorum": 2,
    }
    args.update(overrides)
    return confirmation_page(**args)


def hostile_confirmation() -> str:
    return confirmation(
        group=XSS,
        version=XSS,
        package_arn=XSS,
        registered_by=XSS,
        description=XSS,
        metrics=[
            {
                "name": XSS,
                "value": XSS,
                "production": XSS,
                "difference": XSS,
                "threshold": XSS,
                "passed": XSS,
            }
        ],
        lineage_summary=[XSS, XSS],
        deployment_plan=[XSS],
        approver=XSS,
        expires_at_iso=XSS,
        form_action="/approvals/x?t=" + XSS,
        csrf=XSS,
        approvals_so_far=[XSS],
        comment=XSS,
    )


def assert_inert(html: str) -> None:
    """No markup of the attacker's survives: no script/img/svg, no event handler inside any tag."""
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<svg" not in lowered
    # Escaped values hold no raw quote, so dropping quoted attribute values leaves only our own markup.
    unquoted = re.sub(r'"[^"]*"', '""', lowered)
    assert re.search(r"<[^<>]*\bon[a-z]+\s*=", unquoted) is None
    assert "javascript:" not in lowered
    page = Page(html)
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    for _, attrs in page.elements:
        assert not any(name.startswith("on") or name == "style" for name in attrs)


def test_hostile_text_in_every_field_is_escaped():
    # Given attacker-controlled text in every field of the confirmation page
    html = hostile_confirmation()
    # When the page is rendered
    # Then none of it is markup, and each field shows the escaped text
    assert_inert(html)
    assert html.count(XSS_ESCAPED) >= 14
    # And the browser would display the original text, not interpret it
    page = Page(html)
    shown = "".join(page.text)
    assert shown.count(XSS) >= 10


@pytest.mark.parametrize(
    "field",
    [
        "group", "version", "package_arn", "registered_by", "description", "approver", "expires_at_iso",
        "csrf", "comment",
    ],
)  # fmt: skip
def test_each_field_on_its_own_is_escaped(field):
    # Given hostile text in one field only
    html = confirmation(**{field: XSS})
    # Then it appears escaped and inert (short fields such as the expiry are cut, hence the prefix)
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;" in html


@pytest.mark.parametrize("column", ["name", "value", "production", "difference", "threshold", "passed"])
def test_each_metric_column_is_escaped(column):
    row = {
        "name": "auc",
        "value": 0.9,
        "production": 0.8,
        "difference": 0.1,
        "threshold": 0.5,
        "passed": True,
    }
    html = confirmation(metrics=[{**row, column: XSS}])
    assert_inert(html)
    if column != "passed":  # a non-boolean "passed" renders as a dash, never as text
        assert XSS_ESCAPED[:40] in html


@pytest.mark.parametrize("field", ["lineage_summary", "deployment_plan", "approvals_so_far"])
def test_each_list_line_is_escaped(field):
    html = confirmation(**{field: ["fine", XSS]})
    assert_inert(html)
    assert XSS_ESCAPED in html


def test_a_comment_default_cannot_close_the_textarea():
    # Given a comment that tries to end the textarea and open a script
    html = confirmation(comment="</textarea><script>alert(1)</script>")
    # Then the textarea holds it as text
    assert_inert(html)
    assert "&lt;/textarea&gt;&lt;script&gt;" in html
    assert html.count("</textarea>") == 1


def test_attribute_breakout_in_the_form_action_and_csrf_is_escaped():
    html = confirmation(form_action='/a?t=x" formaction="https://evil', csrf='" autofocus onfocus="x')
    form = Page(html).all("form")[0]
    assert form["action"] == '/a?t=x" formaction="https://evil'
    hidden = Page(html).all("input")[0]
    assert set(hidden) == {"type", "name", "value"}
    assert_inert(html)


@pytest.mark.parametrize(
    "action", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:x", "data:text/html,x"]
)
def test_a_non_http_form_action_is_refused(action):
    with pytest.raises(ValueError, match="form_action"):
        confirmation(form_action=action)


def test_control_and_bidi_override_characters_are_dropped():
    # Given a name that uses a right-to-left override to disguise itself
    html = confirmation(group="churn\u202egnp.exe", description="a\x00b\x1bc")
    # Then the override and the control characters are gone
    assert "\u202e" not in html and "\x00" not in html and "\x1b" not in html
    assert "churngnp.exe" in html and "abc" in html


def test_long_descriptions_are_cut_visibly():
    html = confirmation(description="x" * 50_000)
    assert "x" * 1900 in html and "x" * 2001 not in html and "(truncated)" in html


def test_the_page_shows_what_is_being_approved():
    # Given a candidate with metrics against production, lineage and a deployment plan
    html = confirmation(approvals_so_far=["carol@example.com"])
    shown = " ".join(" ".join(Page(html).text).split())
    # Then the approver sees all of it, with signed differences
    for expected in (
        "churn",
        "version 7",
        "bob@example.com",
        "XGBoost retrained on March data",
        "+0.016",
        "-0.004",
        "+4",
        "0.897",
        ">= 0.88",
        "✓ pass",
        "✗ fail",
        "training-job churn-train-42",
        "staging → churn-staging (ml.m5.large \u00d71, canary)",
        "alice@example.com",
        "2024-03-02T10:00:00Z",
        "1 of 2 (carol@example.com)",
    ):
        assert expected in shown, expected


def test_the_form_posts_the_csrf_value_a_comment_and_a_decision():
    # Given a confirmation page
    page = Page(confirmation())
    # Then it holds exactly one form, posting to the given action
    (form,) = page.all("form")
    assert form["method"] == "post" and form["action"] == "/approvals/req-1?t=abc.def"
    # With the page's anti-forgery value in a hidden input named csrf
    (hidden,) = page.all("input")
    assert hidden == {"type": "hidden", "name": "csrf", "value": "csrf-value-123"}
    # A comment box capped at 1000 characters
    (textarea,) = page.all("textarea")
    assert textarea["name"] == "comment" and textarea["maxlength"] == str(COMMENT_MAX_LENGTH) == "1000"
    # And two submit buttons for the decision
    buttons = page.all("button")
    assert [(b["type"], b["name"], b["value"]) for b in buttons] == [
        ("submit", "decision", "approve"),
        ("submit", "decision", "reject"),
    ]


def test_the_pages_have_no_javascript_and_are_mobile_friendly():
    for html in (confirmation(), message_page("Link expired", "Ask for a new link.")):
        page = Page(html)
        assert not page.all("script") and "<script" not in html.lower()
        assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.all("meta")
        assert html.startswith("<!DOCTYPE html>")
        assert "max-width" in STYLESHEET and "min-height:3rem" in STYLESHEET


def style_src_hashes() -> list[str]:
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in csp.split(";")) if d}
    return [source.strip("'") for source in directives["style-src"]]


@pytest.mark.parametrize("render", [confirmation, lambda: message_page("t", "m", status="error")])
def test_the_csp_hash_matches_the_stylesheet_actually_served(render):
    # Given a rendered page
    html = render()
    # When its one inline stylesheet is hashed the way a browser does (exact text between the tags)
    (served,) = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    digest = "sha256-" + base64.b64encode(hashlib.sha256(served.encode("utf-8")).digest()).decode()
    # Then the CSP allows exactly that stylesheet, and no inline style attribute anywhere
    assert style_src_hashes() == [digest]
    assert " style=" not in html


def test_security_headers():
    # Given the headers every page is served with
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    # Then scripts, frames, foreign forms and base rewrites are all shut off, and nothing is cached
    for directive in (
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src" not in csp
    assert SECURITY_HEADERS["Cache-Control"] == "no-store"
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY"
    assert "camera=()" in SECURITY_HEADERS["Permissions-Policy"]


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Link expired", "This approval link has expired."),
        ("Link not valid", "This link was not issued by Steward."),
        ("Already used", "This link has already been used."),
        ("Not your link", "This link was issued to another approver."),
        ("Already decided", "churn v7 was already approved."),
        ("Decision recorded", "You approved churn v7."),
    ],
)
def test_message_pages_render_their_text(title, message):
    page = Page(message_page(title, message, status="success"))
    assert title in page.text and message in page.text
    assert not page.all("form") and not page.all("script")


def test_message_pages_escape_hostile_text_and_status():
    # Given hostile text in every argument, including the status used as a class name
    html = message_page(XSS, XSS, status='info" onclick="x')
    # Then it is inert and the status falls back to info
    assert_inert(html)
    assert html.count(XSS_ESCAPED) == 3  # title element, heading, paragraph
    assert 'class="status-info"' in html
