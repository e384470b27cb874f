"""One notification → Slack Block Kit, an email (HTML + text), a webhook body. Escaped per channel.

Model descriptions, tags and failure reasons are attacker-controlled text: Slack mrkdwn gets its three
control characters escaped (so `<!channel>` or `<https://evil|click>` stay text), HTML gets
html.escape, control characters are dropped everywhere, and long text is cut with a visible marker.
"""

from __future__ import annotations

import html
import re
from typing import Any

from steward.notify.models import Notification

TRUNCATED = "… (truncated)"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def clean(text: str, limit: int) -> str:
    """Drop control and bidi-override characters; cut to `limit` characters with a marker."""
    text = _CONTROL.sub("", text)
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(text: str, limit: int) -> str:
    return slack_escape(clean(text, limit))


def slack_message(n: Notification, channel: str) -> dict[str, Any]:
    headline = f"{_SEVERITY_EMOJI[n.severity.value]} {slack_text(n.subject, 150)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clean(n.subject, 150), "emoji": True}},
    ]
    if n.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_text(n.summary, 2900)}})
    if n.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_text(f.label, 100)}*\n{slack_text(f.value, 1800)}"}
                    for f in n.facts[:10]
                ],
            }
        )
    if n.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": clean(link.text, 75)},
                        "url": link.url,
                    }
                    for link in n.links[:5]
                ],
            }
        )
    if n.actions:
        blocks.append(
            {
                "type": "actions",
                "block_id": "steward_decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": a.action_id,
                        "text": {"type": "plain_text", "text": clean(a.text, 75)},
                        "value": a.value,
                        **({"style": a.style} if a.style else {}),
                    }
                    for a in n.actions
                ],
            }
        )
    context = f"{n.kind.value} · {n.severity.value}" + (f" · {n.model_group}" if n.model_group else "")
    if n.model_version is not None:
        context += f" v{n.model_version}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(context, 300)}]})
    return {
        "channel": channel,
        "text": headline,
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def email_subject(n: Notification) -> str:
    prefix = {"critical": "[Steward][CRITICAL] ", "warning": "[Steward] ", "info": "[Steward] "}[
        n.severity.value
    ]
    return clean(prefix + n.subject, 200).replace("\r", " ").replace("\n", " ")


def email_text(n: Notification) -> str:
    lines = [clean(n.subject, 250), ""]
    if n.summary:
        lines += [clean(n.summary, 3000), ""]
    lines += [f"{clean(f.label, 100)}: {clean(f.value, 2000)}" for f in n.facts]
    if n.links:
        lines += ["", *[f"{clean(link.text, 100)}: {link.url}" for link in n.links]]
    lines += ["", f"-- Steward · {n.kind.value} · {n.severity.value}"]
    return "\n".join(lines)


def email_html(n: Notification) -> str:
    e = html.escape
    color = {"critical": "#b42318", "warning": "#b54708", "info": "#175cd3"}[n.severity.value]
    facts = "".join(
        f'<tr><th align="left" style="padding:4px 12px 4px 0;color:#475467">{e(clean(f.label, 100))}</th>'
        f'<td style="padding:4px 0">{e(clean(f.value, 2000))}</td></tr>'
        for f in n.facts
    )
    links = "".join(
        f'<a href="{e(link.url, quote=True)}" style="display:inline-block;margin:4px 8px 4px 0;padding:8px 14px;'
        f'background:#155eef;color:#fff;border-radius:6px;text-decoration:none">{e(clean(link.text, 100))}</a>'
        for link in n.links
    )
    summary = f'<p style="white-space:pre-wrap">{e(clean(n.summary, 3000))}</p>' if n.summary else ""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"></head>'
        '<body style="font-family:-apple-system,Segoe UI,Roboto,sans-serif;color:#101828;max-width:640px;margin:auto">'
        f'<div style="border-left:4px solid {color};padding:8px 16px">'
        f'<h2 style="margin:8px 0">{e(clean(n.subject, 250))}</h2>{summary}'
        f'<table style="border-collapse:collapse">{facts}</table><p>{links}</p></div>'
        f'<p style="color:#667085;font-size:12px">Steward · {e(n.kind.value)} · {e(n.severity.value)}</p>'
        "</body></html>"
    )


def webhook_body(n: Notification) -> dict[str, Any]:
    """The JSON a generic webhook receives (raw values: the receiver escapes for its own medium)."""
    return {
        "type": f"steward.{n.kind.value}",
        "timestamp": n.created_at.isoformat(),
        "data": n.model_dump(mode="json", exclude={"recipients"}),
    }
