"""Server-rendered approval pages: the confirmation page a link opens, and short message pages (pure).

Model descriptions, tags, metric names and lineage are attacker-controlled text, so every interpolated
value goes through `_e`: `steward.kernel.text.sanitize` (the sanitizer emails and Slack use too: ANSI escapes,
control, bidi and lone-surrogate characters removed), a visible cut, then html.escape(quote=True).
The pages carry no JavaScript; the only inline content is STYLESHEET, which the CSP allows by hash,
so an injected <style> or style="" attribute would not apply even if escaping ever failed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from steward.kernel.text import clean

CONTENT_TYPE: Final = "text/html; charset=utf-8"

STYLESHEET: Final = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1d2330;
font:16px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:46rem;margin:0 auto;padding:1rem}
.brand{margin:0 0 .5rem;color:#5a6272;font-size:.85rem;font-weight:600;letter-spacing:.04em;
text-transform:uppercase}
h1{font-size:1.4rem;line-height:1.3;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
section>:first-child,.card>p:first-of-type{margin-top:0}
section>:last-child{margin-bottom:0}
section,.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1rem;margin:0 0 1rem}
p,li,dd{overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:#5a6272}
dd{margin:0}
ul{padding-left:1.25rem;margin:0}
.desc{white-space:pre-line}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #eceff3;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
td.result{white-space:nowrap}
.pass{color:#12703a;font-weight:600}
.fail{color:#b3261e;font-weight:600}
label{display:block;font-weight:600;margin:0 0 .25rem}
textarea{width:100%;min-height:6rem;font:inherit;padding:.5rem;border:1px solid #b8bfcc;border-radius:6px}
.buttons{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
button{flex:1 1 10rem;min-height:3rem;font:inherit;font-size:1.1rem;font-weight:600;
border:0;border-radius:8px;padding:.75rem 1rem;cursor:pointer;color:#fff}
button.approve{background:#12703a}
button.reject{background:#b3261e}
.muted{color:#5a6272;font-size:.9rem}
.status-info{border-left:6px solid #2f5fb3}
.status-success{border-left:6px solid #12703a}
.status-warning{border-left:6px solid #a86400}
.status-error{border-left:6px solid #b3261e}
@media (max-width:36rem){
.metrics thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.metrics tr{display:block;padding:.5rem 0;border-bottom:1px solid #eceff3}
.metrics td{display:flex;justify-content:space-between;gap:1rem;padding:.15rem 0;border:0;text-align:right}
.metrics td::before{content:attr(data-label);color:#5a6272;text-align:left;font-weight:400}
.metrics td:first-child{font-weight:600}
.metrics td:first-child::before{content:none}
}
"""

# CSP hashes cover the exact text between <style> and </style>; _document serves STYLESHEET verbatim.
STYLESHEET_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{STYLESHEET_HASH}'; img-src 'none'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # Pages embed a bearer link and an anti-forgery value: no cache, no Referer carrying the URL.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

COMMENT_MAX_LENGTH: Final = 1000
_STATUSES: Final = frozenset({"info", "success", "warning", "error"})


def _e(value: object, limit: int = 500) -> str:
    """Escape any value for HTML text or a quoted attribute; bidi overrides could disguise a name."""
    return html.escape(clean(value, limit), quote=True)


def _number(value: object, *, signed: bool = False) -> str:
    """Numbers as short decimals (0.913, +0.016); anything else as escaped text; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return _e(f"{value:+.6g}" if signed else f"{value:.6g}")
    return _e(value, 60)


def _passed(value: object) -> str:
    if value is True:
        return '<span class="pass">✓ pass</span>'
    if value is False:
        return '<span class="fail">✗ fail</span>'
    return "—"


def _safe_action(url: str) -> str:
    """The form's target: a relative or http(s) URL only (never javascript: or data:)."""
    if urlsplit(url.strip()).scheme.lower() not in {"", "http", "https"}:
        raise ValueError("form_action must be a relative or http(s) URL")
    return _e(url, 4096)


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title, 200)}</title>\n"
        f"<style>{STYLESHEET}</style>\n"
        f'</head>\n<body>\n<main>\n<p class="brand">Steward · model approval</p>\n{body}</main>\n'
        "</body>\n</html>\n"
    )


def _list(items: Sequence[object], empty: str) -> str:
    if not items:
        return f'<p class="muted">{_e(empty)}</p>\n'
    return "<ul>\n" + "".join(f"<li>{_e(item)}</li>\n" for item in items[:50]) + "</ul>\n"


def _metrics_table(metrics: Sequence[Mapping[str, Any]]) -> str:
    if not metrics:
        return '<p class="muted">No metrics were reported.</p>\n'
    rows = "".join(
        "<tr>"
        f'<td data-label="Metric">{_e(m.get("name"), 100)}</td>'
        f'<td class="num" data-label="Candidate">{_number(m.get("value"))}</td>'
        f'<td class="num" data-label="Production">{_number(m.get("production"))}</td>'
        f'<td class="num" data-label="Difference">{_number(m.get("difference"), signed=True)}</td>'
        f'<td data-label="Rule">{_number(m.get("threshold"))}</td>'
        f'<td class="result" data-label="Result">{_passed(m.get("passed"))}</td>'
        "</tr>\n"
        for m in metrics[:50]
    )
    return (
        '<div class="scroll"><table class="metrics">\n'
        "<thead><tr><th>Metric</th><th>Candidate</th><th>Production</th><th>Difference</th>"
        "<th>Rule</th><th>Result</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table></div>\n"
    )


def confirmation_page(
    *,
    group: str,
    version: int | str,
    package_arn: str,
    registered_by: str | None,
    description: str | None,
    metrics: Sequence[Mapping[str, Any]],
    lineage_summary: Sequence[str],
    deployment_plan: Sequence[str],
    approver: str,
    expires_at_iso: str,
    form_action: str,
    csrf: str,
    approvals_so_far: Sequence[str],
    quorum: int,
    comment: str = "",
    data_checks: Sequence[str] = (),
) -> str:
    """The page an approval link opens (GET never decides): what is being approved, then a POST form.

    `metrics` rows are {"name", "value", "production", "difference", "threshold", "passed"};
    `comment` pre-fills the textarea (re-rendering after a refused submission).
    """
    so_far = ", ".join(approvals_so_far) if approvals_so_far else "none yet"
    body = (
        f"<h1>Approve {_e(group, 200)} version {_e(version, 40)}?</h1>\n"
        "<section>\n<dl>\n"
        f"<dt>Model group</dt><dd>{_e(group, 200)}</dd>\n"
        f"<dt>Version</dt><dd>{_e(version, 40)}</dd>\n"
        f"<dt>Package</dt><dd>{_e(package_arn, 300)}</dd>\n"
        f"<dt>Registered by</dt><dd>{_e(registered_by or 'unknown', 200)}</dd>\n"
        f"<dt>Approvals</dt><dd>{len(approvals_so_far)} of {int(quorum)} ({_e(so_far, 1000)})</dd>\n"
        "</dl>\n" + (f'<p class="desc">{_e(description, 2000)}</p>\n' if description else "") + "</section>\n"
        "<section>\n<h2>Metrics against production</h2>\n"
        f"{_metrics_table(metrics)}"
        "</section>\n"
        "<section>\n<h2>Lineage</h2>\n"
        f"{_list(lineage_summary, 'No lineage recorded.')}"
        "</section>\n"
        + (
            "<section>\n<h2>Data checks</h2>\n" + _list(data_checks, "") + "</section>\n"
            if data_checks
            else ""
        )
        + "<section>\n<h2>What will be deployed where</h2>\n"
        f"{_list(deployment_plan, 'No deployment is planned.')}"
        "</section>\n"
        f'<form class="card" method="post" action="{_safe_action(form_action)}">\n'
        f'<input type="hidden" name="csrf" value="{_e(csrf, 200)}">\n'
        f'<p class="muted">Deciding as <strong>{_e(approver, 200)}</strong>. '
        f"This link expires at {_e(expires_at_iso, 60)}.</p>\n"
        '<label for="comment">Comment (optional)</label>\n'
        f'<textarea id="comment" name="comment" maxlength="{COMMENT_MAX_LENGTH}" rows="4">'
        f"{_e(comment, COMMENT_MAX_LENGTH)}</textarea>\n"
        '<div class="buttons">\n'
        '<button class="approve" type="submit" name="decision" value="approve">Approve</button>\n'
        '<button class="reject" type="submit" name="decision" value="reject">Reject</button>\n'
        "</div>\n</form>\n"
    )
    return _document(f"Approve {group} v{version}", body)


# For the audit report, which shares the look and the escaping.
escape = _e
number = _number
metrics_table = _metrics_table


def message_page(title: str, message: str, *, status: str = "info") -> str:
    """A short outcome page (expired, forged, reused, wrong approver, already decided, recorded).

    `status` is one of info, success, warning, error; anything else renders as info.
    """
    css_class = status if status in _STATUSES else "info"
    body = (
        f'<section class="status-{css_class}">\n'
        f"<h1>{_e(title, 200)}</h1>\n"
        f'<p class="desc">{_e(message, 2000)}</p>\n'
        "</section>\n"
    )
    return _document(title, body)
