"""What event-ruler's JsonRuleCompiler accepts: `validate_pattern` raises PatternError naming the path of
the first offending part, as Ruler refuses a pattern."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from sandbox.patterns.shared import (
    ANYTHING_BUT_NESTED,
    LOWER_BOUNDS,
    NUMERIC_OPERATORS,
    OR_KEY,
    RESERVED_IN_OR,
    UPPER_BOUNDS,
    Pattern,
    PatternError,
    child,
    describe,
    is_number,
    kind,
)
from sandbox.patterns.values import cidr_range, comparable, wildcard_segments


def validate_pattern(pattern: dict[str, Any]) -> None:
    """Raise PatternError, naming the bad part's path, unless event-ruler would accept `pattern`."""
    if not isinstance(pattern, dict):
        raise PatternError(f"pattern: must be a JSON object, got {kind(pattern)}")
    _validate_object(pattern, "", in_or=False)


def _validate_object(obj: Pattern, path: str, *, in_or: bool) -> None:
    if not obj:
        raise PatternError(f"{path or 'pattern'}: empty objects are not allowed")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(f"{path or 'pattern'}: field names must be strings, got {key!r}")
        if key == OR_KEY:
            _validate_or(value, child(path, key))
            continue
        where = child(path, key)
        if in_or and key in RESERVED_IN_OR:
            raise PatternError(f"{where}: {key!r} is an operator name and cannot be a field inside $or")
        if isinstance(value, dict):
            _validate_object(value, where, in_or=in_or)
        elif isinstance(value, list):
            _validate_leaf(value, where)
        else:
            raise PatternError(
                f"{where}: must be an object or an array of alternatives, got {kind(value)} "
                f"(wrap it: [{value!r}])"
            )


def _validate_or(branches: Any, path: str) -> None:
    if not isinstance(branches, list) or len(branches) < 2:
        raise PatternError(f"{path}: needs an array of at least two objects, got {describe(branches)}")
    for index, branch in enumerate(branches):
        where = f"{path}[{index}]"
        if not isinstance(branch, dict):
            raise PatternError(f"{where}: $or entries must be objects, got {kind(branch)}")
        _validate_object(branch, where, in_or=True)


def _validate_leaf(alternatives: list[Any], path: str) -> None:
    if not alternatives:
        raise PatternError(f"{path}: empty arrays are not allowed")
    for alternative in alternatives:
        if alternative is None or isinstance(alternative, str | bool):
            continue
        if is_number(alternative):
            # JSON has no NaN. A number no double holds exactly is fine: Ruler matches it as text.
            if isinstance(alternative, float) and math.isnan(alternative):
                raise PatternError(f"{path}: value must be a finite number, got {alternative!r}")
        elif isinstance(alternative, dict):
            _validate_expression(alternative, path)
        else:
            raise PatternError(
                f"{path}: alternatives must be strings, numbers, booleans, null or operator objects, "
                f"got {kind(alternative)}"
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
            f'{path}: {name} needs a string or {{"equals-ignore-case": string}}, got {describe(operand)}'
        )

    return validate


def _validate_equals_ignore_case(operand: Any, path: str) -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: equals-ignore-case needs a string, got {kind(operand)}")


def _validate_wildcard(operand: Any, path: str, label: str = "wildcard") -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: {label} needs a string, got {kind(operand)}")
    try:
        wildcard_segments(operand)
    except ValueError as exc:
        raise PatternError(f"{path}: {label} {operand!r}: {exc}") from None


def _validate_anything_but(operand: Any, path: str) -> None:
    if isinstance(operand, str):
        return
    if is_number(operand):
        require_comparable(operand, path, "anything-but value")
        return
    if isinstance(operand, list):
        if not operand:
            raise PatternError(f"{path}: anything-but list must not be empty")
        if all(isinstance(item, str) for item in operand):
            return
        if not all(is_number(item) for item in operand):
            raise PatternError(f"{path}: anything-but list must be all strings or all numbers")
        for item in operand:
            require_comparable(item, path, "anything-but value")
        return
    if isinstance(operand, dict):
        _validate_anything_but_nested(operand, path)
        return
    raise PatternError(
        f"{path}: anything-but needs a string, a number, a list of either, or an object with one of "
        f"{', '.join(ANYTHING_BUT_NESTED)}; got {kind(operand)}"
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
        if not is_number(bound):
            raise PatternError(f"{path}: numeric {op!r} needs a number, got {kind(bound)}")
        require_comparable(bound, path, f"numeric {op!r} bound")
    if len(pairs) == 1:
        return
    (low_op, low), (high_op, high) = pairs[0], pairs[-1]
    if len(pairs) > 2 or low_op not in LOWER_BOUNDS or high_op not in UPPER_BOUNDS:
        raise PatternError(
            f"{path}: numeric takes one bound, or a lower bound (> or >=) followed by an upper bound "
            f"(< or <=); got {operand!r}"
        )
    if not comparable(low) < comparable(high):  # type: ignore[operator]
        raise PatternError(f"{path}: numeric lower bound {low!r} must be less than upper bound {high!r}")


def _validate_exists(operand: Any, path: str) -> None:
    if not isinstance(operand, bool):
        raise PatternError(f"{path}: exists needs true or false, got {describe(operand)}")


def _validate_cidr(operand: Any, path: str) -> None:
    if not isinstance(operand, str):
        raise PatternError(f"{path}: cidr needs a string, got {kind(operand)}")
    try:
        cidr_range(operand)
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


def require_comparable(number: float, path: str, what: str) -> None:
    if comparable(number) is None:
        raise PatternError(
            f"{path}: {what} must be a finite number that a double holds exactly, got {number!r}"
        )
