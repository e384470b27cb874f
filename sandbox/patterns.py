"""EventBridge event-pattern matching for routing sandbox events, conformant with aws/event-ruler.

aws/event-ruler is the engine behind EventBridge patterns; this module follows its `Machine` (what
`Ruler.matchesRule` and `rulesForJSONEvent` run) and its `JsonRuleCompiler`; it agreed with all 1,904
applicable verdicts of event-ruler's own test suite when last checked (README "The sandbox"). Ruler's
behaviour, including where it surprises, is kept; the points that matter most:

- Both the pattern and the event are flattened into dotted paths: a key "a.b" and a nested key "b"
  inside "a" are the same field, in patterns and in events alike.
- Every path of a pattern must match (AND); a leaf is an array of alternatives (OR); "$or" splits the
  pattern into sub-rules (a later duplicate path overwrites an earlier one, as in Ruler's compiler), and
  the pattern matches if any sub-rule does.
- Array consistency: the fields one sub-rule matches must come from the same element of every event
  array they share. Scalars inside an array are not told apart. A path's "exists": false holds when no
  field of that path is consistent with the fields matched before it, the paths being taken in sorted
  order - so, as in Ruler, which element an absence is checked against depends on that order.
- Only leaves carry values: an object, an empty array or a missing key gives no field, so value
  operators and "exists": true fail there and "exists": false holds.
- Numbers are compared as doubles and only when the JSON number is one a double holds exactly (Ruler's
  ComparableNumber); other numbers only ever equal themselves.
- Case-insensitive operators work per UTF-16 character of the pattern, which matches the character's
  Java lower-case or upper-case form (Locale.ROOT): pattern "straße" matches "STRASSE", but pattern
  "STRASSE" does not match "straße"; a character outside the BMP is two surrogates that Java encodes as
  "?" each, so it only ever matches "??" (a Ruler quirk, kept).
- "cidr" and string alternatives that are IP addresses compare addresses (IPv4-mapped IPv6 addresses
  count as IPv4; no embedded dotted quads). The address ranges are walked digit by digit as in Ruler, so
  a range can match a number whose text starts with digits inside it when no numeric alternative shares
  the path (another Ruler quirk, kept).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

__all__ = ["PatternError", "matches", "validate_pattern"]

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

_DOUBLE_MAX: Final = 1.7976931348623157e308
_HEX_DIGITS: Final = frozenset("0123456789ABCDEF")
_IPV4_TEXT: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_TEXT: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK_TEXT: Final = re.compile(r"[+-]?[0-9]+")


class PatternError(ValueError):
    """An invalid event pattern; the message starts with the path of the offending part."""


# --- validation: what event-ruler's JsonRuleCompiler accepts ---------------------------------------------


def validate_pattern(pattern: dict[str, Any]) -> None:
    """Raise PatternError, naming the bad part's path, unless event-ruler would accept `pattern`."""
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
            # JSON has no NaN. A number no double holds exactly is fine: Ruler matches it as text.
            if isinstance(alternative, float) and math.isnan(alternative):
                raise PatternError(f"{path}: value must be a finite number, got {alternative!r}")
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
    """prefix and suffix take a string (empty too) or {"equals-ignore-case": string}."""

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
        _require_comparable(operand, path, "anything-but value")
        return
    if isinstance(operand, list):
        if not operand:
            raise PatternError(f"{path}: anything-but list must not be empty")
        if all(isinstance(item, str) for item in operand):
            return
        if not all(_is_number(item) for item in operand):
            raise PatternError(f"{path}: anything-but list must be all strings or all numbers")
        for item in operand:
            _require_comparable(item, path, "anything-but value")
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
    # Ruler takes a string or a list of strings here. It crashes on an empty list, so that is refused.
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
        _require_comparable(bound, path, f"numeric {op!r} bound")
    if len(pairs) == 1:
        return
    (low_op, low), (high_op, high) = pairs[0], pairs[-1]
    if len(pairs) > 2 or low_op not in LOWER_BOUNDS or high_op not in UPPER_BOUNDS:
        raise PatternError(
            f"{path}: numeric takes one bound, or a lower bound (> or >=) followed by an upper bound "
            f"(< or <=); got {operand!r}"
        )
    if not _comparable(low) < _comparable(high):  # type: ignore[operator]
        raise PatternError(f"{path}: numeric lower bound {low!r} must be less than upper bound {high!r}")


def _validate_exists(operand: Any, path: str) -> None:
    if not isinstance(operand, bool):
        raise PatternError(f"{path}: exists needs true or false, got {_describe(operand)}")


def _validate_cidr(operand: Any, path: str) -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: cidr needs a string, got {_kind(operand)}")
    try:
        _cidr_range(operand)
    except ValueError as exc:
        raise PatternError(f"{path}: cidr {operand!r} is not an IPv4 or IPv6 network: {exc}") from None


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


# --- compiling a pattern into sub-rules of (path, leaf), as Ruler's JsonRuleCompiler does ---------------


class _Leaf:
    """The alternatives of one path in one sub-rule."""

    __slots__ = ("absent", "matchers")

    def __init__(self, alternatives: list[Any], numeric_path: bool) -> None:
        self.absent = False
        self.matchers: list[Matcher] = []
        for alternative in alternatives:
            if isinstance(alternative, dict) and "exists" in alternative:
                if alternative["exists"]:
                    self.matchers.append(_any_value)
                else:
                    self.absent = True
            else:
                self.matchers.append(_compile_alternative(alternative, numeric_path))

    def accepts(self, value: Any) -> bool:
        return any(matcher(value) for matcher in self.matchers)


SubRule = tuple[tuple[str, _Leaf], ...]


def _compile(pattern: Pattern) -> tuple[tuple[SubRule, ...], frozenset[str]]:
    rules: list[dict[str, list[Any]]] = []
    _expand(pattern, "", rules)
    numeric_paths = {
        path
        for rule in rules
        for path, alternatives in rule.items()
        if any(_is_numeric_alternative(alternative) for alternative in alternatives)
    }
    compiled = tuple(
        tuple((path, _Leaf(rule[path], path in numeric_paths)) for path in sorted(rule, key=_java_order))
        for rule in rules
    )
    steps = frozenset(step for rule in rules for path in rule for step in _java_split(path, "."))
    return compiled, steps


_COMPILED: Final[dict[str, tuple[tuple[SubRule, ...], frozenset[str]]]] = {}


def _compiled(pattern: Pattern) -> tuple[tuple[SubRule, ...], frozenset[str]]:
    """_compile, memoised on the pattern's JSON text (key order kept: it decides overwrites)."""
    try:
        text = json.dumps(pattern)
    except (TypeError, ValueError):
        return _compile(pattern)
    compiled = _COMPILED.get(text)
    if compiled is None:
        if len(_COMPILED) >= 1024:
            _COMPILED.clear()
        compiled = _COMPILED[text] = _compile(pattern)
    return compiled


def _expand(obj: Pattern, path: str, rules: list[dict[str, list[Any]]]) -> None:
    for key, value in obj.items():
        if key == OR_KEY:
            before = [dict(rule) for rule in rules]
            rules.clear()
            for branch in value:
                forked = [dict(rule) for rule in before] or [{}]
                _expand(branch, path, forked)
                rules.extend(forked)
        elif isinstance(value, dict):
            _expand(value, _child(path, key), rules)
        else:
            if not rules:
                rules.append({})
            name = _child(path, key)
            for rule in rules:
                rule[name] = value  # a later duplicate path overwrites, as in Ruler


def _is_numeric_alternative(alternative: Any) -> bool:
    """Whether Ruler would give the path's value matcher a numeric pattern (its hasNumeric)."""
    if _is_number(alternative):
        return _comparable(alternative) is not None
    if isinstance(alternative, dict):
        ((name, operand),) = alternative.items()
        if name == "numeric":
            return True
        if name == "anything-but":
            return _is_number(operand) or (isinstance(operand, list) and _is_number(operand[0]))
    return False


def _compile_alternative(alternative: Any, numeric_path: bool) -> Matcher:
    if alternative is None or isinstance(alternative, bool):
        return lambda value: value is alternative
    if _is_number(alternative):
        return lambda value: _number_equal(alternative, value)
    if isinstance(alternative, str):
        address = _ip_hex(alternative)
        if address is None:
            return lambda value: isinstance(value, str) and value == alternative
        return _range_matcher(*_single_address_range(address), numeric_path)
    ((name, operand),) = alternative.items()
    if name == "cidr":
        return _range_matcher(*_cidr_range(operand), numeric_path)
    return _OPERATORS[name](operand)


def _any_value(value: Any) -> bool:
    return True


def _prefix(operand: str | dict[str, str]) -> Matcher:
    if isinstance(operand, dict):
        units = _case_units(operand["equals-ignore-case"])
        return lambda value: isinstance(value, str) and _case_prefix(units, value)
    return lambda value: isinstance(value, str) and value.startswith(operand)


def _suffix(operand: str | dict[str, str]) -> Matcher:
    if isinstance(operand, dict):
        units = _reversed_units(_case_units(operand["equals-ignore-case"]))
        return lambda value: isinstance(value, str) and _case_prefix(units, value[::-1])
    return lambda value: isinstance(value, str) and value.endswith(operand)


def _equals_ignore_case(operand: str) -> Matcher:
    units = _case_units(operand)
    return lambda value: isinstance(value, str) and _case_equal(units, value)


def _wildcard(operand: str) -> Matcher:
    segments = _wildcard_segments(operand)
    return lambda value: isinstance(value, str) and _wildcard_match(segments, value)


def _numeric(operand: list[Any]) -> Matcher:
    low, low_open, high, high_open = -_DOUBLE_MAX, False, _DOUBLE_MAX, False
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        number = float(bound)  # validated: a double holds it exactly
        if op in ("=", ">", ">="):
            low, low_open = number, op == ">"
        if op in ("=", "<", "<="):
            high, high_open = number, op == "<"

    def match(value: Any) -> bool:
        number = _comparable(value)
        if number is None:
            return False
        above = number > low or (number == low and not low_open)
        return above and (number < high or (number == high and not high_open))

    return match


def _anything_but(operand: Any) -> Matcher:
    # A present value of any type matches unless the operand would have matched it (Ruler assumes an
    # anything-but matched until the value proves otherwise): null, a boolean, a number against strings.
    if isinstance(operand, dict):
        ((name, inner),) = operand.items()
        excluded = [_OPERATORS[name](item) for item in (inner if isinstance(inner, list) else [inner])]
        return lambda value: not any(matcher(value) for matcher in excluded)
    options = operand if isinstance(operand, list) else [operand]
    if _is_number(options[0]):
        numbers = frozenset(_comparable(option) for option in options)
        return lambda value: _comparable(value) not in numbers
    strings = frozenset(options)
    return lambda value: not (isinstance(value, str) and value in strings)


_OPERATORS: Final[dict[str, Callable[[Any], Matcher]]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
}


# --- matching -----------------------------------------------------------------------------------------


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether `event` (a whole EventBridge event) matches a pattern that passed validate_pattern."""
    rules, steps = _compiled(pattern)
    fields = _flatten(event, steps)
    return any(_match_rule(rule, fields) for rule in rules)


class _Field:
    """One leaf value of the event and the array elements it sits in (Ruler's ArrayMembership)."""

    __slots__ = ("_chain", "_membership", "value")

    def __init__(self, value: Any, chain: tuple[Any, ...] | None) -> None:
        self.value = value
        self._chain = chain  # linked (array id, index, parent) cells, outermost array last
        self._membership: dict[int, int] | None = None

    @property
    def membership(self) -> dict[int, int]:
        if self._membership is None:
            membership: dict[int, int] = {}
            cell = self._chain
            while cell is not None:
                membership[cell[0]] = cell[1]
                cell = cell[2]
            self._membership = membership
        return self._membership


def _flatten(event: Any, steps: frozenset[str]) -> dict[str, list[_Field]]:
    """The event's leaves by dotted path, iteratively (no recursion limit to hit on hostile depth), and
    only under keys some pattern path uses, as Ruler skips the rest."""
    fields: dict[str, list[_Field]] = {}
    if not isinstance(event, dict):
        return fields
    arrays = 0
    stack: list[tuple[Any, str | None, tuple[Any, ...] | None]] = [(event, None, None)]
    while stack:
        node, path, chain = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and _step_used(key, steps):
                    stack.append((value, key if path is None else f"{path}.{key}", chain))
        elif isinstance(node, list | tuple):
            array, arrays = arrays, arrays + 1
            for index, element in enumerate(node):
                if isinstance(element, dict | list | tuple):
                    stack.append((element, path, (array, index, chain)))
                else:  # scalars in an array get no membership of their own, as in Ruler
                    fields.setdefault(path or "", []).append(_Field(element, chain))
        else:
            fields.setdefault(path or "", []).append(_Field(node, chain))
    return fields


def _step_used(step: str, steps: frozenset[str]) -> bool:
    if step in steps:
        return True
    return "." in step and all(part in steps for part in _java_split(step, "."))


def _match_rule(rule: SubRule, fields: dict[str, list[_Field]]) -> bool:
    """Ruler's array-consistent walk over the sub-rule's paths in sorted order."""
    failed: set[tuple[int, frozenset[tuple[int, int]]]] = set()

    def walk(index: int, membership: dict[int, int]) -> bool:
        if index == len(rule):
            return True
        key = (index, frozenset(membership.items()) if membership else frozenset())
        if key in failed:
            return False
        path, leaf = rule[index]
        candidates = fields.get(path, ())
        absent = leaf.absent and all(_consistent(membership, field) is None for field in candidates)
        if absent and walk(index + 1, membership):
            return True
        for field in candidates:
            if leaf.matchers and leaf.accepts(field.value):
                merged = _consistent(membership, field)
                if merged is not None and walk(index + 1, merged):
                    return True
        failed.add(key)
        return False

    return walk(0, {})


def _consistent(membership: dict[int, int], field: _Field) -> dict[int, int] | None:
    """The membership with the field's arrays added, or None if it sits in another element of one."""
    own = field.membership
    if not own:
        return membership
    merged = membership
    for array, index in own.items():
        seen = membership.get(array)
        if seen is None:
            if merged is membership:
                merged = dict(membership)
            merged[array] = index
        elif seen != index:
            return None
    return merged


# --- values: numbers, case, wildcards and addresses as Ruler compares them ------------------------------


def _comparable(value: Any) -> float | None:
    """The double a JSON number stands for, if it stands for one exactly (Ruler's ComparableNumber)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        if -(2**53) <= value <= 2**53:
            return float(value)
        try:
            number = float(value)
        except OverflowError:
            return None
        # Ruler accepts an integer whose shortest double text (Java's Double.toString) equals it.
        return number if math.isfinite(number) and Decimal(repr(number)) == value else None
    return None


def _number_equal(alternative: int | float, value: Any) -> bool:
    if not _is_number(value):
        return False
    left, right = _comparable(alternative), _comparable(value)
    if left is not None and right is not None:
        return left == right  # 5 == 5.0 == 5e0, but never "5" or true
    # Numbers no double holds exactly match only the same number (Ruler compares their text).
    return left is None and right is None and type(alternative) is type(value) and alternative == value


@lru_cache(maxsize=1024)
def _case_units(text: str) -> tuple[tuple[str, ...], ...]:
    """Per UTF-16 unit of `text`, the strings it matches: its Java Locale.ROOT lower and upper case."""
    units: list[tuple[str, ...]] = []
    for char in text:
        if ord(char) > 0xFFFF or 0xD800 <= ord(char) <= 0xDFFF:
            # Java takes each surrogate half alone, and encodes a lone surrogate to UTF-8 as "?".
            units.extend([("?",)] * (2 if ord(char) > 0xFFFF else 1))
            continue
        lower, upper = char.lower(), char.upper()
        units.append((lower,) if lower == upper else (lower, upper))
    return tuple(units)


def _reversed_units(units: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(option[::-1] for option in unit) for unit in reversed(units))


def _case_positions(units: tuple[tuple[str, ...], ...], value: str) -> set[int]:
    positions = {0}
    for unit in units:
        positions = {
            position + len(option)
            for position in positions
            for option in unit
            if value.startswith(option, position)
        }
        if not positions:
            break
    return positions


def _case_equal(units: tuple[tuple[str, ...], ...], value: str) -> bool:
    return len(value) in _case_positions(units, value)


def _case_prefix(units: tuple[tuple[str, ...], ...], value: str) -> bool:
    return bool(_case_positions(units, value))


def _wildcard_match(segments: tuple[str, ...], value: str) -> bool:
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


@lru_cache(maxsize=1024)
def _ip_bytes(text: str) -> bytes | None:
    """The address Java's InetAddress reads from an IP literal Ruler recognises, else None."""
    if _IPV4_TEXT.fullmatch(text):
        octets = [int(part) for part in text.split(".")]  # leading zeros are decimal, as in Java
        return bytes(octets) if all(octet <= 255 for octet in octets) else None
    if _IPV6_TEXT.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = address.ipv4_mapped  # Java hands IPv4-mapped addresses back as IPv4
        return mapped.packed if mapped is not None else address.packed
    return None


def _ip_hex(text: str) -> str | None:
    packed = _ip_bytes(text)
    return None if packed is None else packed.hex().upper()


def _single_address_range(address: str) -> tuple[str, bool, str, bool]:
    """Ruler's range for one address: [a, a+1) on the last hex digit, or (a-1, a] when it is F."""
    last = int(address[-1], 16)
    if last == 15:
        return f"{address[:-1]}E", True, address, False
    return address, False, f"{address[:-1]}{last + 1:X}", True


@lru_cache(maxsize=256)
def _cidr_range(cidr: str) -> tuple[str, bool, str, bool]:
    """Ruler's CIDR.cidr: a closed range of hex digits; raises ValueError with Ruler's reason."""
    parts = _java_split(cidr, "/")
    if len(parts) != 2:
        raise ValueError("one '/' and a mask are required")
    if not _MASK_TEXT.fullmatch(parts[1]) or not -(2**31) <= int(parts[1]) < 2**31:
        raise ValueError("the mask bits must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise ValueError("the mask bits must not be negative")
    packed = _ip_bytes(parts[0])
    if packed is None:
        raise ValueError(f"{parts[0]!r} is not an IP address")
    width = len(packed) * 8
    if bits >= width:
        raise ValueError(f"{'IPv4' if width == 32 else 'IPv6'} mask bits must be < {width}")
    number = int.from_bytes(packed, "big")
    free = (1 << (width - bits)) - 1
    digits = width // 4
    return f"{number & ~free:0{digits}X}", False, f"{number | free:0{digits}X}", False


def _range_matcher(bottom: str, bottom_open: bool, top: str, top_open: bool, numeric_path: bool) -> Matcher:
    def match(value: Any) -> bool:
        if isinstance(value, str):
            address = _ip_hex(value)
            return address is not None and _range_hit(address, bottom, bottom_open, top, top_open)
        if _is_number(value) and not (numeric_path and _comparable(value) is not None):
            # Ruler walks a number's text through the address range as if it were hex digits.
            return _range_hit(_number_text(value), bottom, bottom_open, top, top_open)
        return False

    return match


def _range_hit(digits: str, bottom: str, bottom_open: bool, top: str, top_open: bool) -> bool:
    """Ruler's byte-machine walk of a digit range: it matches as soon as the digits so far are known
    to be inside, so a shorter or longer address is judged on its leading digits."""
    on_bottom = on_top = True
    last = len(bottom) - 1
    for index, digit in enumerate(digits[: last + 1]):
        if digit not in _HEX_DIGITS:
            return False
        if on_bottom:
            if digit < bottom[index]:
                return False
            on_bottom = digit == bottom[index]
        if on_top:
            if digit > top[index]:
                return False
            on_top = digit == top[index]
        if not on_bottom and not on_top:
            return True
        if index == last:
            return not (on_bottom and bottom_open) and not (on_top and top_open)
    return False


# --- helpers ------------------------------------------------------------------------------------------


def _java_split(text: str, separator: str) -> list[str]:
    """Java's String.split: trailing empty strings are dropped."""
    if not text:
        return [text]
    parts = text.split(separator)
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _java_order(path: str) -> bytes:
    """Java's String order (UTF-16 code units), in which Ruler walks a rule's paths."""
    return path.encode("utf-16-be", "surrogatepass")


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require_comparable(number: float, path: str, what: str) -> None:
    if _comparable(number) is None:
        raise PatternError(
            f"{path}: {what} must be a finite number that a double holds exactly, got {number!r}"
        )


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{_kind(value)} {text if len(text) <= 40 else text[:37] + '...'}"
