"""DynamoDB access for monitoring: result nodes in the lineage graph, each endpoint's monitoring
timeline, and the retraining ledger, all in the lineage table.

    pk "N#<result id>"  sk "N" / "~H#…" / edges   the result node (a Model Monitor execution or an alarm)
    pk "MON#<endpoint id>"  sk "<time>#<result id>#<status>"   one line of the endpoint's timeline
    pk "RETRAIN#<pipeline>"  sk "RETRAIN"          recent starts of a retraining pipeline (revisioned)

The result node and the nodes it links keep those edges on their items too (lineage/adapters/adjacency.py).
`scan_all` and the walks read only node and edge items, so the timeline and the ledger never appear in
a graph.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from steward.kernel.arns import arn_name, canonical_arn
from steward.kernel.aws.clients import error_code
from steward.kernel.aws.dynamo import Expr, from_item, to_dynamo
from steward.kernel.errors import StaleEventError
from steward.kernel.graph import LineageChange, NodeKind, NodeUpdate, Relation
from steward.kernel.times import iso_z
from steward.lineage import keys
from steward.lineage.adapters import adjacency
from steward.lineage.adapters.store import ATTR_PREFIX, LineageStore
from steward.monitoring.models import MonitoringRecord
from steward.monitoring.retraining import Ledger

FUNCTION = "react_to_monitoring"
_LEDGER_SK = "RETRAIN"
ALARM_LISTING = "STATE#alarm"
_LATEST_KEYS = ("id", "name", "status", "result", "violationCount", "schedule", "problem")


def timeline_pk(endpoint_id: str) -> str:
    return f"MON#{endpoint_id}"


class MonitoringStore(LineageStore):
    """The lineage store, plus what monitoring keeps beside the graph."""

    def __init__(self, table: str, idempotency_table: str, event_id_ttl_seconds: int = 7 * 24 * 3600) -> None:
        super().__init__(table, idempotency_table, event_id_ttl_seconds, function_name=FUNCTION)

    # --- results -----------------------------------------------------------------------------------

    def seen(self, event_id: str) -> bool:
        """Whether this event was already recorded (a cheap early exit; `record` is the real guard)."""
        item = self._ddb.get_item(
            TableName=self.idempotency_table,
            Key={"id": {"S": f"{FUNCTION}#event#{event_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def record(self, record: MonitoringRecord) -> str:
        """One transaction: the event-id marker, the result node (an alarm's state only moves forward in
        time), the links to the endpoint, the versions it served and the retraining run, the timeline
        line. Returns "recorded" or "stale" (an older alarm state: kept in history, status unchanged);
        raises DuplicateEventError for an event already recorded."""
        # The endpoint's summary first: a retry after a crash is cut short by `seen` (the marker is
        # written with the record), so a summary written after the record could be lost for good.
        noted = self._note_latest(record)
        try:
            self._write(record, forward=True)
        except StaleEventError:
            self._write(record, forward=False)
            return "stale"
        if not noted:  # the endpoint's node may only exist now, made by this record
            self._note_latest(record)
        return "recorded"

    def _note_latest(self, record: MonitoringRecord) -> bool:
        """A Model Monitor result becomes its endpoint's latest (forward in time), for `steward status`.
        Returns whether it was written (an alarm is not: its own node is listed, ALARM_LISTING)."""
        if record.status is not None:
            return True
        return self.note(
            record.endpoint_id,
            "monitoring",
            {
                "at": iso_z(record.at),
                "modelPackages": list(record.model_packages),
                **{k: record.entry.get(k) for k in _LATEST_KEYS},
            },
        )

    def _write(self, record: MonitoringRecord, *, forward: bool) -> None:
        edges = [(record.endpoint_id, record.node_id, Relation.MONITORED_BY.value)]
        for package in record.model_packages:
            edges.append((package, record.node_id, Relation.MONITORED_BY.value))
        if record.pipeline_execution:
            edges.append((record.node_id, canonical_arn(record.pipeline_execution), Relation.TRIGGERED.value))
        self._write_resolving(
            lambda: (self._record_items(record, edges, forward), []), edges, record.event_id, forward=forward
        )

    def _record_items(
        self, record: MonitoringRecord, edges: list[tuple[str, str, str]], forward: bool
    ) -> list[dict[str, Any]]:
        change = LineageChange(
            event_id=record.event_id, event_time=record.event_time, detail_type=record.detail_type
        )
        entries = adjacency.collect(edges)
        items: list[dict[str, Any]] = [{"Put": self._marker(record.event_id)}]
        items.append({"Update": self._result_update(record, entries.pop(record.node_id), forward=forward)})
        if record.status is not None and record.status_time is not None:
            node = NodeUpdate(
                id=record.node_id,
                kind=NodeKind.MONITORING_EXECUTION,
                name=record.name,
                status=record.status,
                status_time=record.status_time,
                history=record.history,
            )
            items.append({"Put": self._history(node, change)})
        references = [NodeUpdate(id=record.endpoint_id, kind=NodeKind.ENDPOINT, name=record.endpoint_name)]
        if record.pipeline_execution:
            execution = canonical_arn(record.pipeline_execution)
            references.append(
                NodeUpdate(id=execution, kind=NodeKind.PIPELINE_EXECUTION, name=arn_name(execution))
            )
        items += [{"Update": self._upsert(node, change, entries.pop(node.id, None))} for node in references]
        items += [{"Update": self._edges_only(node_id, found)} for node_id, found in sorted(entries.items())]
        for source, target, relation in edges:
            items += [{"Put": put} for put in self._edge_puts(source, target, relation, change)]
        items.append({"Put": self._timeline_put(record)})
        return items

    def _result_update(
        self, record: MonitoringRecord, entries: adjacency.Entries, *, forward: bool
    ) -> dict[str, Any]:
        expr = Expr()
        expr.set("id", record.node_id)
        expr.set("kind", NodeKind.MONITORING_EXECUTION.value, keep_existing=True)
        expr.set("name", record.name, keep_existing=True)
        # An older alarm state arriving late adds its history and links but overwrites nothing.
        newest = forward or record.status is None
        for attr, value in record.attributes.items():
            if value is not None:
                expr.set(ATTR_PREFIX + attr, value, keep_existing=not newest)
        update: dict[str, Any] = {"TableName": self.table, "Key": self._key(record.node_id)}
        if record.status is not None and record.status_time is not None and forward:
            when = iso_z(record.status_time)
            expr.set("status", record.status)
            expr.set("statusTime", when)
            expr.set("updatedAt", iso_z(record.event_time))
            # Every alarm's current state in one sparse listing (`steward status`).
            expr.set("gsi2pk", ALARM_LISTING)
            expr.set("gsi2sk", when)
            expr.set(ATTR_PREFIX + "endpointId", record.endpoint_id)
            time_n = expr.name("statusTime")
            update["ConditionExpression"] = f"attribute_not_exists({time_n}) OR {time_n} < {expr.value(when)}"
        return self._with_edges(update, expr, record.node_id, entries)

    def _timeline_put(self, record: MonitoringRecord) -> dict[str, Any]:
        when = iso_z(record.at)
        status = record.status or str(record.entry.get("status", ""))
        item = {
            "pk": timeline_pk(record.endpoint_id),
            # Deterministic: a second delivery of the same fact rewrites the same line.
            "sk": f"{when}#{keys._id_part(record.node_id)}#{status}"[:1024],
            "time": when,
            "endpoint": record.endpoint_id,
            "eventId": record.event_id,
            **record.entry,
        }
        return {"TableName": self.table, "Item": {k: to_dynamo(v) for k, v in item.items() if v is not None}}

    def timeline(self, endpoint_id: str, since: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """The endpoint's monitoring results and alarm transitions since `since`, newest first."""
        items = self._query(
            KeyConditionExpression="pk = :p AND sk >= :s",
            ExpressionAttributeValues={
                ":p": {"S": timeline_pk(endpoint_id)},
                ":s": {"S": iso_z(since)},
            },
            ScanIndexForward=False,
            limit=limit,
        )
        return [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items]

    # --- retraining ledger -------------------------------------------------------------------------

    def read_ledger(self, pipeline: str) -> Ledger | None:
        item = self._ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"RETRAIN#{pipeline}"}, "sk": {"S": _LEDGER_SK}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        plain = from_item(item)
        return Ledger(
            starts=tuple(plain.get("starts") or ()),
            last_trigger=plain.get("lastTrigger"),
            last_execution=plain.get("lastExecution"),
            revision=int(plain.get("revision", 0)),
        )

    def write_ledger(self, pipeline: str, ledger: Ledger, expected_revision: int) -> bool:
        """Write `ledger` only if the stored revision is still `expected_revision` (0: no item yet)."""
        item = {
            "pk": f"RETRAIN#{pipeline}",
            "sk": _LEDGER_SK,
            "pipeline": pipeline,
            "starts": list(ledger.starts),
            "lastTrigger": ledger.last_trigger,
            "lastExecution": ledger.last_execution,
            "revision": ledger.revision,
        }
        condition = "attribute_not_exists(pk)" if expected_revision == 0 else "revision = :r"
        kwargs: dict[str, Any] = {}
        if expected_revision:
            kwargs["ExpressionAttributeValues"] = {":r": {"N": str(expected_revision)}}
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={k: to_dynamo(v) for k, v in item.items() if v is not None},
                ConditionExpression=condition,
                **kwargs,
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
