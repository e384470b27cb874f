"""Two of moto's DynamoDB operations made proportional to what they touch, for the sandbox's lifetime.

- TransactWriteItems: moto deep-copies every table a transaction touches so it can roll back, so each
  transaction costs O(table size) (seconds at a few thousand items). Here the snapshot is item-level
  (only the items the transaction names); conditions, cancellation reasons and all-or-nothing are
  unchanged.
- Query on a table's key: moto sorts and scans every item of the table to find one partition. Here
  it reads that partition only (index queries are left as they are).

Without these a 10,000-event replay or a 1,000-job walk would measure moto, not Steward. The tests
in tests/sandbox/test_dynamodb.py pin the semantics against plain moto.
"""

from __future__ import annotations

import copy
import threading
from typing import Any


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:  # noqa: PLR0915
    # moto's own body with an item-level snapshot; raises inside the try are per-item outcomes.
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    snapshots: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []

    def rollback() -> None:
        for table_name, key, old in reversed(snapshots):
            if old is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, old)

    for item in transact_items:
        original_item = None
        if len(item) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                snapshots.append(
                    (table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
                )
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
        except Exception as exc:
            errors.append((type(exc).__name__, str(exc), original_item))
    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_partition = threading.local()


class FastDynamoDB:
    """Installs the faster operations on moto's DynamoDB while a sandbox runs, and restores moto's after."""

    def __init__(self) -> None:
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        original_query, original_all_items = Table.query, Table.all_items
        self._originals = {
            "transact": DynamoDBBackend.transact_write_items,
            "query": original_query,
            "all_items": original_all_items,
        }

        def all_items(table: Any) -> Any:
            key = getattr(_partition, "key", None)
            if key is not None and table.range_key_attr:
                return list(table.items.get(key, {}).values())
            return original_all_items(table)

        def query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            index = (
                kwargs.get("index_name") if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
            )
            if index or hash_key is None:
                return original_query(table, hash_key, *args, **kwargs)
            _partition.key = hash_key
            try:
                return original_query(table, hash_key, *args, **kwargs)
            finally:
                _partition.key = None

        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        Table.query = query  # type: ignore[method-assign]
        Table.all_items = all_items  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        if self._originals:
            DynamoDBBackend.transact_write_items = self._originals["transact"]  # type: ignore[method-assign]
            Table.query = self._originals["query"]  # type: ignore[method-assign]
            Table.all_items = self._originals["all_items"]  # type: ignore[method-assign]
            self._originals = {}
