"""The audit report as one self-contained HTML file (pure): no script, no external asset, an inline
SVG lineage diagram, printable to PDF. Every value is attacker-controllable text (names, descriptions,
comments, tags), so everything interpolated goes through `escape` (sanitize, cut, html.escape), in the
SVG too; a Content-Security-Policy meta tag allows only the stylesheet below, by hash, even offline.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from steward.approvals.page import STYLESHEET as PAGE_STYLESHEET
from steward.approvals.page import escape, metrics_table, number
from steward.promotion.integration import summary

# The lineage diagram: each kind drawn, and its colour (steps and groups add nothing an auditor reads).
_COLOURS: Final = {
    "dataset": "#e3ecfa",
    "processing-job": "#fdf0d9",
    "training-job": "#fde2d4",
    "tuning-job": "#fde2d4",
    "transform-job": "#fdf0d9",
    "pipeline-execution": "#ece6f7",
    "model-artifact": "#e0f2e7",
    "model-package": "#c9ebd4",
    "deployment": "#f1f3f6",
    "endpoint": "#dbe9f2",
}
STYLESHEET: Final = (
    PAGE_STYLESHEET
    + "".join(f".k-{k}{{background:{c}}}\n" for k, c in _COLOURS.items())
    + """
main{max-width:60rem}
.diagram{max-width:100%;height:auto;display:block;margin:0 auto}
.diagram text{font:11px/1 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;fill:#1d2330}
.diagram .kind{fill:#5a6272;font-size:9px;text-transform:uppercase;letter-spacing:.04em}
.diagram path{fill:none;stroke:#8a93a3;stroke-width:1.2}
.diagram path.soft{stroke:#c5cad3;stroke-dasharray:3 3}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.85rem;color:#5a6272;margin:.5rem 0 0;padding:0;
list-style:none}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-.1rem}
.when{white-space:nowrap}
.cards td{overflow-wrap:anywhere}
.ok{color:#12703a;font-weight:600}
.bad{color:#b3261e;font-weight:600}
@media (max-width:36rem){
.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.cards tr{display:block;padding:.5rem 0;border-bottom:1px solid #eceff3}
.cards td{display:flex;justify-content:space-between;gap:1rem;padding:.15rem 0;border:0;text-align:right;
overflow-wrap:anywhere;word-break:break-word}
.cards td::before{content:attr(data-label);color:#5a6272;text-align:left;font-weight:400;flex:none}
.cards td>span{min-width:0}
dl{grid-template-columns:1fr}
dd{margin:0 0 .4rem}
}
@media print{
body{background:#fff;font-size:11pt}
main{max-width:none;padding:0}
section{break-inside:avoid;border:0;border-top:1px solid #dde1e8;border-radius:0;padding:.5rem 0}
.scroll{overflow:visible}
}
"""
)
STYLESHEET_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CSP: Final = (
    f"default-src 'none'; style-src '{STYLESHEET_HASH}'; img-src 'none'; base-uri 'none'; form-action 'none'"
)

_BOX_W: Final = 190
_ROW: Final = 74
_BOX_H: Final = 44
_PER_ROW: Final = 6
_GOOD: Final = {"succeeded", "Succeeded", "Completed", "Approved", "InService", "approved", "approve", "OK"}
_BAD: Final = {
    "failed",
    "Failed",
    "rolled-back",
    "RolledBack",
    "Rejected",
    "rejected",
    "reject",
    "ALARM",
    "Stopped",
}


def _outcome(value: object) -> str:
    text = escape(value if value not in (None, "") else "—", 60)
    css = "ok" if value in _GOOD else "bad" if value in _BAD else ""
    return f'<span class="{css}">{text}</span>' if css else text


def _levels(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, str]]) -> dict[str, int]:
    """Each node's row: the longest path to it from a node nothing recorded flows into (a DAG; a
    cycle, which lineage never has, is cut by the bound)."""
    ids = {n["id"] for n in nodes}
    into: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        if e["from"] in ids and e["to"] in ids and e["from"] != e["to"]:
            into[e["to"]].append(e["from"])
    level: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str]) -> int:
        if node in level:
            return level[node]
        parents = [p for p in into[node] if p not in seen]
        level[node] = 1 + max((depth(p, seen | {node}) for p in parents), default=-1)
        return level[node]

    for node in sorted(ids):
        depth(node, frozenset())
    return level


def _label(node: Mapping[str, Any]) -> str:
    name = str(node.get("name") or node["id"])
    if node.get("kind") in ("dataset", "model-artifact"):
        name = name.rstrip("/").rsplit("/", 1)[-1] or name
    elif node.get("kind") == "deployment":
        name = f"{node.get('deploymentKind') or 'deployment'} {node.get('stage') or ''}".strip()
    return name


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def lineage_svg(graph: Mapping[str, Any]) -> str:
    """The lineage top to bottom (data first, endpoints last) as an inline SVG scaled to its column."""
    nodes = [n for n in graph.get("nodes", []) if n.get("kind") in _COLOURS]
    if not nodes:
        return '<p class="muted">No lineage recorded.</p>\n'
    edges = list(graph.get("edges", []))
    level = _levels(nodes, edges)
    rows: dict[int, list[Mapping[str, Any]]] = {}
    for node in sorted(nodes, key=lambda n: (level[n["id"]], str(n.get("kind")), _label(n))):
        rows.setdefault(level[node["id"]], []).append(node)
    widest = max(min(len(m), _PER_ROW) + (1 if len(m) > _PER_ROW else 0) for m in rows.values())
    full = 10 + widest * (_BOX_W + 10)  # the drawing's own width: small graphs stay readable on a phone
    place: dict[str, tuple[float, float, float]] = {}  # id → (x, y, width)
    parts: list[str] = []
    for row, (_, members) in enumerate(sorted(rows.items())):
        shown = members[:_PER_ROW]
        hidden = len(members) - len(shown)
        slots = len(shown) + (1 if hidden else 0)
        width = float(_BOX_W)
        y = 8 + row * _ROW
        for i, node in enumerate(shown):
            x = 10 + i * (width + 10) + (full - 10 - slots * (width + 10)) / 2
            place[node["id"]] = (x, y, width)
            chars = max(4, int(width / 6.2))
            status = f" · {node['status']}" if node.get("status") else ""
            parts.append(
                f"<g><title>{escape(node['id'], 400)}</title>"
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_BOX_H}" rx="6" '
                f'fill="{_COLOURS[str(node["kind"])]}" stroke="#b8bfcc"/>'
                f'<text class="kind" x="{x + 6:.1f}" y="{y + 15}">'
                f"{escape(_fit(str(node['kind']) + status, chars + 4), 200)}</text>"
                f'<text x="{x + 6:.1f}" y="{y + 32}">{escape(_fit(_label(node), chars), 200)}</text></g>'
            )
        if hidden:
            x = 10 + len(shown) * (width + 10) + (full - 10 - slots * (width + 10)) / 2
            parts.append(f'<text x="{x + 6:.1f}" y="{y + 26}">+{hidden} more</text>')
    lines = []
    for e in edges:
        if e["from"] in place and e["to"] in place:
            (x1, y1, w1), (x2, y2, w2) = place[e["from"]], place[e["to"]]
            sx, sy, tx, ty = x1 + w1 / 2, y1 + _BOX_H, x2 + w2 / 2, y2
            if ty <= sy:  # same row (never in a DAG's longest-path layering; kept safe)
                continue
            mid = (sy + ty) / 2
            soft = ' class="soft"' if e.get("relation") in ("generated", "contains") else ""
            lines.append(
                f'<path{soft} d="M{sx:.1f},{sy} C{sx:.1f},{mid:.1f} {tx:.1f},{mid:.1f} {tx:.1f},{ty - 2}" '
                'marker-end="url(#arrow)"><title>'
                f"{escape(e.get('relation'), 40)}</title></path>"
            )
    height = 16 + len(rows) * _ROW - (_ROW - _BOX_H)
    legend = "".join(
        f'<li><span class="swatch k-{kind}"></span>{escape(kind)}</li>'
        for kind in _COLOURS
        if any(n.get("kind") == kind for n in nodes)
    )
    return (
        f'<svg class="diagram" width="{full}" height="{height}" viewBox="0 0 {full} {height}" role="img" '
        'aria-label="Lineage: data, jobs, artifact, version, deployments" xmlns="http://www.w3.org/2000/svg">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a93a3" stroke="none"/></marker>'
        "</defs>" + "".join(lines) + "".join(parts) + "</svg>\n"
        f'<ul class="legend">{legend}</ul>\n'
    )


def _dl(rows: Sequence[tuple[str, object]]) -> str:
    return (
        "<dl>\n"
        + "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(v if v not in (None, '', []) else 'not recorded', 2000)}</dd>\n"
            for k, v in rows
        )
        + "</dl>\n"
    )


def _items(values: Sequence[object], empty: str) -> str:
    if not values:
        return f'<p class="muted">{escape(empty)}</p>\n'
    return "<ul>\n" + "".join(f"<li>{escape(v, 600)}</li>\n" for v in values[:200]) + "</ul>\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """`rows` are already-escaped cells."""
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>\n'
    labels = [escape(h) for h in head]
    return (
        '<div class="scroll"><table class="cards">\n<thead><tr>'
        + "".join(f"<th>{h}</th>" for h in labels)
        + "</tr></thead>\n<tbody>\n"
        + "".join(
            "<tr>"
            + "".join(f'<td data-label="{h}"><span>{c}</span></td>' for h, c in zip(labels, row, strict=True))
            + "</tr>\n"
            for row in rows[:500]
        )
        + "</tbody>\n</table></div>\n"
    )


def _when(value: object) -> str:
    text = str(value or "—").replace("T", " ")
    return f'<span class="when">{escape(text[:19] + (" UTC" if value else ""), 40)}</span>'


def _gate(gate: Mapping[str, Any] | None) -> str:
    if not gate:
        return (
            '<p class="muted">No gate result recorded (no approval request: approved outside Steward?).</p>\n'
        )
    checks = [
        {
            "name": c.get("metric"),
            "value": c.get("value"),
            "production": c.get("production"),
            "difference": c.get("difference"),
            "threshold": c.get("rule"),
            "passed": c.get("passed"),
        }
        for c in gate.get("checks") or []
    ]
    verdict = "passed" if gate.get("passed") else "failed"
    return (
        f"<p>The gate {escape(verdict)}; decision: <strong>{escape(gate.get('decision'))}</strong>.</p>\n"
        + (metrics_table(checks))
    )


def _approvals(requests: Sequence[Mapping[str, Any]]) -> str:
    if not requests:
        return '<p class="muted">No approval request recorded for this version.</p>\n'
    out = []
    for r in requests:
        title = f"Stage {r['stage']}" if r.get("stage") else "The version"
        out.append(
            f"<h3>{escape(title, 100)}: {_outcome(r.get('status'))}</h3>\n"
            + _dl(
                [
                    ("Request", r.get("requestId")),
                    ("Opened", r.get("createdAt")),
                    ("Expires", r.get("expiresAt")),
                    ("Quorum", r.get("quorum")),
                    ("Approvers", ", ".join(r.get("approvers") or [])),
                    (
                        "Registered by",
                        ", ".join(r.get("registrantIdentities") or []) or r.get("registeredBy"),
                    ),
                    ("Gate", r.get("gateSummary")),
                ]
            )
            + _table(
                ["When", "Who", "Decision", "Channel", "Comment"],
                [
                    [
                        _when(d["at"]),
                        escape(d["who"], 200),
                        _outcome(d["decision"]),
                        escape(d["channel"]),
                        escape(d.get("comment") or "", 1000),
                    ]
                    for d in r.get("decisions") or []
                ],
                "No decision recorded.",
            )
            + "<p><strong>Refused attempts</strong></p>\n"
            + _table(
                ["When", "Who", "Channel", "Why refused"],
                [
                    [_when(x["at"]), escape(x["who"], 200), escape(x["channel"]), escape(x["reason"], 500)]
                    for x in r.get("refusals") or []
                ],
                "None.",
            )
        )
    return "".join(out)


def report_html(report: Mapping[str, Any]) -> str:
    """The whole document. `report` is `steward.report.service.audit_report`'s answer."""
    p = report["package"]
    code = report.get("code") or {}
    training = report.get("training") or {}
    title = f"Audit report: {p.get('group') or p.get('name')} version {p.get('version')}"
    deployments = _table(
        ["When", "Deployment", "Strategy", "Outcome", "Approved by", "Notes"],
        [
            [
                _when(d.get("startedAt") or d.get("createdAt")) + " → " + _when(d.get("endedAt")),
                escape(f"{d.get('kind') or ''} {d.get('stage') or ''}".strip(), 100)
                + " → "
                + escape(d.get("endpoint"), 200),
                escape(d.get("strategy") or "—"),
                _outcome(d.get("status")),
                escape(", ".join(d.get("approvedBy") or []) or d.get("requestedBy") or "—", 300),
                escape(
                    "; ".join(
                        x
                        for x in (
                            summary(d["integrationTest"]) if d.get("integrationTest") else "",
                            d.get("failureReason") or "",
                            *(d.get("warnings") or []),
                        )
                        if x
                    ),
                    800,
                ),
            ]
            for d in report.get("deployments") or []
        ],
        "Steward has not deployed this version.",
    )
    monitoring = _table(
        ["When", "What", "Name", "Endpoint", "Result", "Violations"],
        [
            [
                _when(m.get("at")),
                escape("alarm" if m.get("type") == "alarm" else "Model Monitor"),
                escape(m.get("name"), 200),
                escape(m.get("endpoint") or "—", 200),
                _outcome(m.get("status") if m.get("type") == "alarm" else m.get("result") or m.get("status")),
                number(m.get("violationCount")),
            ]
            for m in report.get("monitoring") or []
        ],
        "No monitoring result or alarm recorded while this version served.",
    )
    findings = [
        f"{f.get('job')}: rule {f.get('rule')} {f.get('status')}"
        + (f" (report {f['report']})" if f.get("report") else "")
        for f in training.get("ruleFindings") or []
    ]
    body = (
        f"<h1>{escape(title, 300)}</h1>\n"
        "<section>\n"
        + _dl(
            [
                ("Package", p.get("id")),
                ("Registry status", p.get("status")),
                ("Registered", p.get("createdAt")),
                ("Registered by", p.get("registeredBy")),
                ("Approval note", p.get("approvalDescription")),
                ("Report generated", report.get("generatedAt")),
            ]
        )
        + (f'<p class="desc">{escape(p["description"], 3000)}</p>\n' if p.get("description") else "")
        + "</section>\n"
        "<section>\n<h2>Lineage</h2>\n" + lineage_svg(report.get("lineage") or {}) + "</section>\n"
        "<section>\n<h2>Code</h2>\n"
        + _dl(
            [
                ("Images", ", ".join(code.get("images") or [])),
                ("Image digests", ", ".join(code.get("imageDigests") or [])),
                ("Repository", code.get("repository")),
                ("Commit", code.get("commitId")),
            ]
        )
        + "<p><strong>Code the jobs ran</strong></p>\n"
        + _items(training.get("code") or [], "Not recorded.")
        + "</section>\n"
        "<section>\n<h2>Training</h2>\n<p><strong>Data</strong></p>\n"
        + _items(training.get("data") or [], "Training data not recorded.")
        + "<p><strong>Jobs</strong></p>\n"
        + _items(
            [
                f"{j['kind']} {j['name']} ({j.get('status') or 'status not recorded'})"
                for j in training.get("jobs") or []
            ],
            "No job recorded.",
        )
        + "<p><strong>Pipeline runs</strong></p>\n"
        + _items(
            [
                f"{r['name']} ({r.get('status') or 'status not recorded'})"
                for r in training.get("pipelineRuns") or []
            ],
            "No pipeline run recorded.",
        )
        + "<p><strong>Debugger and Profiler rules</strong></p>\n"
        + _items(findings, "No rule evaluation recorded.")
        + "</section>\n"
        "<section>\n<h2>Quality gate: metrics against production</h2>\n"
        + _gate(report.get("gate"))
        + "</section>\n"
        "<section>\n<h2>Data checks: bias, explainability, drift-check baselines</h2>\n"
        + _items(report.get("dataChecks") or [], "No bias or explainability report, no drift-check baseline.")
        + "</section>\n"
        "<section>\n<h2>Approvals</h2>\n" + _approvals(report.get("approvals") or []) + "</section>\n"
        "<section>\n<h2>Deployments</h2>\n" + deployments + "</section>\n"
        "<section>\n<h2>Monitoring and alarms</h2>\n" + monitoring + "</section>\n"
        "<section>\n<h2>Not recorded</h2>\n"
        + _items(report.get("missing") or [], "Nothing missing.")
        + "</section>\n"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP, 400)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title, 300)}</title>\n"
        f"<style>{STYLESHEET}</style>\n"
        '</head>\n<body>\n<main>\n<p class="brand">Steward · audit report</p>\n'
        f"{body}</main>\n</body>\n</html>\n"
    )
