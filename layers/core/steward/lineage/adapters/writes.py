"""The lineage store's transactions, with the edges each node item keeps (adjacency.py): a node update
that fails only for its edges is resolved (a node from before that layout upgraded, a full set marked
wide) and the whole write built again, still one transaction in the end. A part of LineageStore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from steward.kernel.aws.clients import error_code, on_reset
from steward.kernel.aws.dynamo import Expr, from_item
from steward.kernel.errors import DuplicateEventError, StaleEventError
from steward.lineage import keys
from steward.lineage.adapters import adjacency
from steward.lineage.adapters.upkeep import NodeUpkeep

_TRANSACTION_LIMIT = 100
_ATTEMPTS = 4  # a write meets at most: a node from before the adjacency layout, then a set grown full

# (table, node id) → directions known to be wide: a writer goes straight to the edge items for them
# instead of failing a transaction first. Wide never ends, so what is cached stays true.
_KNOWN_WIDE: dict[tuple[str, str], frozenset[str]] = {}
on_reset(_KNOWN_WIDE.clear)  # the sandbox swapped the AWS behind the clients


class _AdjacencyConflict(Exception):
    """A node update failed its adjacency condition: nodes to upgrade, directions that became wide."""

    def __init__(self, legacy: set[str], widened: dict[str, set[str]]) -> None:
        super().__init__(sorted(legacy), sorted(widened))
        self.legacy, self.widened = legacy, widened


class AdjacencyWrites(NodeUpkeep):
    """Transactions of node updates that carry the nodes' new edges."""

    def _write_resolving(
        self,
        build: Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]]]],
        edges: list[tuple[str, str, str]],
        event_id: str,
        *,
        forward: bool = True,
    ) -> None:
        """Write what `build()` returns, (guarded, links): one transaction when it fits, else the links
        first. A node update that fails only its adjacency condition is resolved (a node from before
        the layout upgraded, a full set marked wide) and the whole write built again."""
        entries = adjacency.collect(edges)
        for _ in range(_ATTEMPTS):
            guarded, links = build()
            try:
                if len(guarded) + len(links) <= _TRANSACTION_LIMIT:
                    self._write_once([*guarded, *links], event_id, entries, forward=forward)
                else:  # rare (an event naming dozens of datasets): links first, then the guarded part
                    for start in range(0, len(links), _TRANSACTION_LIMIT):
                        self._write_once(links[start : start + _TRANSACTION_LIMIT], None, entries)
                    self._write_once(guarded, event_id, entries, forward=forward)
            except _AdjacencyConflict as conflict:
                for node_id in sorted(conflict.legacy):
                    self._upgrade(node_id)
                for node_id, directions in conflict.widened.items():
                    known = _KNOWN_WIDE.get((self.table, node_id), frozenset())
                    if len(_KNOWN_WIDE) > 50_000:
                        _KNOWN_WIDE.clear()
                    _KNOWN_WIDE[(self.table, node_id)] = known | directions
                continue
            return
        raise StaleEventError(f"adjacency of {sorted(entries)} kept changing over {_ATTEMPTS} attempts")

    def _upgrade(self, node_id: str) -> None:
        """Give a node item written before the adjacency layout its sets, from its edge items."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": keys.node_pk(node_id)},
                ":low": {"S": keys.IN_PREFIX},
                ":high": {"S": keys.OUT_END},
            },
        )
        expr, condition = adjacency.upgrade_update([i for i in items if i["sk"] != keys.NODE_SK])
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(node_id),
                UpdateExpression=expr.expression(),
                ConditionExpression=condition,
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=expr.values,
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise  # else: another writer upgraded it first

    def _write_once(
        self,
        items: list[dict[str, Any]],
        event_id: str | None,
        entries: dict[str, adjacency.Entries] | None = None,
        *,
        forward: bool = True,
    ) -> None:
        """One transaction. When `event_id` is given, the first item is the event's marker:
        DuplicateEventError when the marker exists, StaleEventError when (moving forward) a guarded
        status write lost to a newer state. _AdjacencyConflict when a node update failed for its edges
        (see `_write_resolving`)."""
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
            codes = [r.get("Code", "None") for r in reasons]
            if event_id is not None and codes and codes[0] == "ConditionalCheckFailed":
                raise DuplicateEventError(event_id) from None
            self._raise_adjacency_conflict(items, reasons, entries or {})
            if event_id is not None and forward and "ConditionalCheckFailed" in codes:
                raise StaleEventError(event_id) from None
            raise

    def _raise_adjacency_conflict(
        self,
        items: list[dict[str, Any]],
        reasons: list[dict[str, Any]],
        entries: dict[str, adjacency.Entries],
    ) -> None:
        legacy: set[str] = set()
        widened: dict[str, set[str]] = {}
        for item, reason in zip(items, reasons, strict=False):
            update = item.get("Update")
            if reason.get("Code") != "ConditionalCheckFailed" or update is None:
                continue
            node_id = self._node_of(update)
            if node_id is None:
                continue
            old = from_item(reason["Item"]) if reason.get("Item") else None
            is_legacy, wide = adjacency.failed_because(old, entries.get(node_id, {}), self._wide(node_id))
            if is_legacy:
                legacy.add(node_id)
            if wide:
                widened[node_id] = wide
        if legacy or widened:
            raise _AdjacencyConflict(legacy, widened) from None

    def _node_of(self, update: dict[str, Any]) -> str | None:
        key = update.get("Key", {})
        if update.get("TableName") != self.table or key.get("sk", {}).get("S") != keys.NODE_SK:
            return None
        return str(key["pk"]["S"])[len(keys.node_pk("")) :]

    def _wide(self, node_id: str) -> frozenset[str]:
        return _KNOWN_WIDE.get((self.table, node_id), frozenset())

    def _with_edges(
        self, update: dict[str, Any], expr: Expr, node_id: str, entries: adjacency.Entries | None
    ) -> dict[str, Any]:
        """`update` (built from `expr`) carrying the node's new edges, its condition joined."""
        # Every node update keeps the marker true, edges or not: a node from before fails it once.
        guard = adjacency.write(expr, entries or {}, self._wide(node_id))
        condition = update.get("ConditionExpression")
        update["ConditionExpression"] = f"({condition}) AND {guard}" if condition else guard
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        update.update(
            UpdateExpression=expr.expression(),
            ExpressionAttributeNames=expr.names,
            ExpressionAttributeValues=expr.values,
        )
        return update

    def _edges_only(self, node_id: str, entries: adjacency.Entries) -> dict[str, Any]:
        """The edges of a node this change does not otherwise name (a package an approval gates): an
        item with its id and edges only, until the node itself is recorded (reads skip it: no kind)."""
        expr = Expr()
        expr.set("id", node_id)
        return self._with_edges({"TableName": self.table, "Key": self._key(node_id)}, expr, node_id, entries)
