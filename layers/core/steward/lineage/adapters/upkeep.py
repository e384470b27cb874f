"""Node upkeep in the lineage table: a node's history, the gsi2 worklists and listings, summaries kept
on a node, a training job's rule evaluations. A part of LineageStore (single-table layout: keys.py)."""

from __future__ import annotations

from typing import Any

from steward.kernel.aws.clients import error_code
from steward.kernel.aws.dynamo import Expr, from_item, to_dynamo
from steward.kernel.errors import StaleEventError
from steward.kernel.graph import NodeKind
from steward.lineage import keys, rules

ATTR_PREFIX = "a_"
RULES_WATCH = "RULES#training-job"  # gsi1: training jobs whose rules have not all finished


class NodeUpkeep:
    """What LineageStore does to single nodes beside recording events and walking."""

    table: str

    @property
    def _ddb(self) -> Any:
        raise NotImplementedError

    def _key(self, node_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.node_pk(node_id)}, "sk": {"S": keys.NODE_SK}}

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
                # `kind`: a node, not the item that only holds the edges of a node never recorded
                ConditionExpression="attribute_exists(#k) AND (attribute_not_exists(#a) OR #a.#at <= :at)",
                ExpressionAttributeNames={"#a": ATTR_PREFIX + attr, "#at": "at", "#k": "kind"},
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
