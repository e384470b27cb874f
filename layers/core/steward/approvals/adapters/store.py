"""DynamoDB access for approval requests (lineage table) and single-use link markers (idempotency table)."""

from __future__ import annotations

import time
from typing import Any

from steward.approvals.models import ApprovalRequest
from steward.kernel.aws.clients import client
from steward.kernel.errors import LinkUsedError, StaleEventError


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

    def save(self, request: ApprovalRequest, spend_link: tuple[str, int] | None = None) -> ApprovalRequest:
        """Optimistic write: fails with StaleEventError if someone else decided in the meantime.

        With `spend_link` (nonce, expiry) the link is spent in the same transaction: both happen or
        neither (LinkUsedError when the link was spent already; a lost race burns nothing)."""
        updated = request.model_copy(update={"revision": request.revision + 1})
        put = {
            "TableName": self.table,
            "Item": {
                **self._key(request.id),
                "body": {"S": updated.model_dump_json()},
                "revision": {"N": str(updated.revision)},
                "status": {"S": updated.status},
                "packageArn": {"S": updated.package_arn},
            },
            "ConditionExpression": "revision = :r",
            "ExpressionAttributeValues": {":r": {"N": str(request.revision)}},
        }
        if spend_link is None:
            try:
                self._ddb.put_item(**put)
            except self._ddb.exceptions.ConditionalCheckFailedException:
                raise StaleEventError(f"approval {request.id} changed concurrently") from None
            return updated
        try:
            self._ddb.transact_write_items(TransactItems=[{"Put": put}, {"Put": self._link_put(*spend_link)}])
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise LinkUsedError("approval link already used") from None
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise StaleEventError(f"approval {request.id} changed concurrently") from None
            raise  # a conflict with another transaction (TransactionConflict): the caller's retry
        return updated

    def _link_put(self, nonce: str, expires_at: int) -> dict[str, Any]:
        return {
            "TableName": self.idempotency_table,
            "Item": {
                "id": {"S": f"approval-link#{nonce}"},
                "expiration": {"N": str(max(expires_at, int(time.time())) + 86400)},
            },
            "ConditionExpression": "attribute_not_exists(id)",
        }

    def use_link(self, nonce: str, expires_at: int) -> bool:
        """Spend a link (single use). False when it was already used."""
        try:
            self._ddb.put_item(**self._link_put(nonce, expires_at))
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def link_used(self, nonce: str) -> bool:
        item = self._ddb.get_item(
            TableName=self.idempotency_table, Key={"id": {"S": f"approval-link#{nonce}"}}
        )
        return "Item" in item
