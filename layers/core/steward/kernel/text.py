"""One sanitizer for every text Steward renders for people: the approval page, emails, Slack messages.

Model descriptions, tags, metric names and failure reasons are attacker-controlled. Before any channel
escapes text for its medium (html.escape, Slack's `& < >`), `sanitize` removes what no channel should
show: ANSI escape sequences (whole, not just their ESC), C0 controls but tab and newline (a carriage
return becomes a newline), DEL, C1 controls, the bidirectional controls that can disguise a name
(LRM, RLM, ALM, the embeddings and overrides U+202A to 202E, the isolates U+2066 to 2069) and lone
surrogates. Single-line places (email subjects, Slack headers and buttons) also turn line breaks and
tabs into spaces. `truncate` cuts with a visible marker; `fit_escaped` escapes and cuts so that the
*escaped* text fits a limit without splitting an escape sequence such as `&amp;`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

TRUNCATED: Final = "… (truncated)"

# ANSI/ECMA-48 sequences, removed whole: control strings (OSC, DCS, SOS, PM, APC) up to their
# terminator, CSI with its parameters (7- and 8-bit forms), then the short escapes (nF with
# intermediates, Fp, Fe). A lone ESC (or an unterminated string's introducer) is a C0/C1 control and
# goes with the rest below, leaving whatever followed it as plain, harmless text.
_ANSI: Final = re.compile(
    r"(?:\x1b[P\]X^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]+[0-~]"
    r"|\x1b[0-?@-Z\\^_]"
)
_NEWLINES: Final = re.compile("\r\n?|[\u2028\u2029]")
_DROP: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except \t \n (\r is a newline by now), DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # Bidi_Control: ALM, LRM, RLM, embeddings, isolates
    "\ud800-\udfff]"  # lone surrogates (a valid pair is one code point in a str)
)
_BREAKS: Final = re.compile("[\t\n]")


def sanitize(value: object, *, multiline: bool = True) -> str:
    """The text any channel may show: see the module docstring. `None` is the empty string."""
    text = "" if value is None else str(value)
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub("\n", text)
    text = _DROP.sub("", text)
    return text if multiline else _BREAKS.sub(" ", text)


def truncate(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and the visible marker, `limit` in all."""
    return text if len(text) <= limit else text[: max(0, limit - len(TRUNCATED))] + TRUNCATED


def clean(value: object, limit: int, *, multiline: bool = True) -> str:
    """Sanitized, then cut to `limit` characters with the marker."""
    return truncate(sanitize(value, multiline=multiline), limit)


def fit_escaped(text: str, limit: int, escapes: Mapping[str, str], length: Callable[[str], int] = len) -> str:
    """`text` with each character escaped by `escapes`, cut (with the marker) so that the escaped result
    measures at most `limit` by `length`. Whole characters and whole escapes only: `&` never becomes a
    dangling `&am`. `text` is expected sanitized already."""
    escaped = "".join(escapes.get(c, c) for c in text)
    if length(escaped) <= limit:
        return escaped
    budget, out, used = limit - length(TRUNCATED), [], 0
    for c in text:
        piece = escapes.get(c, c)
        size = length(piece)
        if used + size > budget:
            break
        out.append(piece)
        used += size
    return "".join(out) + TRUNCATED
