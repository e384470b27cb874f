"""Emails sent through the embedded SES, read back as outbox entries (and written out as .eml)."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

from sandbox.template import ACCOUNT

_HREF = re.compile(r'href="([^"]+)"')


def emails_sent(region: str, account: str = ACCOUNT) -> list[dict[str, Any]]:
    from moto.ses.models import ses_backends

    backend = ses_backends[account][region]
    found = []
    for message in getattr(backend, "sent_messages", []):
        raw = getattr(message, "raw_data", None)
        if raw is None:
            found.append(
                {
                    "channel": "email",
                    "to": ", ".join(getattr(message, "destinations", {}).get("ToAddresses", [])),
                    "subject": getattr(message, "subject", ""),
                    "text": getattr(message, "body", ""),
                    "html": None,
                    "links": [],
                    "raw": None,
                }
            )
            continue
        parsed = email.message_from_string(raw, policy=email.policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        html_text = html.get_content() if html else None
        found.append(
            {
                "channel": "email",
                "to": str(parsed["To"]),
                "subject": " ".join(str(parsed["Subject"]).split()),  # unfolded (RFC 5322 folds long ones)
                "text": text.get_content() if text else "",
                "html": html_text,
                "links": [link.replace("&amp;", "&") for link in _HREF.findall(html_text or "")],
                "raw": raw,
            }
        )
    return found
