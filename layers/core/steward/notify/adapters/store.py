"""DynamoDB access for notifications: dedupe markers, the delivery log, Slack thread anchors.

pk "DEDUPE#<key>"               delivered targets (a string set), "*complete", expiresAt (TTL), and
                                "sending:<target>": until when an invocation holds the send to it
pk "LOG#<yyyy-mm-dd>", sk time   one delivery attempt (channel, recipient, status, error)
pk "THREAD#<key>#<channel>"     the Slack ts of a model version's first message
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from steward.kernel.aws.clients import RETRYABLE_CODES, client, error_code
from steward.kernel.aws.dynamo import from_item, to_dynamo

LOG_RETENTION_DAYS = 90
_SENDING = "sending:"  # + target key: until when an invocation holds the send to that target
_BOOKKEEPING_ATTEMPTS = 4


def _after_delivery(call: Any) -> Any:
    """The writes that follow a delivery (its marker, its log entry, the Slack thread anchor) are retried
    here on throttling and 5xx, after botocore's own retries, with a short backoff: if one failed the
    message, the notification would go back to the queue and be delivered a second time."""
    for attempt in range(_BOOKKEEPING_ATTEMPTS):
        try:
            return call()
        except Exception as exc:
            if error_code(exc) not in RETRYABLE_CODES or attempt == _BOOKKEEPING_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    return None


def _now() -> float:
    return time.time()


class NotificationStore:
    def __init__(self, table: str, clock: Any = None) -> None:
        self.table = table
        self._clock = clock

    def clock(self) -> float:
        return float(self._clock()) if self._clock is not None else _now()

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def claim(self, dedupe_key: str, window_seconds: int) -> tuple[bool, set[str]]:
        """(first time in the window?, targets already served). One conditional write."""
        now = int(self.clock())
        key = {"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "-"}}
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={**key, "expiresAt": {"N": str(now + window_seconds)}, "firstSeen": {"N": str(now)}},
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            item = self._ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
            return False, set(item.get("delivered", {}).get("SS", []))
        return True, set()

    def claim_target(self, dedupe_key: str, target_key: str, lease_seconds: int) -> str:
        """Take the send to one target: "claimed" (send it, then mark it), "delivered" (marked already) or
        "in-flight" (another invocation claimed it less than `lease_seconds` ago). One conditional write;
        a read only when it is refused."""
        now = int(self.clock())
        key = {"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "-"}}
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #s = :until",
                ConditionExpression="NOT contains(delivered, :t) AND (attribute_not_exists(#s) OR #s < :now)",
                ExpressionAttributeNames={"#s": _SENDING + target_key},
                ExpressionAttributeValues={
                    ":until": {"N": str(now + lease_seconds)},
                    ":now": {"N": str(now)},
                    ":t": {"S": target_key},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            item = self._ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
            return "delivered" if target_key in item.get("delivered", {}).get("SS", []) else "in-flight"
        return "claimed"

    def release_target(self, dedupe_key: str, target_key: str) -> None:
        """Give a claimed send back (it failed, to be retried), retried on throttling and 5xx as the writes
        after a delivery are: a claim left held makes every retry within its lease find the target in
        flight. At worst its lease runs out."""
        with contextlib.suppress(Exception):
            _after_delivery(
                lambda: self._ddb.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "-"}},
                    UpdateExpression="REMOVE #s",
                    ExpressionAttributeNames={"#s": _SENDING + target_key},
                )
            )

    def mark(self, dedupe_key: str, target_key: str) -> None:
        _after_delivery(
            lambda: self._ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "-"}},
                UpdateExpression="ADD delivered :t REMOVE #s",
                ExpressionAttributeNames={"#s": _SENDING + target_key},
                ExpressionAttributeValues={":t": {"SS": [target_key]}},
            )
        )

    def complete(self, dedupe_key: str) -> None:
        self.mark(dedupe_key, "*complete")

    def record(self, attempt: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        item = {
            "pk": f"LOG#{now:%Y-%m-%d}",
            "sk": f"{now.isoformat()}#{uuid.uuid4().hex[:8]}",
            "time": now.isoformat(),
            "expiresAt": int(now.timestamp()) + LOG_RETENTION_DAYS * 86400,
            **attempt,
        }
        _after_delivery(
            lambda: self._ddb.put_item(
                TableName=self.table, Item={k: to_dynamo(v) for k, v in item.items() if v is not None}
            )
        )

    def attempts(self, since: datetime, failed_only: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        """Delivery attempts since `since`, newest first (one Query per day)."""
        found: list[dict[str, Any]] = []
        since = max(since, datetime.now(UTC) - timedelta(days=LOG_RETENTION_DAYS))  # bounded: one Query a day
        day = datetime.now(UTC).date()
        while day >= since.date() and len(found) < limit:
            response = self._ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :p AND sk >= :s",
                ScanIndexForward=False,
                ExpressionAttributeValues={
                    ":p": {"S": f"LOG#{day:%Y-%m-%d}"},
                    ":s": {"S": since.isoformat()},
                },
            )
            for raw in response.get("Items", []):
                item = {k: v for k, v in from_item(raw).items() if k not in ("pk", "sk", "expiresAt")}
                if not failed_only or item.get("status") == "failed":
                    found.append(item)
            day -= timedelta(days=1)
        return found[:limit]

    def hold_for_digest(self, bucket: str, notification: Any) -> None:
        now = datetime.now(UTC)
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"DIGEST#{bucket}"},
                "sk": {"S": f"{now.isoformat()}#{notification.dedupe_key}"[:1024]},
                "notification": {"S": notification.model_dump_json()},
                "expiresAt": {"N": str(int(now.timestamp()) + 30 * 86400)},
            },
        )

    def held(self, bucket: str) -> list[tuple[str, Any]]:
        from steward.notify.models import Notification

        response = self._ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"DIGEST#{bucket}"}},
            Limit=500,
        )
        return [
            (i["sk"]["S"], Notification.model_validate_json(i["notification"]["S"]))
            for i in response.get("Items", [])
        ]

    def release(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 25):
            self._ddb.batch_write_item(
                RequestItems={
                    self.table: [
                        {"DeleteRequest": {"Key": {"pk": {"S": f"DIGEST#{bucket}"}, "sk": {"S": key}}}}
                        for key in keys[start : start + 25]
                    ]
                }
            )

    def thread(self, thread_key: str, channel: str) -> str | None:
        item = self._ddb.get_item(
            TableName=self.table, Key={"pk": {"S": f"THREAD#{thread_key}#{channel}"}, "sk": {"S": "-"}}
        ).get("Item")
        return item["ts"]["S"] if item else None

    def set_thread(self, thread_key: str, channel: str, ts: str) -> None:
        """Remember the first message of a thread; a later one never moves the anchor."""
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            _after_delivery(
                lambda: self._ddb.put_item(
                    TableName=self.table,
                    Item={
                        "pk": {"S": f"THREAD#{thread_key}#{channel}"},
                        "sk": {"S": "-"},
                        "ts": {"S": ts},
                        "expiresAt": {"N": str(int(time.time()) + 180 * 86400)},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            )
