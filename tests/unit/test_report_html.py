"""The audit report's HTML (pure): every value escaped, the SVG included, nothing external, the CSP hash
that of the stylesheet served."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from steward.report.html import CSP, STYLESHEET, lineage_svg, report_html

EVIL = '"><script>alert(1)</script><svg onload=alert(2)><a href="javascript:x">\u202e\x1b[31m'


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)


def hostile_report() -> dict:
    return {
        "generatedAt": EVIL,
        "package": {
            "id": EVIL,
            "group": EVIL,
            "version": EVIL,
            "status": EVIL,
            "description": EVIL,
            "registeredBy": EVIL,
            "approvalDescription": EVIL,
            "createdAt": EVIL,
        },
        "code": {"images": [EVIL], "imageDigests": [EVIL], "repository": EVIL, "commitId": EVIL},
        "training": {
            "data": [EVIL],
            "code": [EVIL],
            "jobs": [{"id": EVIL, "kind": "training-job", "name": EVIL, "status": EVIL}],
            "pipelineRuns": [{"id": EVIL, "name": EVIL, "status": EVIL}],
            "ruleFindings": [{"job": EVIL, "rule": EVIL, "status": EVIL, "report": EVIL}],
        },
        "gate": {
            "passed": False,
            "decision": EVIL,
            "checks": [
                {
                    "metric": EVIL,
                    "value": 0.5,
                    "production": None,
                    "difference": None,
                    "rule": EVIL,
                    "passed": False,
                }
            ],
        },
        "approvals": [
            {
                "requestId": EVIL,
                "stage": EVIL,
                "status": EVIL,
                "quorum": 1,
                "approvers": [EVIL],
                "registrantIdentities": [EVIL],
                "createdAt": EVIL,
                "expiresAt": EVIL,
                "gateSummary": EVIL,
                "decisions": [
                    {"who": EVIL, "decision": "reject", "channel": EVIL, "at": EVIL, "comment": EVIL}
                ],
                "refusals": [{"who": EVIL, "reason": EVIL, "channel": EVIL, "at": EVIL}],
            }
        ],
        "deployments": [
            {
                "kind": EVIL,
                "stage": EVIL,
                "endpoint": EVIL,
                "status": EVIL,
                "strategy": EVIL,
                "approvedBy": [EVIL],
                "startedAt": EVIL,
                "endedAt": EVIL,
                "failureReason": EVIL,
            }
        ],
        "monitoring": [{"type": "alarm", "name": EVIL, "status": EVIL, "endpoint": EVIL, "at": EVIL}],
        "lineage": {
            "nodes": [
                {"id": EVIL, "kind": "dataset", "name": EVIL, "status": EVIL},
                {"id": "p", "kind": "model-package", "name": EVIL},
                {"id": "x", "kind": EVIL, "name": EVIL},  # an unknown kind is not drawn
            ],
            "edges": [{"from": EVIL, "to": "p", "relation": EVIL}],
        },
        "missing": [EVIL],
    }


def test_every_value_is_escaped_and_nothing_can_run_or_load() -> None:
    html = report_html(hostile_report())
    parsed = Parsed()
    parsed.feed(html)
    allowed = {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "main",
        "p",
        "h1",
        "h2",
        "h3",
        "section",
        "dl",
        "dt",
        "dd",
        "ul",
        "li",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "span",
        "strong",
        "svg",
        "defs",
        "marker",
        "path",
        "g",
        "rect",
        "text",
    }
    assert set(parsed.tags) <= allowed, set(parsed.tags) - allowed
    assert parsed.tags.count("svg") == 1  # ours; the hostile <svg onload> is text
    assert not {a for a in parsed.attributes if a.startswith("on")} and "href" not in parsed.attributes
    assert "\u202e" not in html and "\x1b" not in html  # bidi and terminal escapes removed
    assert "&lt;script&gt;" in html


def test_the_csp_hash_is_the_stylesheets_and_allows_nothing_else() -> None:
    digest = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CSP and "default-src 'none'" in CSP
    html = report_html(hostile_report())
    assert f"<style>{STYLESHEET}</style>" in html  # served verbatim, so the hash matches


def test_the_diagram_puts_each_node_below_what_it_came_from() -> None:
    graph = {
        "nodes": [
            {"id": "d", "kind": "dataset", "name": "s3://b/raw"},
            {"id": "t", "kind": "training-job", "name": "train"},
            {"id": "a", "kind": "model-artifact", "name": "s3://b/model.tar.gz"},
            {"id": "p", "kind": "model-package", "name": "g/1"},
            {"id": "s", "kind": "pipeline-step", "name": "not drawn"},
        ],
        "edges": [
            {"from": "d", "to": "t", "relation": "input"},
            {"from": "t", "to": "a", "relation": "produced"},
            {"from": "a", "to": "p", "relation": "packaged-as"},
            {"from": "d", "to": "p", "relation": "metrics"},  # a shortcut edge: p stays at the bottom
        ],
    }
    svg = lineage_svg(graph)
    rows = {
        m.group(2): float(m.group(1))
        for m in re.finditer(r'<rect x="[\d.]+" y="(\d+)".*?<text x="[\d.]+" y="\d+">([^<]+)</text></g>', svg)
    }
    assert rows["raw"] < rows["train"] < rows["model.tar.gz"] < rows["g/1"], rows
    assert "not drawn" not in svg and svg.count('marker-end="url(#arrow)"') == 4
