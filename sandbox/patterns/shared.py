"""What the parts of the matcher share: the pattern's types and operators, PatternError, and Ruler's
Java string behaviour (split, path order, number text) and how values are described in errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

Pattern = dict[str, Any]
Matcher = Callable[[Any], bool]

OR_KEY: Final = "$or"
NUMERIC_OPERATORS: Final = ("=", "<", "<=", ">", ">=")
LOWER_BOUNDS: Final = (">", ">=")
UPPER_BOUNDS: Final = ("<", "<=")
ANYTHING_BUT_NESTED: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")
# Ruler refuses these as field names inside "$or" branches (its Constants.RESERVED_FIELD_NAMES_IN_OR_
# RELATIONSHIP), where they would read as operators; some are kept for operators it may add.
RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
    | set(NUMERIC_OPERATORS)
)

DOUBLE_MAX: Final = 1.7976931348623157e308
HEX_DIGITS: Final = frozenset("0123456789ABCDEF")
IPV4_TEXT: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
IPV6_TEXT: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
MASK_TEXT: Final = re.compile(r"[+-]?[0-9]+")


class PatternError(ValueError):
    """An invalid event pattern; the message starts with the path of the offending part."""


def java_split(text: str, separator: str) -> list[str]:
    """Java's String.split: trailing empty strings are dropped."""
    if not text:
        return [text]
    parts = text.split(separator)
    while parts and not parts[-1]:
        parts.pop()
    return parts


def java_order(path: str) -> bytes:
    """Java's String order (UTF-16 code units), in which Ruler walks a rule's paths."""
    return path.encode("utf-16-be", "surrogatepass")


def number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def describe(value: Any) -> str:
    text = repr(value)
    return f"{kind(value)} {text if len(text) <= 40 else text[:37] + '...'}"
