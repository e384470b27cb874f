"""DynamoDB's typed attribute values as plain Python, and update expressions built with placeholders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_dynamo(value: Any) -> Any:
    """Plain JSON-able values → DynamoDB's typed form (floats become Decimals)."""
    ser, _ = _serializer()
    return ser.serialize(json.loads(json.dumps(value, default=str), parse_float=Decimal))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    _, de = _serializer()
    return {k: _plain(de.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class Expr:
    """An update expression under construction, with its placeholders."""

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, attr: str) -> str:
        for placeholder, known in self.names.items():
            if known == attr:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, val: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_dynamo(val)
        return placeholder

    def set(self, attr: str, val: Any, *, keep_existing: bool = False) -> None:
        n, v = self.name(attr), self.value(val)
        self.sets.append(f"{n} = if_not_exists({n}, {v})" if keep_existing else f"{n} = {v}")

    def add_strings(self, attr: str, strings: Iterable[str]) -> None:
        """ADD to a string set: a union applied by DynamoDB, so concurrent writers lose nothing."""
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = {"SS": sorted(strings)}
        self.adds.append(f"{self.name(attr)} {placeholder}")

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return " ".join(parts)
