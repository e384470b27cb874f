"""The lineage graph as the other slices use it: the ports their use cases are given (LineageStore is
the adapter; unit tests pass fakes). Declared once, here, by the slice that owns the graph."""

from __future__ import annotations

from typing import Any, Protocol

from steward.kernel.graph import LineageChange, NodeKind


class Lineage(Protocol):
    """Record a change, note an attribute on a node, read nodes and their edges."""

    def apply(self, change: LineageChange) -> str: ...
    def note(self, node_id: str, attr: str, value: dict[str, Any]) -> bool: ...
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]: ...


class Worklist(Protocol):
    """The records of a kind not yet at rest (the store's index of active records)."""

    def active_nodes(self, kind: NodeKind, limit: int = 100) -> list[dict[str, Any]]: ...
