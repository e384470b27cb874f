"""DynamoDB access for deployments and the per-endpoint lock (lineage table, their own item families).

pk "ENDPOINT#<endpoint arn>"  sk "LOCK"       the deployment holding the endpoint, with a lease
pk "ENDPOINT#<endpoint arn>"  sk "D#<id>"     one deployment record (JSON body, optimistic revision)
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from steward.kernel.aws.clients import RETRYABLE_CODES, client, error_code
from steward.kernel.errors import DependencyError, StaleEventError
from steward.promotion.models import Deployment


class DeploymentStore:
    def __init__(self, table: str) -> None:
        self.table = table

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    @staticmethod
    def _pk(endpoint_arn: str) -> dict[str, str]:
        return {"S": f"ENDPOINT#{endpoint_arn.lower()}"}

    def _item(self, d: Deployment) -> dict[str, Any]:
        return {
            "pk": self._pk(d.endpoint_arn),
            "sk": {"S": f"D#{d.id}"},
            "body": {"S": d.model_dump_json()},
            "revision": {"N": str(d.revision)},
            "status": {"S": d.status},
        }

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._ddb, operation)(**kwargs)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise
        except Exception as exc:
            if error_code(exc) in RETRYABLE_CODES:
                raise DependencyError(f"DynamoDB {operation}: {error_code(exc)}") from exc
            raise

    def create(self, deployment: Deployment) -> bool:
        """False when this deployment already exists (a duplicate event or command)."""
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item=self._item(deployment),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, endpoint_arn: str, deployment_id: str) -> Deployment | None:
        item = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": self._pk(endpoint_arn), "sk": {"S": f"D#{deployment_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return Deployment.model_validate_json(item["body"]["S"]) if item else None

    def save(self, deployment: Deployment) -> Deployment:
        """Optimistic write: StaleEventError when another invocation moved the record meanwhile."""
        updated = deployment.model_copy(update={"revision": deployment.revision + 1})
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item=self._item(updated),
                ConditionExpression="revision = :r",
                ExpressionAttributeValues={":r": {"N": str(deployment.revision)}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise StaleEventError(f"deployment {deployment.id} changed concurrently") from None
        return updated

    def for_endpoint(self, endpoint_arn: str) -> list[Deployment]:
        """Every deployment Steward ran on the endpoint, oldest first."""
        found: list[Deployment] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :d)",
            "ExpressionAttributeValues": {":pk": self._pk(endpoint_arn), ":d": {"S": "D#"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **kwargs)
            found += [Deployment.model_validate_json(i["body"]["S"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda d: (d.created_at, d.id))

    # --- the lock ------------------------------------------------------------------------------------

    def acquire(self, endpoint_arn: str, deployment_id: str, now: datetime, lease_seconds: int) -> bool:
        """Take the endpoint for one deployment (re-entrant for the holder; an expired lease is free)."""
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item={
                    "pk": self._pk(endpoint_arn),
                    "sk": {"S": "LOCK"},
                    "deploymentId": {"S": deployment_id},
                    "leaseUntil": {"N": str(int(now.timestamp()) + lease_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk) OR leaseUntil < :now OR deploymentId = :id",
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now.timestamp()))},
                    ":id": {"S": deployment_id},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, endpoint_arn: str, deployment_id: str) -> None:
        """Free the endpoint if this deployment still holds it."""
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._call(
                "delete_item",
                TableName=self.table,
                Key={"pk": self._pk(endpoint_arn), "sk": {"S": "LOCK"}},
                ConditionExpression="deploymentId = :id",
                ExpressionAttributeValues={":id": {"S": deployment_id}},
            )

    def holder(self, endpoint_arn: str) -> tuple[str, int] | None:
        item = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": self._pk(endpoint_arn), "sk": {"S": "LOCK"}},
            ConsistentRead=True,
        ).get("Item")
        return (item["deploymentId"]["S"], int(item["leaseUntil"]["N"])) if item else None
