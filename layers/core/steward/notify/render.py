"""One notification → Slack Block Kit, an email (HTML + text), a webhook body. Escaped per channel.

Model descriptions, tags and failure reasons are attacker-controlled text. Every text people read goes
through `steward.kernel.text.sanitize` first (the same function the approval page uses: ANSI escapes, control,
bidi and lone-surrogate characters removed), then its channel's escaping: Slack mrkdwn gets its three
control characters escaped (so `<!channel>` or `<https://evil|click>` stay text), HTML gets html.escape.
Long text is cut with a visible marker.

Slack's limits apply to the text as sent, so Slack text is escaped first and cut after, never inside an
escape (`&amp;`), and measured in UTF-16 code units (what Slack's JavaScript-era limits count; never
fewer than characters): section text 3000, each section field 2000 (10 fields a section), header 150,
button text 75, button URL 3000, at most 50 blocks. A message Slack refused as `invalid_blocks` would
be a permanent failure, a critical alert dropped; `tests/unit/test_oracle_slack_blocks.py` checks every
kind against slack_sdk's Block Kit models.
"""

from __future__ import annotations

import html
from typing import Any, Final

from steward.kernel.text import TRUNCATED, clean, fit_escaped, sanitize
from steward.notify.models import Notification

__all__ = ["TRUNCATED", "clean", "email_html", "email_subject", "email_text", "slack_message", "webhook_body"]

_SEVERITY_EMOJI: Final = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}
SLACK_ESCAPES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

HEADER_MAX: Final = 150
SECTION_TEXT_MAX: Final = 3000
FIELD_MAX: Final = 2000
FIELDS_PER_SECTION: Final = 10
LABEL_MAX: Final = 100
BUTTON_TEXT_MAX: Final = 75
BUTTON_URL_MAX: Final = 3000
BUTTON_VALUE_MAX: Final = 2000
LINK_BUTTONS: Final = 5
CONTEXT_TEXT_MAX: Final = 300
BLOCKS_MAX: Final = 50


def slack_length(text: str) -> int:
    """Length in UTF-16 code units: a character outside the BMP (most emoji) counts two."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def slack_escape(text: str) -> str:
    return "".join(SLACK_ESCAPES.get(c, c) for c in text)


def slack_text(text: str, limit: int, *, multiline: bool = True) -> str:
    """Sanitized and escaped mrkdwn measuring at most `limit` once escaped (marker included)."""
    return fit_escaped(sanitize(text, multiline=multiline), limit, SLACK_ESCAPES, slack_length)


def slack_plain(text: str, limit: int, fallback: str) -> str:
    """Sanitized single-line plain_text (Slack does not parse it) within `limit`; never blank."""
    cut = fit_escaped(sanitize(text, multiline=False), limit, {}, slack_length)
    return cut if cut.strip() else fallback


def _field(label: str, value: str) -> dict[str, str]:
    head = slack_text(label, LABEL_MAX, multiline=False).strip()
    head = f"*{head}*\n" if head else ""
    body = slack_text(value, FIELD_MAX - slack_length(head))
    return {"type": "mrkdwn", "text": head + (body if body.strip() else "—")}


def slack_message(n: Notification, channel: str) -> dict[str, Any]:
    title = f"Steward {n.kind.value}"
    headline_text = slack_text(n.subject, HEADER_MAX, multiline=False)
    headline = f"{_SEVERITY_EMOJI[n.severity.value]} {headline_text if headline_text.strip() else title}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": slack_plain(n.subject, HEADER_MAX, title), "emoji": True},
        },
    ]
    summary = slack_text(n.summary, SECTION_TEXT_MAX)
    if summary.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary}})
    facts = [_field(f.label, f.value) for f in n.facts]
    for start in range(0, len(facts), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": facts[start : start + FIELDS_PER_SECTION]})
    buttons = [link for link in n.links if len(link.url) <= BUTTON_URL_MAX][:LINK_BUTTONS]
    too_long = sum(1 for link in n.links if len(link.url) > BUTTON_URL_MAX)
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": slack_plain(link.text, BUTTON_TEXT_MAX, "Open"),
                        },
                        "url": link.url,
                    }
                    for link in buttons
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
                        "text": {
                            "type": "plain_text",
                            "text": slack_plain(a.text, BUTTON_TEXT_MAX, a.action_id),
                        },
                        "value": a.value[:BUTTON_VALUE_MAX],
                        **({"style": a.style} if a.style else {}),
                    }
                    for a in n.actions
                ],
            }
        )
    context = f"{n.kind.value} · {n.severity.value}" + (f" · {n.model_group}" if n.model_group else "")
    if n.model_version is not None:
        context += f" v{n.model_version}"
    if too_long:
        context += f" · {too_long} link{'s' if too_long != 1 else ''} too long for Slack: see the email"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(context, CONTEXT_TEXT_MAX)}]}
    )
    return {
        "channel": channel,
        "text": headline,  # the notification fallback: an emoji and at most HEADER_MAX units
        "blocks": blocks[:BLOCKS_MAX],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def email_subject(n: Notification) -> str:
    prefix = {"critical": "[Steward][CRITICAL] ", "warning": "[Steward] ", "info": "[Steward] "}[
        n.severity.value
    ]
    return clean(prefix + n.subject, 200, multiline=False)


def email_text(n: Notification) -> str:
    lines = [clean(n.subject, 250, multiline=False), ""]
    if n.summary:
        lines += [clean(n.summary, 3000), ""]
    lines += [f"{clean(f.label, 100, multiline=False)}: {clean(f.value, 2000)}" for f in n.facts]
    if n.links:
        lines += ["", *[f"{clean(link.text, 100, multiline=False)}: {link.url}" for link in n.links]]
    lines += ["", f"-- Steward · {n.kind.value} · {n.severity.value}"]
    return "\n".join(lines)


def email_html(n: Notification) -> str:
    e = html.escape
    color = {"critical": "#b42318", "warning": "#b54708", "info": "#175cd3"}[n.severity.value]
    facts = "".join(
        '<tr><th align="left" style="padding:4px 12px 4px 0;color:#475467">'
        f"{e(clean(f.label, 100, multiline=False))}</th>"
        f'<td style="padding:4px 0;white-space:pre-wrap">{e(clean(f.value, 2000))}</td></tr>'
        for f in n.facts
    )
    links = "".join(
        f'<a href="{e(link.url, quote=True)}" style="display:inline-block;margin:4px 8px 4px 0;padding:8px 14px;'
        'background:#155eef;color:#fff;border-radius:6px;text-decoration:none">'
        f"{e(clean(link.text, 100, multiline=False))}</a>"
        for link in n.links
    )
    summary = f'<p style="white-space:pre-wrap">{e(clean(n.summary, 3000))}</p>' if n.summary else ""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"></head>'
        '<body style="font-family:-apple-system,Segoe UI,Roboto,sans-serif;color:#101828;max-width:640px;margin:auto">'
        f'<div style="border-left:4px solid {color};padding:8px 16px">'
        f'<h2 style="margin:8px 0">{e(clean(n.subject, 250, multiline=False))}</h2>{summary}'
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
