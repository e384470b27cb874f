"""DynamoDB access for the lineage graph: one transaction per event, batched reads per walk level.

The layout is in lineage/keys.py; the edges each node item keeps for the walks in adjacency.py; what is
done to single nodes (history, worklists, summaries, rules) in upkeep.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from steward.kernel.arns import s3_split
from steward.kernel.aws.clients import client
from steward.kernel.aws.dynamo import Expr, from_item, to_dynamo
from steward.kernel.errors import StaleEventError
from steward.kernel.graph import LineageChange, NodeKind, NodeUpdate
from steward.kernel.threads import ContextPool
from steward.kernel.times import iso_z
from steward.lineage import keys
from steward.lineage.adapters import adjacency
from steward.lineage.adapters.upkeep import ATTR_PREFIX, RULES_WATCH, node_from_item
from steward.lineage.adapters.writes import AdjacencyWrites
from steward.lineage.lifecycle import RANKED_KINDS, RETRYABLE_KINDS, is_active, is_terminal_rank, status_rank

__all__ = ["ATTR_PREFIX", "RULES_WATCH", "LineageStore", "node_from_item"]

_TRANSACTION_LIMIT = 100
_BATCH_GET_LIMIT = 100
_S3_KINDS = (NodeKind.DATASET, NodeKind.MODEL_ARTIFACT)


class LineageStore(AdjacencyWrites):
    """The lineage table (and the event-id markers in the idempotency table)."""

    def __init__(
        self,
        table: str,
        idempotency_table: str,
        event_id_ttl_seconds: int = 7 * 24 * 3600,
        function_name: str = "record_lineage",
    ) -> None:
        self.table = table
        self.idempotency_table = idempotency_table
        self.ttl = event_id_ttl_seconds
        self.function_name = function_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    # --- writes ----------------------------------------------------------------------------------

    def apply(self, change: LineageChange) -> str:
        """Write everything `change` states in one transaction, guarded by the event id.

        Returns "recorded", or "stale" when the primary node already holds a newer state (its history
        and links are still recorded; its status is not moved back). Raises DuplicateEventError when
        this event id was already applied.
        """
        primary = change.primary
        try:
            self._transact(change, forward=True)
        except StaleEventError:
            if primary is None:
                raise
        else:
            return "recorded"
        self._transact(change, forward=False)
        return "stale"

    def _transact(self, change: LineageChange, *, forward: bool) -> None:
        edges = [(e.source, e.target, e.relation.value) for e in change.edges]
        build = lambda: self._change_items(change, forward=forward)  # noqa: E731
        self._write_resolving(build, edges, change.event_id, forward=forward)

    def _change_items(
        self, change: LineageChange, *, forward: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The transaction for `change` as (guarded, links); the first guarded item is the marker."""
        entries = adjacency.collect((e.source, e.target, e.relation.value) for e in change.edges)
        guarded: list[dict[str, Any]] = []  # the status change: only with the marker, all or nothing
        links: list[dict[str, Any]] = []  # reference nodes and edges: idempotent upserts
        for node in change.nodes:
            mine = entries.pop(node.id, None)
            if node.status is not None and forward:
                guarded.append({"Update": self._status_update(node, change, mine)})
            else:
                links.append({"Update": self._upsert(node, change, mine)})
            if node.status is not None:
                guarded.append({"Put": self._history(node, change)})
        links += [{"Update": self._edges_only(node_id, found)} for node_id, found in sorted(entries.items())]
        for edge in change.edges:
            links.extend(
                {"Put": put} for put in self._edge_puts(edge.source, edge.target, edge.relation.value, change)
            )
        return [{"Put": self._marker(change.event_id)}, *guarded], links

    def _edge_puts(
        self, source: str, target: str, relation: str, change: LineageChange
    ) -> list[dict[str, Any]]:
        """An edge is stored twice: under its source (downstream walks) and its target (upstream walks)."""
        attrs = {
            "from": {"S": source},
            "to": {"S": target},
            "relation": {"S": relation},
            "eventTime": {"S": iso_z(change.event_time)},
        }
        return [
            {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": keys.node_pk(source)},
                    "sk": {"S": keys.out_edge_sk(relation, target)},
                    **attrs,
                },
            },
            {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": keys.node_pk(target)},
                    "sk": {"S": keys.in_edge_sk(relation, source)},
                    **attrs,
                },
            },
        ]

    def _marker_id(self, event_id: str) -> str:
        return f"{self.function_name}#event#{event_id}"

    def _marker(self, event_id: str) -> dict[str, Any]:
        return {
            "TableName": self.idempotency_table,
            "Item": {
                "id": {"S": self._marker_id(event_id)},
                "expiration": {"N": str(int(time.time()) + self.ttl)},
                "status": {"S": "COMPLETED"},
            },
            "ConditionExpression": "attribute_not_exists(id)",
        }

    def _common(self, expr: Expr, node: NodeUpdate, change: LineageChange, *, keep_existing: bool) -> None:
        expr.set("id", node.id)
        expr.set("kind", node.kind.value, keep_existing=keep_existing)
        expr.set("name", node.name, keep_existing=keep_existing or "name" in node.keep)
        for attr, value in node.attributes.items():
            if keep_existing and attr in node.clear:
                continue  # a late state must not bring back what a newer one cleared
            expr.set(ATTR_PREFIX + attr, value, keep_existing=keep_existing or attr in node.keep)
        if node.kind is NodeKind.MODEL_ARTIFACT:
            # Whoever saw it first, an artifact stays an artifact (an evaluation job reads it as a dataset).
            expr.set("artifact", True)
        if node.kind in _S3_KINDS:
            bucket, key = s3_split(node.id)
            if key:  # a bucket root has no key to index
                expr.set("gsi1pk", f"S3#{bucket}")
                expr.set("gsi1sk", key)

    def _upsert(
        self, node: NodeUpdate, change: LineageChange, entries: adjacency.Entries | None = None
    ) -> dict[str, Any]:
        """A node this event mentions but does not report on: fill gaps, overwrite nothing."""
        expr = Expr()
        self._common(expr, node, change, keep_existing=True)
        return self._with_edges({"TableName": self.table, "Key": self._key(node.id)}, expr, node.id, entries)

    def _status_update(
        self, node: NodeUpdate, change: LineageChange, entries: adjacency.Entries | None = None
    ) -> dict[str, Any]:
        """The node the event is about: new status and attributes, only if it moves the node forward."""
        assert node.status is not None and node.status_time is not None
        expr = Expr()
        self._common(expr, node, change, keep_existing=False)
        when = iso_z(node.status_time)
        rank = status_rank(node.kind, node.status)
        expr.set("status", node.status)
        expr.set("statusTime", when)
        expr.set("statusRank", rank)
        expr.set("updatedAt", iso_z(change.event_time))
        for attr in node.clear:
            if attr not in node.attributes:
                expr.removes.append(expr.name(ATTR_PREFIX + attr))
        if node.active if node.active is not None else is_active(node.kind, rank):
            expr.set("gsi2pk", f"ACTIVE#{node.kind.value}")
            expr.set("gsi2sk", when)
        else:
            expr.removes.extend([expr.name("gsi2pk"), expr.name("gsi2sk")])
        rank_n, time_n = expr.name("statusRank"), expr.name("statusTime")
        if node.kind in RANKED_KINDS:
            rank_v = expr.value(rank)
            condition = f"attribute_not_exists({rank_n}) OR {rank_n} < {rank_v}"
            if not is_terminal_rank(rank):
                condition += f" OR ({rank_n} = {rank_v} AND {time_n} < {expr.value(when)})"
            if node.kind in RETRYABLE_KINDS:  # a failed execution that is retried keeps its ARN
                status_n = expr.name("status")
                condition += (
                    f" OR ({status_n} IN ({expr.value('Failed')}, {expr.value('Stopped')})"
                    f" AND {time_n} < {expr.value(when)})"
                )
        else:
            time_v = expr.value(when)
            condition = (
                f"attribute_not_exists({time_n}) OR {time_n} < {time_v}"
                f" OR ({time_n} = {time_v} AND {rank_n} < {expr.value(rank)})"
            )
        update = {"TableName": self.table, "Key": self._key(node.id), "ConditionExpression": condition}
        return self._with_edges(update, expr, node.id, entries)

    def _history(self, node: NodeUpdate, change: LineageChange) -> dict[str, Any]:
        assert node.status is not None and node.status_time is not None
        when = iso_z(node.status_time)
        item = {
            "pk": keys.node_pk(node.id),
            "sk": keys.history_sk(when, node.status),
            "status": node.status,
            "time": when,
            "eventTime": iso_z(change.event_time),
            "detailType": change.detail_type,
            "eventId": change.event_id,
            "replayName": change.replay_name,
            **{k: v for k, v in node.history.items() if v is not None},
        }
        return {"TableName": self.table, "Item": {k: to_dynamo(v) for k, v in item.items() if v is not None}}

    # --- reads -----------------------------------------------------------------------------------

    def get_nodes(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Node items by id (BatchGetItem; one call per 100 ids, run concurrently)."""
        return self.get_nodes_for_event(ids, None)[0]

    def get_nodes_for_event(
        self, ids: Iterable[str], event_id: str | None
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        """Node items by id, and whether the event `event_id` was applied already: its marker is read in
        the same call, so the caller can tell a duplicate delivery for the cost of this one read, not a
        failed transaction besides. (The transaction still guards the write.)"""
        items, applied = self._node_items(ids, event_id=event_id)
        return {node_id: node_from_item(item) for node_id, item in items.items() if _is_node(item)}, applied

    def nodes_with_edges(
        self, ids: Iterable[str], direction: str
    ) -> dict[str, tuple[dict[str, Any] | None, list[dict[str, str]]]]:
        """Nodes and their edges in one direction, a walk's level: BatchGetItem (100 nodes a call) for
        the nodes that keep their edges, one Query each for the others (wide, or from before the
        adjacency layout, or never recorded)."""
        unique = list(dict.fromkeys(ids))
        items, _ = self._node_items(unique)
        found: dict[str, tuple[dict[str, Any] | None, list[dict[str, str]]]] = {}
        rest = []
        for node_id in unique:
            item = items.get(node_id)
            edges = adjacency.edges_from_item(item, node_id, direction) if item else None
            if edges is None:
                rest.append(node_id)
            else:
                found[node_id] = (node_from_item(item) if item and _is_node(item) else None, edges)
        answers = _parallel(lambda node_id: self.node_with_edges(node_id, direction), rest)
        found.update(zip(rest, answers, strict=True))
        return {node_id: found[node_id] for node_id in unique}

    def _node_items(
        self, ids: Iterable[str], *, event_id: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + _BATCH_GET_LIMIT] for i in range(0, len(unique), _BATCH_GET_LIMIT)]
        marker = event_id if self.table != self.idempotency_table else None
        calls = [
            (chunk, marker if n == 0 else None) for n, chunk in enumerate(chunks or ([[]] if marker else []))
        ]
        found: dict[str, dict[str, Any]] = {}
        applied = False
        for result, seen in _parallel(self._batch_get_call, calls):
            found.update(result)
            applied = applied or seen
        return found, applied

    def _batch_get_call(
        self, call: tuple[Sequence[str], str | None]
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        return self._batch_get(*call)

    def _batch_get(
        self, ids: Sequence[str], event_id: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        """The items found, and whether the marker of `event_id` exists."""
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": [self._key(i) for i in ids]}} if ids else {}
        if event_id is not None:
            request[self.idempotency_table] = {
                "Keys": [{"id": {"S": self._marker_id(event_id)}}],
                "ProjectionExpression": "id",
            }
        applied = False
        while request:
            response = self._ddb.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self.table, []):
                item = from_item(raw)
                found[item["id"]] = item
            applied = applied or bool(response.get("Responses", {}).get(self.idempotency_table))
            request = response.get("UnprocessedKeys") or {}
        return found, applied

    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
        """One node and its edges in one direction ("upstream" or "downstream") from its edge items: one
        Query (paged if huge). Right for every node, whatever layout wrote it."""
        low, high = (
            (keys.IN_PREFIX, keys.NODE_SK) if direction == "upstream" else (keys.NODE_SK, keys.OUT_END)
        )
        node, edges = None, []
        for item in self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": keys.node_pk(node_id)},
                ":low": {"S": low},
                ":high": {"S": high},
            },
        ):
            if item["sk"] == keys.NODE_SK:
                node = node_from_item(item) if _is_node(item) else None
            else:
                edges.append({"from": item["from"], "to": item["to"], "relation": item["relation"]})
        return node, edges

    def datasets_under(self, uri: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Dataset and artifact nodes strictly under an S3 prefix (GSI1); a bucket root lists its bucket."""
        bucket, key = s3_split(uri)
        values = {":b": {"S": f"S3#{bucket}"}}
        condition = "gsi1pk = :b"
        if key:
            condition += " AND begins_with(gsi1sk, :k)"
            values[":k"] = {"S": f"{key}/"}
        items = self._query(
            IndexName="gsi1", KeyConditionExpression=condition, ExpressionAttributeValues=values, limit=limit
        )
        return [node_from_item(i) for i in items]

    def scan_all(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Every node and edge (the sandbox's whole-graph view; never used on a request path)."""
        nodes, edges = [], []
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table):
            for raw in page.get("Items", []):
                item = from_item(raw)
                if item["sk"] == keys.NODE_SK:
                    if _is_node(item):
                        nodes.append(node_from_item(item))
                elif item["sk"].startswith(keys.OUT_PREFIX):
                    edges.append({"from": item["from"], "to": item["to"], "relation": item["relation"]})
        return nodes, edges


def _is_node(item: dict[str, Any]) -> bool:
    """A recorded node, not the item that only keeps the edges of a node never recorded itself."""
    return "kind" in item or bool(item.get("artifact"))


def _parallel(fn: Any, args: list[Any]) -> list[Any]:
    if len(args) <= 1:
        return [fn(a) for a in args]
    with ContextPool(max_workers=min(16, len(args))) as pool:
        return list(pool.map(fn, args))
