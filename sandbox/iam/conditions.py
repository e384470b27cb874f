"""The grammar below a statement: action, resource and ARN patterns, and the condition operators."""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.iam.settings import IamError

# --- patterns ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern[str]:
    """An Action: `*` any characters, `?` one, compared without regard to case."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _resource_regex(pattern: str) -> re.Pattern[str]:
    """A Resource, case-sensitive, matched ARN segment by segment: in the first five segments `*` and
    `?` stay inside the segment, except that a `*` ending a segment may run past the colons (IAM: "if
    the * wildcard is the last character of a resource ARN segment, it can expand to match beyond the
    colon boundaries"); in the resource segment they match anything, `/` and `:` included. The resource
    type (the resource segment up to its first `/` or `:`, as in `table/`) takes no wildcard (IAM ARNs:
    "you can't use a wildcard in the portion of the ARN that specifies the resource type"): there a `*`
    or `?` is a plain character, so `tab*/x` matches no table. S3 ARNs have no resource type."""
    if pattern == "*":
        return re.compile(".*", re.DOTALL)
    segments = pattern.split(":", 5)
    literal = 0  # how many leading characters of the resource segment are the resource type
    if len(segments) == 6 and not (segments[2] == "s3" and segments[3] == segments[4] == ""):
        cut = min((i for i in (segments[5].find("/"), segments[5].find(":")) if i >= 0), default=-1)
        literal = cut + 1
    parts = []
    for index, segment in enumerate(segments):
        last_segment = index == 5
        out = []
        for position, c in enumerate(segment):
            if last_segment and position < literal:
                out.append(re.escape(c))
            elif c == "*":
                ends = position == len(segment) - 1
                out.append(".*" if last_segment or ends else "[^:]*")
            elif c == "?":
                out.append("." if last_segment else "[^:]")
            else:
                out.append(re.escape(c))
        parts.append("".join(out))
    return re.compile(":".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _arn_like_regex(pattern: str) -> re.Pattern[str] | None:
    """An ArnLike/ArnEquals value: "each of the six colon-delimited components of the ARN is checked
    separately", `*` and `?` inside each (the resource component may hold colons itself)."""
    segments = pattern.split(":", 5)
    if len(segments) < 6:
        return None  # not an ARN: matches nothing
    parts = []
    for index, segment in enumerate(segments):
        any_char = "." if index == 5 else "[^:]"
        parts.append(
            "".join(f"{any_char}*" if c == "*" else any_char if c == "?" else re.escape(c) for c in segment)
        )
    return re.compile(":".join(parts), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _action_regex(pattern).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    return _resource_regex(pattern).fullmatch(resource) is not None


def arn_like(pattern: str, arn: str) -> bool:
    regex = _arn_like_regex(pattern)
    return regex is not None and len(arn.split(":", 5)) == 6 and regex.fullmatch(arn) is not None


def _string_like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


# --- conditions --------------------------------------------------------------------------------------

_BASE_OPERATORS: dict[str, tuple[str, bool]] = {  # operator -> (comparison, negated)
    "StringEquals": ("eq", False),
    "StringNotEquals": ("eq", True),
    "StringEqualsIgnoreCase": ("ieq", False),
    "StringNotEqualsIgnoreCase": ("ieq", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "NumericEquals": ("num==", False),
    "NumericNotEquals": ("num==", True),
    "NumericLessThan": ("num<", False),
    "NumericLessThanEquals": ("num<=", False),
    "NumericGreaterThan": ("num>", False),
    "NumericGreaterThanEquals": ("num>=", False),
    "DateEquals": ("date==", False),
    "DateNotEquals": ("date==", True),
    "DateLessThan": ("date<", False),
    "DateLessThanEquals": ("date<=", False),
    "DateGreaterThan": ("date>", False),
    "DateGreaterThanEquals": ("date>=", False),
    "Bool": ("bool", False),
}


# Context keys that hold a set of values (ArrayOf... in the Service Authorization Reference): conditions on
# them need ForAnyValue/ForAllValues. Values of any other key are one value.
MULTIVALUED_KEYS = frozenset({
    "aws:tagkeys", "aws:calledvia", "aws:principalservicenameslist", "aws:principalorgpaths",
    "aws:sourceorgpaths", "aws:resourceorgpaths", "ses:recipients",
})  # fmt: skip


def _date(text: str) -> float:
    if re.fullmatch(r"\d+", text):
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _compare(kind: str, value: str, wanted: str) -> bool:
    if kind == "eq":
        return value == wanted
    if kind == "ieq":
        return value.lower() == wanted.lower()
    if kind == "like":
        return _string_like(wanted, value)
    if kind == "arn":
        return arn_like(wanted, value)
    if kind == "bool":
        return value.lower() == wanted.lower()
    try:
        if kind.startswith("num"):
            a, b = float(value), float(wanted)
        else:
            a, b = _date(value), _date(wanted)
    except ValueError:
        return False
    op = kind[4:] if kind.startswith("date") else kind[3:]
    return {"==": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # lower-cased (condition keys are case-insensitive)
    values: tuple[str, ...]

    def holds(self, context: dict[str, tuple[str, ...]]) -> bool:
        qualifier, _, name = self.operator.rpartition(":")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base = name[: -len("IfExists")] if if_exists else name
        present = context.get(self.key)
        if base == "Null":  # "true": the key is absent; "false": it is present
            return any((present is None) == (v.lower() == "true") for v in self.values)
        kind, negated = _BASE_OPERATORS[base]

        def one(value: str) -> bool:
            hit = any(_compare(kind, value, wanted) for wanted in self.values)
            return not hit if negated else hit

        if qualifier == "ForAllValues":  # true for a missing or empty key too
            return all(one(v) for v in present or ())
        if qualifier == "ForAnyValue":  # false for a missing or empty key, IfExists or not
            return any(one(v) for v in present or ())
        if present is None:
            # A missing key: IfExists makes the condition true; otherwise a negated operator is true and
            # a positive one false (IAM: "if the key is not present, the condition evaluates to false",
            # and for the negated operators the values cannot match, so the negation holds).
            return if_exists or negated
        if self.key in MULTIVALUED_KEYS:
            return False  # a multivalued key needs ForAnyValue/ForAllValues: alone, no operator matches it
        return all(one(v) for v in present) if negated else any(one(v) for v in present)


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    found = []
    for operator, block in (raw or {}).items():
        qualifier, _, name = str(operator).rpartition(":")
        base = name[: -len("IfExists")] if name.endswith("IfExists") else name
        if qualifier not in ("", "ForAnyValue", "ForAllValues") or (
            base not in _BASE_OPERATORS and base != "Null"
        ):
            raise IamError(f"{where}: condition operator {operator} is not one the sandbox evaluates")
        for key, values in (block or {}).items():
            listed = [_text(v) for v in (values if isinstance(values, list) else [values])]
            if any("${" in v for v in listed):
                raise IamError(
                    f"{where}: policy variable in {key}'s values (the sandbox does not substitute them)"
                )
            found.append(Condition(str(operator), str(key).lower(), tuple(listed)))
    return tuple(found)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
