"""DynamoDB access for approval requests (lineage table) and single-use link markers (idempotency table)."""

from __future__ import annotations

import time
from typing import Any

from steward.adapters.clients import client
from steward.approvals.models import ApprovalRequest
from steward.errors import StaleEventError


class ApprovalStore:
    def __init__(self, table: str, idempotency_table: str) -> None:
        self.table = table
        self.idempotency_table = idempotency_table

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def _key(self, request_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"APPROVAL#{request_id}"}, "sk": {"S": "R"}}

    def create(self, request: ApprovalRequest) -> bool:
        """False when the request already exists (a duplicate registration event)."""
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={
                    **self._key(request.id),
                    "body": {"S": request.model_dump_json()},
                    "revision": {"N": "0"},
                    "status": {"S": request.status},
                    "packageArn": {"S": request.package_arn},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, request_id: str) -> ApprovalRequest | None:
        item = self._ddb.get_item(TableName=self.table, Key=self._key(request_id), ConsistentRead=True).get(
            "Item"
        )
        return ApprovalRequest.model_validate_json(item["body"]["S"]) if item else None

    def save(self, request: ApprovalRequest) -> ApprovalRequest:
        """Optimistic write: fails with StaleEventError if someone else decided in the meantime."""
        updated = request.model_copy(update={"revision": request.revision + 1})
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={
                    **self._key(request.id),
                    "body": {"S": updated.model_dump_json()},
                    "revision": {"N": str(updated.revision)},
                    "status": {"S": updated.status},
                    "packageArn": {"S": updated.package_arn},
                },
                ConditionExpression="revision = :r",
                ExpressionAttributeValues={":r": {"N": str(request.revision)}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise StaleEventError(f"approval {request.id} changed concurrently") from None
        return updated

    def use_link(self, nonce: str, expires_at: int) -> bool:
        """Spend a link (single use). False when it was already used."""
        try:
            self._ddb.put_item(
                TableName=self.idempotency_table,
                Item={
                    "id": {"S": f"approval-link#{nonce}"},
                    "expiration": {"N": str(max(expires_at, int(time.time())) + 86400)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def link_used(self, nonce: str) -> bool:
        item = self._ddb.get_item(
            TableName=self.idempotency_table, Key={"id": {"S": f"approval-link#{nonce}"}}
        )
        return "Item" in item
