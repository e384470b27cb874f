"""Matching an event against a compiled pattern as Ruler's Machine does: the event flattened into
dotted paths, every path of a sub-rule matched by fields of one array element (array consistency)."""

from __future__ import annotations

from typing import Any

from sandbox.patterns.compiler import SubRule, compiled_pattern
from sandbox.patterns.shared import java_split


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether `event` (a whole EventBridge event) matches a pattern that passed validate_pattern."""
    rules, steps = compiled_pattern(pattern)
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
    return "." in step and all(part in steps for part in java_split(step, "."))


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
