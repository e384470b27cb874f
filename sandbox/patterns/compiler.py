"""A pattern compiled into sub-rules of (path, leaf), as Ruler's JsonRuleCompiler does: `$or` expanded,
each leaf's alternatives turned into matchers; compiled patterns memoised on their JSON text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from sandbox.patterns.shared import (
    DOUBLE_MAX,
    OR_KEY,
    Matcher,
    Pattern,
    child,
    is_number,
    java_order,
    java_split,
)
from sandbox.patterns.values import (
    case_equal,
    case_prefix,
    case_units,
    cidr_range,
    comparable,
    ip_hex,
    number_equal,
    range_matcher,
    reversed_units,
    single_address_range,
    wildcard_match,
    wildcard_segments,
)


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
        tuple((path, _Leaf(rule[path], path in numeric_paths)) for path in sorted(rule, key=java_order))
        for rule in rules
    )
    steps = frozenset(step for rule in rules for path in rule for step in java_split(path, "."))
    return compiled, steps


_COMPILED: Final[dict[str, tuple[tuple[SubRule, ...], frozenset[str]]]] = {}


def compiled_pattern(pattern: Pattern) -> tuple[tuple[SubRule, ...], frozenset[str]]:
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
            _expand(value, child(path, key), rules)
        else:
            if not rules:
                rules.append({})
            name = child(path, key)
            for rule in rules:
                rule[name] = value  # a later duplicate path overwrites, as in Ruler


def _is_numeric_alternative(alternative: Any) -> bool:
    """Whether Ruler would give the path's value matcher a numeric pattern (its hasNumeric)."""
    if is_number(alternative):
        return comparable(alternative) is not None
    if isinstance(alternative, dict):
        ((name, operand),) = alternative.items()
        if name == "numeric":
            return True
        if name == "anything-but":
            return is_number(operand) or (isinstance(operand, list) and is_number(operand[0]))
    return False


def _compile_alternative(alternative: Any, numeric_path: bool) -> Matcher:
    if alternative is None or isinstance(alternative, bool):
        return lambda value: value is alternative
    if is_number(alternative):
        return lambda value: number_equal(alternative, value)
    if isinstance(alternative, str):
        address = ip_hex(alternative)
        if address is None:
            return lambda value: isinstance(value, str) and value == alternative
        return range_matcher(*single_address_range(address), numeric_path)
    ((name, operand),) = alternative.items()
    if name == "cidr":
        return range_matcher(*cidr_range(operand), numeric_path)
    return _OPERATORS[name](operand)


def _any_value(value: Any) -> bool:
    return True


def _prefix(operand: str | dict[str, str]) -> Matcher:
    if isinstance(operand, dict):
        units = case_units(operand["equals-ignore-case"])
        return lambda value: isinstance(value, str) and case_prefix(units, value)
    return lambda value: isinstance(value, str) and value.startswith(operand)


def _suffix(operand: str | dict[str, str]) -> Matcher:
    if isinstance(operand, dict):
        units = reversed_units(case_units(operand["equals-ignore-case"]))
        return lambda value: isinstance(value, str) and case_prefix(units, value[::-1])
    return lambda value: isinstance(value, str) and value.endswith(operand)


def _equals_ignore_case(operand: str) -> Matcher:
    units = case_units(operand)
    return lambda value: isinstance(value, str) and case_equal(units, value)


def _wildcard(operand: str) -> Matcher:
    segments = wildcard_segments(operand)
    return lambda value: isinstance(value, str) and wildcard_match(segments, value)


def _numeric(operand: list[Any]) -> Matcher:
    low, low_open, high, high_open = -DOUBLE_MAX, False, DOUBLE_MAX, False
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        number = float(bound)  # validated: a double holds it exactly
        if op in ("=", ">", ">="):
            low, low_open = number, op == ">"
        if op in ("=", "<", "<="):
            high, high_open = number, op == "<"

    def match(value: Any) -> bool:
        number = comparable(value)
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
    if is_number(options[0]):
        numbers = frozenset(comparable(option) for option in options)
        return lambda value: comparable(value) not in numbers
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
