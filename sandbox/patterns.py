"""EventBridge event-pattern matching with the service's own semantics, for routing sandbox events.

The rules follow the EventBridge user guide ("Event patterns", "Content filtering", "Arrays", "Null
values") and, where the guide is silent, aws/event-ruler (the engine EventBridge runs) and LocalStack's
AWS-snapshot-tested engine. Choices made where none is explicit are marked "Choice:" below.

- Every pattern key must match (AND); a leaf is an array of alternatives (OR); "$or" at any object
  level matches if any branch, combined with the sibling keys, matches.
- An event array matches if any element does; arrays of objects are "crushed", so a nested pattern
  matches when it matches one element (all its fields from that same element, as in Ruler).
- Only leaves carry values: a key whose event value is an object has no value of its own, so value
  operators and exists:true do not match it and exists:false does (the guide's "exists only works on
  leaf nodes" example). Choice: an empty array has no values either, so it is absent too.
- Known divergence: numbers compare exactly, where Ruler rounds to six decimal places.
"""

from __future__ import annotations

import ipaddress
import math
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

__all__ = ["PatternError", "matches", "validate_pattern"]

Pattern = dict[str, Any]

OR_KEY: Final = "$or"
NUMERIC_OPERATORS: Final = ("=", "<", "<=", ">", ">=")
LOWER_BOUNDS: Final = (">", ">=")
UPPER_BOUNDS: Final = ("<", "<=")
ANYTHING_BUT_NESTED: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")
# Ruler refuses these as field names inside "$or" branches, where they would read as operators.
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
    }
    | set(NUMERIC_OPERATORS)
)

_MISSING: Final = object()  # a key absent from the event, distinct from a present null
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class PatternError(ValueError):
    """An invalid event pattern; the message starts with the path of the offending part."""


# --- validation ---------------------------------------------------------------------------------------


def validate_pattern(pattern: dict[str, Any]) -> None:
    """Raise PatternError, naming the bad part's path, unless EventBridge would accept `pattern`."""
    if not isinstance(pattern, dict):
        raise PatternError(f"pattern: must be a JSON object, got {_kind(pattern)}")
    _validate_object(pattern, "", in_or=False)


def _validate_object(obj: Pattern, path: str, *, in_or: bool) -> None:
    if not obj:
        raise PatternError(f"{path or 'pattern'}: empty objects are not allowed")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(f"{path or 'pattern'}: field names must be strings, got {key!r}")
        if key == OR_KEY:
            _validate_or(value, _child(path, key))
            continue
        where = _child(path, key)
        if in_or and key in RESERVED_IN_OR:
            raise PatternError(f"{where}: {key!r} is an operator name and cannot be a field inside $or")
        if isinstance(value, dict):
            _validate_object(value, where, in_or=in_or)
        elif isinstance(value, list):
            _validate_leaf(value, where)
        else:
            raise PatternError(
                f"{where}: must be an object or an array of alternatives, got {_kind(value)} "
                f"(wrap it: [{value!r}])"
            )


def _validate_or(branches: Any, path: str) -> None:
    if not isinstance(branches, list) or len(branches) < 2:
        raise PatternError(f"{path}: needs an array of at least two objects, got {_describe(branches)}")
    for index, branch in enumerate(branches):
        where = f"{path}[{index}]"
        if not isinstance(branch, dict):
            raise PatternError(f"{where}: $or entries must be objects, got {_kind(branch)}")
        _validate_object(branch, where, in_or=True)


def _validate_leaf(alternatives: list[Any], path: str) -> None:
    if not alternatives:
        raise PatternError(f"{path}: empty arrays are not allowed")
    for alternative in alternatives:
        if alternative is None or isinstance(alternative, str | bool):
            continue
        if _is_number(alternative):
            _require_finite(alternative, path, "value")
        elif isinstance(alternative, dict):
            _validate_expression(alternative, path)
        else:
            raise PatternError(
                f"{path}: alternatives must be strings, numbers, booleans, null or operator objects, "
                f"got {_kind(alternative)}"
            )


def _validate_expression(expression: Pattern, path: str) -> None:
    if len(expression) != 1:
        names = ", ".join(map(repr, expression)) or "none"
        raise PatternError(f"{path}: an operator object takes exactly one operator, got {names}")
    ((name, operand),) = expression.items()
    validator = _VALIDATORS.get(name)
    if validator is None:
        raise PatternError(f"{path}: unknown operator {name!r} (known: {', '.join(_VALIDATORS)})")
    validator(operand, path)


def _validate_affix(name: str) -> Callable[[Any, str], None]:
    """prefix and suffix take a string or {"equals-ignore-case": string}."""

    def validate(operand: Any, path: str) -> None:
        if isinstance(operand, str):
            return
        if isinstance(operand, dict) and list(operand) == ["equals-ignore-case"]:
            if not isinstance(operand["equals-ignore-case"], str):
                raise PatternError(f"{path}: {name} equals-ignore-case needs a string")
            return
        raise PatternError(
            f'{path}: {name} needs a string or {{"equals-ignore-case": string}}, got {_describe(operand)}'
        )

    return validate


def _validate_equals_ignore_case(operand: Any, path: str) -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: equals-ignore-case needs a string, got {_kind(operand)}")


def _validate_wildcard(operand: Any, path: str, label: str = "wildcard") -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: {label} needs a string, got {_kind(operand)}")
    try:
        _wildcard_segments(operand)
    except ValueError as exc:
        raise PatternError(f"{path}: {label} {operand!r}: {exc}") from None


def _validate_anything_but(operand: Any, path: str) -> None:
    if isinstance(operand, str):
        return
    if _is_number(operand):
        _require_finite(operand, path, "anything-but value")
        return
    if isinstance(operand, list):
        if not operand:
            raise PatternError(f"{path}: anything-but list must not be empty")
        if all(isinstance(item, str) for item in operand):
            return
        if not all(_is_number(item) for item in operand):
            raise PatternError(f"{path}: anything-but list must be all strings or all numbers")
        for item in operand:
            _require_finite(item, path, "anything-but value")
        return
    if isinstance(operand, dict):
        _validate_anything_but_nested(operand, path)
        return
    raise PatternError(
        f"{path}: anything-but needs a string, a number, a list of either, or an object with one of "
        f"{', '.join(ANYTHING_BUT_NESTED)}; got {_kind(operand)}"
    )


def _validate_anything_but_nested(operand: Pattern, path: str) -> None:
    if len(operand) != 1 or next(iter(operand)) not in ANYTHING_BUT_NESTED:
        names = ", ".join(map(repr, operand)) or "none"
        raise PatternError(
            f"{path}: anything-but object takes one of {', '.join(ANYTHING_BUT_NESTED)}, got {names}"
        )
    ((name, inner),) = operand.items()
    # Choice: Ruler's compiler takes strings here; lists are accepted too, since refusing a pattern AWS
    # may take would block work that the sandbox should allow, while accepting extra costs little.
    items = inner if isinstance(inner, list) else [inner]
    if not items or not all(isinstance(item, str) for item in items):
        raise PatternError(f"{path}: anything-but {name} needs a string or a non-empty list of strings")
    for item in items:
        if name in ("prefix", "suffix") and not item:
            raise PatternError(f"{path}: anything-but {name} must not be empty")
        if name == "wildcard":
            _validate_wildcard(item, path, "anything-but wildcard")


def _validate_numeric(operand: Any, path: str) -> None:
    """Ruler's grammar: ["=", n] | [">"|">=", n] | ["<"|"<=", n] | [">"|">=", lo, "<"|"<=", hi]."""
    if not isinstance(operand, list) or not operand:
        raise PatternError(f"{path}: numeric needs a non-empty array like ['>', 0, '<=', 5]")
    if len(operand) % 2:
        raise PatternError(f"{path}: numeric needs operator/number pairs, got {len(operand)} items")
    pairs = list(zip(operand[::2], operand[1::2], strict=True))
    for op, bound in pairs:
        if op not in NUMERIC_OPERATORS:
            hint = " (for inequality use anything-but)" if op == "!=" else ""
            raise PatternError(
                f"{path}: numeric operator {op!r} is not supported; use one of "
                f"{' '.join(NUMERIC_OPERATORS)}{hint}"
            )
        if not _is_number(bound):
            raise PatternError(f"{path}: numeric {op!r} needs a number, got {_kind(bound)}")
        _require_finite(bound, path, f"numeric {op!r} bound")
    if len(pairs) == 1:
        return
    (low_op, low), (high_op, high) = pairs[0], pairs[-1]
    if len(pairs) > 2 or low_op not in LOWER_BOUNDS or high_op not in UPPER_BOUNDS:
        raise PatternError(
            f"{path}: numeric takes one bound, or a lower bound (> or >=) followed by an upper bound "
            f"(< or <=); got {operand!r}"
        )
    if not low < high:
        raise PatternError(f"{path}: numeric lower bound {low!r} must be less than upper bound {high!r}")


def _validate_exists(operand: Any, path: str) -> None:
    if not isinstance(operand, bool):
        raise PatternError(f"{path}: exists needs true or false, got {_describe(operand)}")


def _validate_cidr(operand: Any, path: str) -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: cidr needs a string, got {_kind(operand)}")
    try:
        _network(operand)
    except ValueError:
        raise PatternError(f"{path}: cidr {operand!r} is not an IPv4 or IPv6 network") from None


_VALIDATORS: Final[dict[str, Callable[[Any, str], None]]] = {
    "prefix": _validate_affix("prefix"),
    "suffix": _validate_affix("suffix"),
    "equals-ignore-case": _validate_equals_ignore_case,
    "wildcard": _validate_wildcard,
    "anything-but": _validate_anything_but,
    "numeric": _validate_numeric,
    "exists": _validate_exists,
    "cidr": _validate_cidr,
}


# --- matching -----------------------------------------------------------------------------------------


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether `event` (a whole EventBridge event) matches a pattern that passed validate_pattern."""
    return _match_object(pattern, event)


def _match_object(pattern: Pattern, obj: Any) -> bool:
    # `obj` may be _MISSING or a scalar: then every field below it is absent, which exists:false accepts.
    for key, sub in pattern.items():
        if key == OR_KEY:
            if not any(_match_object(branch, obj) for branch in sub):
                return False
            continue
        raw = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
        ok = _match_nested(sub, raw) if isinstance(sub, dict) else _match_leaf(sub, raw)
        if not ok:
            return False
    return True


def _match_nested(pattern: Pattern, raw: Any) -> bool:
    if isinstance(raw, dict):
        return _match_object(pattern, raw)
    objects = [item for item in _flatten(raw) if isinstance(item, dict)]
    if objects:
        # Per element, so the fields of one match come from one array element ("array consistency").
        return any(_match_object(pattern, item) for item in objects)
    return _match_object(pattern, _MISSING)


def _match_leaf(alternatives: list[Any], raw: Any) -> bool:
    values = [item for item in _flatten(raw) if not isinstance(item, dict)]
    for alternative in alternatives:
        if isinstance(alternative, dict) and "exists" in alternative:
            if alternative["exists"] is bool(values):
                return True
        elif any(_match_value(alternative, value) for value in values):
            return True
    return False


def _flatten(raw: Any) -> list[Any]:
    """The scalars and objects an event value holds; nested arrays are crushed, iteratively (no recursion
    limit to hit on hostile depth). A missing key yields nothing."""
    if raw is _MISSING:
        return []
    if not isinstance(raw, list | tuple):
        return [raw]
    out: list[Any] = []
    stack: list[Any] = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def _match_value(alternative: Any, value: Any) -> bool:
    """One pattern alternative against one scalar event value; exact matches are type-strict."""
    if alternative is None:
        return value is None
    if isinstance(alternative, bool):
        return isinstance(value, bool) and value is alternative
    if _is_number(alternative):
        return _is_number(value) and value == alternative  # 5 == 5.0, but never "5" or True
    if isinstance(alternative, str):
        return isinstance(value, str) and value == alternative
    ((name, operand),) = alternative.items()
    return _MATCHERS[name](operand, value)


def _prefix(operand: str | dict[str, str], value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict):
        return value.casefold().startswith(operand["equals-ignore-case"].casefold())
    return value.startswith(operand)


def _suffix(operand: str | dict[str, str], value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict):
        return value.casefold().endswith(operand["equals-ignore-case"].casefold())
    return value.endswith(operand)


def _equals_ignore_case(operand: str, value: Any) -> bool:
    # Choice: casefold, Python's caseless comparison, stands in for Ruler's per-character case mapping.
    return isinstance(value, str) and value.casefold() == operand.casefold()


def _wildcard(operand: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    segments = _wildcard_segments(operand)
    if len(segments) == 1:
        return value == segments[0]
    # Anchored first and last literals, then each middle literal at its leftmost place: linear-time,
    # unlike a regex of ".*" runs, which backtracks badly on long values.
    first, *middle, last = segments
    if len(value) < len(first) + len(last) or not value.startswith(first) or not value.endswith(last):
        return False
    position, end = len(first), len(value) - len(last)
    for literal in middle:
        found = value.find(literal, position, end)
        if found < 0:
            return False
        position = found + len(literal)
    return True


def _anything_but(operand: Any, value: Any) -> bool:
    # A present value matches unless the operand would have matched it. The key must be present (an
    # absent key yields no values, so this is never reached) - the behaviour AWS shows. Choice, per Ruler
    # and LocalStack: a value of another type (a number against strings, a present null, a number
    # against a prefix) is "anything but" the operand, so it matches.
    if isinstance(operand, dict):
        ((name, inner),) = operand.items()
        options = inner if isinstance(inner, list) else [inner]
        return not any(_MATCHERS[name](option, value) for option in options)
    options = operand if isinstance(operand, list) else [operand]
    return not any(_match_value(option, value) for option in options)


def _numeric(operand: list[Any], value: Any) -> bool:
    # Only JSON numbers: a numeric string such as "5" never matches, as the guide says.
    if not _is_number(value):
        return False
    return all(_COMPARE[op](value, bound) for op, bound in zip(operand[::2], operand[1::2], strict=True))


def _cidr(operand: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address in _network(operand)  # False across IPv4/IPv6, never an error


_MATCHERS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "cidr": _cidr,
}


# --- helpers ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wildcard_segments(text: str) -> tuple[str, ...]:
    """The literal runs between unescaped '*'; Ruler's rules: '\\*' and '\\\\' escape, '**' is refused."""
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if text.startswith("**", index):
                raise ValueError(f"consecutive '*' at position {index}")
            segments.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise ValueError(f"'\\' at position {index} may only escape '*' or '\\'")
            current.append(following)
            index += 1
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return tuple(segments)


@lru_cache(maxsize=256)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # strict=False: host bits in "10.0.0.7/24" are masked rather than refused.
    return ipaddress.ip_network(cidr, strict=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require_finite(number: float, path: str, what: str) -> None:
    # Only floats can be NaN or infinite; math.isfinite on a huge int would overflow instead.
    if isinstance(number, float) and not math.isfinite(number):
        raise PatternError(f"{path}: {what} must be a finite number, got {number!r}")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{_kind(value)} {text if len(text) <= 40 else text[:37] + '...'}"
