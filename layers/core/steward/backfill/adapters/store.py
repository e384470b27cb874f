"""The backfill's checkpoint: one item per run in the lineage table (pk "BACKFILL#<run>", sk "CHECKPOINT").

Saved with a version condition, so two invocations continuing the same run cannot both move it on: the
second gets RefusedError (409) and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from steward.kernel.aws.clients import client, error_code
from steward.kernel.errors import RefusedError

SK = "CHECKPOINT"


def checkpoint_pk(run: str) -> str:
    return f"BACKFILL#{run}"


class BackfillStore:
    def __init__(self, table: str) -> None:
        self.table = table

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def load(self, run: str) -> dict[str, Any] | None:
        """The saved checkpoint of `run`, or None."""
        item = self._ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": checkpoint_pk(run)}, "sk": {"S": SK}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        state: dict[str, Any] = json.loads(item["state"]["S"])
        state["version"] = int(item["version"]["N"])
        return state

    def save(self, state: dict[str, Any], version: int) -> None:
        """Write `state` as version `version` + 1, if the stored one is still `version` (0: none yet)."""
        condition = "attribute_not_exists(pk)" if version == 0 else "version = :v"
        values = {} if version == 0 else {":v": {"N": str(version)}}
        body = {k: v for k, v in state.items() if k != "version"}
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": checkpoint_pk(str(state["run"]))},
                    "sk": {"S": SK},
                    "state": {"S": json.dumps(body, separators=(",", ":"))},
                    "version": {"N": str(version + 1)},
                    "done": {"BOOL": bool(state.get("done"))},
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise RefusedError(
                    f"backfill run {state['run']} was moved on by another invocation",
                    status=409,
                    error="Conflict",
                ) from None
            raise
