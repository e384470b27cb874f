"""DynamoDB access for the lineage graph: one transaction per event, batched reads per walk level."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from steward.kernel.arns import s3_split
from steward.kernel.aws.clients import client, error_code
from steward.kernel.aws.dynamo import Expr, from_item, to_dynamo
from steward.kernel.errors import DuplicateEventError, StaleEventError
from steward.kernel.graph import LineageChange, NodeKind, NodeUpdate
from steward.kernel.threads import ContextPool
from steward.kernel.times import iso_z
from steward.lineage import keys, rules
from steward.lineage.lifecycle import RANKED_KINDS, RETRYABLE_KINDS, is_active, is_terminal_rank, status_rank

ATTR_PREFIX = "a_"
_TRANSACTION_LIMIT = 100
_BATCH_GET_LIMIT = 100
_S3_KINDS = (NodeKind.DATASET, NodeKind.MODEL_ARTIFACT)
RULES_WATCH = "RULES#training-job"  # gsi1: training jobs whose rules have not all finished


class LineageStore:
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
        guarded: list[dict[str, Any]] = []  # the status change: only with the marker, all or nothing
        links: list[dict[str, Any]] = []  # reference nodes and edges: idempotent upserts
        for node in change.nodes:
            if node.status is not None and forward:
                guarded.append({"Update": self._status_update(node, change)})
            else:
                links.append({"Update": self._upsert(node, change)})
            if node.status is not None:
                guarded.append({"Put": self._history(node, change)})
        for edge in change.edges:
            links.extend(
                {"Put": put} for put in self._edge_puts(edge.source, edge.target, edge.relation.value, change)
            )
        transaction = [{"Put": self._marker(change.event_id)}, *guarded]
        if len(transaction) + len(links) <= _TRANSACTION_LIMIT:
            transaction.extend(links)
        else:  # rare (an event naming dozens of datasets): links first, then the guarded part
            for start in range(0, len(links), _TRANSACTION_LIMIT):
                self._ddb.transact_write_items(TransactItems=links[start : start + _TRANSACTION_LIMIT])
        self._write_once(transaction, change.event_id)

    def _write_once(self, items: list[dict[str, Any]], event_id: str, *, forward: bool = True) -> None:
        """One transaction whose first item is the event's marker: DuplicateEventError when the marker
        exists, StaleEventError when (moving forward) a guarded status write lost to a newer state."""
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            codes = [
                r.get("Code", "None") for r in getattr(exc, "response", {}).get("CancellationReasons", [])
            ]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise DuplicateEventError(event_id) from None
            if forward and "ConditionalCheckFailed" in codes:
                raise StaleEventError(event_id) from None
            raise

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

    def _key(self, node_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.node_pk(node_id)}, "sk": {"S": keys.NODE_SK}}

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

    def _upsert(self, node: NodeUpdate, change: LineageChange) -> dict[str, Any]:
        """A node this event mentions but does not report on: fill gaps, overwrite nothing."""
        expr = Expr()
        self._common(expr, node, change, keep_existing=True)
        return {
            "TableName": self.table,
            "Key": self._key(node.id),
            "UpdateExpression": expr.expression(),
            "ExpressionAttributeNames": expr.names,
            "ExpressionAttributeValues": expr.values,
        }

    def _status_update(self, node: NodeUpdate, change: LineageChange) -> dict[str, Any]:
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
        return {
            "TableName": self.table,
            "Key": self._key(node.id),
            "UpdateExpression": expr.expression(),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": expr.names,
            "ExpressionAttributeValues": expr.values,
        }

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
        self, ids: Sequence[str], unless_applied: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        """The items found, and whether the marker of `unless_applied` (an event id) exists."""
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": [self._key(i) for i in ids]}} if ids else {}
        if unless_applied is not None:
            request[self.idempotency_table] = {
                "Keys": [{"id": {"S": self._marker_id(unless_applied)}}],
                "ProjectionExpression": "id",
            }
        applied = False
        while request:
            response = self._ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table, []):
                node = node_from_item(from_item(item))
                found[node["id"]] = node
            applied = applied or bool(response.get("Responses", {}).get(self.idempotency_table))
            request = response.get("UnprocessedKeys") or {}
        return found, applied

    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
        """One node and its edges in one direction ("upstream" or "downstream"): one Query (paged if huge)."""
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
                node = node_from_item(item)
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

    def history(self, node_id: str) -> list[dict[str, Any]]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
            ExpressionAttributeValues={":pk": {"S": keys.node_pk(node_id)}, ":h": {"S": keys.HISTORY_PREFIX}},
        )
        return [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items]

    def active_nodes(self, kind: NodeKind, limit: int = 100) -> list[dict[str, Any]]:
        items = self._query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues={":p": {"S": f"ACTIVE#{kind.value}"}},
            limit=limit,
        )
        return [node_from_item(i) for i in items]

    def nodes_listed(self, listing: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """The nodes a sparse listing of index gsi2 holds (e.g. `STATE#alarm`: every alarm's state)."""
        items = self._query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues={":p": {"S": listing}},
            limit=limit,
        )
        return [node_from_item(i) for i in items]

    def note(self, node_id: str, attr: str, value: dict[str, Any]) -> bool:
        """Keep a summary on an existing node (e.g. an endpoint's `serving`), only forward in time:
        `value["at"]` (a fixed-width UTC time) must not be older than the summary it replaces. Outside
        any transaction on purpose: a stale summary fails alone. Returns whether it was written."""
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(node_id),
                UpdateExpression="SET #a = :v",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#a) OR #a.#at <= :at)",
                ExpressionAttributeNames={"#a": ATTR_PREFIX + attr, "#at": "at"},
                ExpressionAttributeValues={
                    ":v": to_dynamo({k: v for k, v in value.items() if v is not None}),
                    ":at": {"S": value["at"]},
                },
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def merge_rules(
        self, node_id: str, reported: list[dict[str, Any]], attempts: int = 8
    ) -> list[dict[str, Any]]:
        """Merge a training job's reported rule evaluations into its node, each rule forward only
        (lineage.rules.merge), and keep the job on the rules' watch (the sparse listing RULES_WATCH of
        index gsi1, which jobs never use otherwise) while any rule is unfinished, whatever the job's own
        status. Optimistic on a revision of the rules: a concurrent merge makes this one read again.
        Returns the entries that moved a rule forward (none for a duplicate)."""
        key = self._key(node_id)
        for _ in range(attempts):
            item = self._ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if item is None:
                return []  # not recorded (the change before failed): the event's retry merges
            plain = from_item(item)
            merged, advanced = rules.merge(plain.get(ATTR_PREFIX + "ruleEvaluations") or [], reported)
            watched = any(rules.is_open(r) for r in merged)
            listed = plain.get("gsi1pk") == RULES_WATCH
            if not advanced and (watched == listed or plain.get(ATTR_PREFIX + "rulesWatch")):
                return []  # nothing new (a watch the reconciler ended stays ended)
            revision = int(plain.get("rulesRevision") or 0)
            expr = Expr()
            expr.set(ATTR_PREFIX + "ruleEvaluations", merged)
            expr.set("rulesRevision", revision + 1)
            if watched:
                expr.set("gsi1pk", RULES_WATCH)
                expr.set("gsi1sk", str(plain.get("statusTime") or plain.get("updatedAt") or node_id))
            else:
                expr.removes.extend([expr.name("gsi1pk"), expr.name("gsi1sk")])
            rev_n = expr.name("rulesRevision")
            condition = (
                f"attribute_not_exists({rev_n})" if revision == 0 else f"{rev_n} = {expr.value(revision)}"
            )
            try:
                self._ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression=expr.expression(),
                    ConditionExpression=condition,
                    ExpressionAttributeNames=expr.names,
                    ExpressionAttributeValues=expr.values,
                )
            except Exception as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue  # another merge won: read its result and merge on top of it
                raise
            return advanced
        raise StaleEventError(f"rules of {node_id}: {attempts} concurrent merges")

    def rules_watched(self, limit: int = 100) -> list[dict[str, Any]]:
        """Training jobs with a Debugger/Profiler rule not finished yet (the reconciler reads them)."""
        items = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": RULES_WATCH}},
            limit=limit,
        )
        return [node_from_item(i) for i in items]

    def unwatch_rules(self, node_id: str, reason: str) -> None:
        """Stop watching a job's rules (they never ended, or cannot be described), saying why."""
        self._ddb.update_item(
            TableName=self.table,
            Key=self._key(node_id),
            UpdateExpression="REMOVE gsi1pk, gsi1sk SET #r = :r",
            ExpressionAttributeNames={"#r": ATTR_PREFIX + "rulesWatch"},
            ExpressionAttributeValues={":r": {"S": reason}},
            ConditionExpression="attribute_exists(pk)",
        )

    def retire(self, node_id: str, reason: str) -> None:
        """Take a record off the reconciler's worklist (it cannot be checked), saying why."""
        self._ddb.update_item(
            TableName=self.table,
            Key=self._key(node_id),
            UpdateExpression="REMOVE gsi2pk, gsi2sk SET #r = :r",
            ExpressionAttributeNames={"#r": ATTR_PREFIX + "reconcile"},
            ExpressionAttributeValues={":r": {"S": reason}},
            ConditionExpression="attribute_exists(pk)",
        )

    def scan_all(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Every node and edge (the sandbox's whole-graph view; never used on a request path)."""
        nodes, edges = [], []
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table):
            for raw in page.get("Items", []):
                item = from_item(raw)
                if item["sk"] == keys.NODE_SK:
                    nodes.append(node_from_item(item))
                elif item["sk"].startswith(keys.OUT_PREFIX):
                    edges.append({"from": item["from"], "to": item["to"], "relation": item["relation"]})
        return nodes, edges

    def _query(self, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request = {"TableName": self.table, **kwargs}
        while True:
            response = self._ddb.query(**request)
            items.extend(from_item(i) for i in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            request["ExclusiveStartKey"] = last


def node_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored node item → the graph JSON node (id, kind, name, status, then its attributes)."""
    node: dict[str, Any] = {
        "id": item["id"],
        "kind": "model-artifact" if item.get("artifact") else item.get("kind"),
        "name": item.get("name"),
        "status": item.get("status"),
    }
    for key in ("statusTime", "updatedAt"):
        if key in item:
            node[key] = item[key]
    for key, value in item.items():
        if key.startswith(ATTR_PREFIX):
            node[key[len(ATTR_PREFIX) :]] = value
    return node


def _parallel(fn: Any, args: list[Any]) -> list[Any]:
    if len(args) <= 1:
        return [fn(a) for a in args]
    with ContextPool(max_workers=min(16, len(args))) as pool:
        return list(pool.map(fn, args))
