"""moto's DynamoDB operations made proportional to what they touch, for the sandbox's lifetime.

- TransactWriteItems: moto deep-copies every table a transaction touches so it can roll back, so each
  transaction costs O(table size) (seconds at a few thousand items). Here the snapshot is item-level
  (only the items the transaction names); conditions, cancellation reasons and all-or-nothing are
  unchanged.
- Query on a table's key: moto sorts and scans every item of the table to find one partition. Here
  it reads that partition only (index queries are left as they are).
- UpdateItem (alone or in a transaction): moto parses the update expression twice and walks its tree
  with ten validators on every call (milliseconds per update). Here the expressions Steward writes
  (SET, if_not_exists, REMOVE, ADD to a string set, of top-level attributes) are parsed once per text
  and applied directly; anything else, and anything moto would refuse, still goes to moto.

Without these a 10,000-event replay or a 1,000-job walk would measure moto, not Steward. The tests
in tests/sandbox/test_dynamodb.py pin the semantics against plain moto.
"""

from __future__ import annotations

import copy
import functools
import re
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
            condition = None  # checked above, against the same item: not parsed again below
            if op_type != "ConditionCheck":
                snapshots.append(
                    (table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
                )
            conditions = {
                "condition_expression": condition,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **conditions)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **conditions)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **conditions)
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


_BARE = r"[A-Za-z][A-Za-z0-9_]*"
_PATH = rf"(#[A-Za-z0-9_]+|{_BARE})"
_VALUE = r"(:[A-Za-z0-9_]+)"
_SET_ACTION = re.compile(
    rf"\s*{_PATH}\s*=\s*(?:{_VALUE}|if_not_exists\s*\(\s*{_PATH}\s*,\s*{_VALUE}\s*\))\s*"
)
_REMOVE_ACTION = re.compile(rf"\s*{_PATH}\s*")
_ADD_ACTION = re.compile(rf"\s*{_PATH}\s+{_VALUE}\s*")
_CLAUSE = re.compile(r"(?:^|\s)(SET|REMOVE|ADD)\s", re.IGNORECASE)
_SIZE_MARGIN = 400_000  # moto refuses items over 405,000 bytes: near that, moto decides


def _actions(body: str, pattern: re.Pattern[str]) -> list[re.Match[str]] | None:
    found, pos = [], 0
    while True:
        match = pattern.match(body, pos)
        if match is None:
            return None
        found.append(match)
        pos = match.end()
        if pos == len(body):
            return found
        if body[pos] != ",":
            return None
        pos += 1


@functools.lru_cache(maxsize=2048)
def _update_plan(expression: str) -> tuple[tuple[str, str, str | None, str | None], ...] | None:
    """("set", target, if_not_exists source or None, value), ("remove", target, None, None) and ("add",
    target, None, value) actions of an expression that only SETs, REMOVEs and ADDs top-level
    attributes; None for anything else."""
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    parts = _CLAUSE.split(expression)
    if len(parts) < 3 or parts[0].strip():
        return None
    plan: list[tuple[str, str, str | None, str | None]] = []
    clauses = [part.upper() for part in parts[1::2]]
    if len(set(clauses)) != len(clauses):
        return None
    for clause, body in zip(clauses, parts[2::2], strict=True):
        pattern = {"SET": _SET_ACTION, "REMOVE": _REMOVE_ACTION, "ADD": _ADD_ACTION}[clause]
        matches = _actions(body, pattern)
        if matches is None:
            return None
        for m in matches:
            if clause == "SET":
                plan.append(("set", m.group(1), m.group(3), m.group(2) or m.group(4)))
            elif clause == "ADD":
                plan.append(("add", m.group(1), None, m.group(2)))
            else:
                plan.append(("remove", m.group(1), None, None))
    reserved = set(ReservedKeywords.get_reserved_keywords())
    paths = [p for action in plan for p in (action[1], action[2]) if p]
    if any(not p.startswith("#") and p.upper() in reserved for p in paths):
        return None
    return tuple(plan)


def _resolve_plan(
    plan: tuple[tuple[str, str, str | None, str | None], ...],
    names: dict[str, str],
    values: dict[str, Any],
    table: Any,
) -> list[tuple[str, str, str | None, Any]] | None:
    """The plan with its placeholders resolved; None where moto would refuse it (moto says why)."""
    key_types = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    resolved: list[tuple[str, str, str | None, Any]] = []
    for action, target_ref, source_ref, value_ref in plan:
        target = names.get(target_ref) if target_ref.startswith("#") else target_ref
        source = (names.get(source_ref) if source_ref.startswith("#") else source_ref) if source_ref else None
        value = values.get(value_ref) if value_ref else None
        if target is None or (source_ref and source is None) or (value_ref and value is None):
            return None  # an unknown placeholder
        if target in table.table_key_attrs or source in table.table_key_attrs:
            return None
        if value is not None:
            if not isinstance(value, dict) or len(value) != 1:
                return None
            ((kind, raw),) = value.items()
            if kind in ("SS", "NS", "BS") and not raw:
                return None
            if action == "add" and kind != "SS":
                return None  # numbers and other sets: moto's own ADD
            if target in table.attribute_keys and (
                source is not None or key_types.get(target, kind) != kind or (kind in ("S", "B") and not raw)
            ):
                return None
        resolved.append((action, target, source, value))
    targets = [t for _, t, _, _ in resolved]
    return resolved if len(set(targets)) == len(targets) else None  # overlapping paths: moto's error


def update_item(
    self: Any,
    table_name: str,
    key: dict[str, dict[str, Any]],
    update_expression: str,
    expression_attribute_names: dict[str, Any],
    expression_attribute_values: dict[str, Any],
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Any:
    """moto's UpdateItem for the expressions Steward writes (SET, if_not_exists, REMOVE, ADD to a string
    set, of top-level attributes), without re-parsing and re-validating the expression tree on every
    call. Anything else, and anything moto would refuse, goes to moto's own UpdateItem."""
    from moto.dynamodb.comparisons import create_condition_expression_parser
    from moto.dynamodb.exceptions import ConditionalCheckFailed
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def moto_update_item() -> Any:
        return _ORIGINAL["update_item"](
            self,
            table_name,
            key,
            update_expression,
            expression_attribute_names,
            expression_attribute_values,
            attribute_updates,
            expected,
            condition_expression,
            return_values_on_condition_check_failure,
        )

    table = self.get_table(table_name)
    simple = update_expression and not (attribute_updates or expected) and table.stream_shard is None
    plan = _update_plan(update_expression) if simple else None
    names, values = expression_attribute_names or {}, expression_attribute_values or {}
    resolved = _resolve_plan(plan, names, values, table) if plan is not None else None
    if resolved is None or table.hash_key_attr not in key:
        return moto_update_item()
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
    item = table.get_item(hash_value, range_value)
    condition = create_condition_expression_parser(condition_expression, names, values).parse()
    if not condition.expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    old = dict(item.attrs) if item is not None else {}
    new = dict(old)
    new[table.hash_key_attr] = hash_value  # an item UpdateItem creates has its key, as in DynamoDB
    if range_value is not None:
        new[table.range_key_attr] = range_value
    for action, target, source, value in resolved:  # operands read the item as it was
        if action == "remove":
            new.pop(target, None)
        elif action == "add":  # a string set's union (checked: SS)
            present = old.get(target)
            if present is not None and present.type != "SS":
                return moto_update_item()  # moto says why
            union = list(present.value) if present is not None else []  # moto's order: old, then new
            union += [v for v in value["SS"] if v not in union]
            new[target] = DynamoType({"SS": union})
        elif source is not None and source in old:
            new[target] = copy.deepcopy(old[source])
        else:
            new[target] = DynamoType(value)
    if sum(bytesize(k) + v.size() for k, v in new.items()) > _SIZE_MARGIN:
        return moto_update_item()
    if item is None:
        data = {table.hash_key_attr: key[table.hash_key_attr]}
        if range_value is not None:
            data[table.range_key_attr] = key[table.range_key_attr]
        table.put_item(data)
        item = table.get_item(hash_value, range_value)
    dict.clear(item.attrs)
    for name, typed in new.items():
        dict.__setitem__(item.attrs, name, typed)  # sizes checked above, once
    return item


_ORIGINAL: dict[str, Any] = {}  # moto's UpdateItem while the faster one is installed


class _ParsedOnce:
    """moto's DynamoDB responses parse each update expression only to list the placeholders it uses
    (read-only): the same expression text is parsed once."""

    original: Any = None

    @staticmethod
    @functools.lru_cache(maxsize=2048)
    def make(expression: str) -> Any:
        return _ParsedOnce.original.make(expression)


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

        from moto.dynamodb import responses

        _ORIGINAL["update_item"] = self._originals["update"] = DynamoDBBackend.update_item
        _ParsedOnce.original = self._originals["parser"] = responses.UpdateExpressionParser
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
        responses.UpdateExpressionParser = _ParsedOnce  # type: ignore[misc]
        Table.query = query  # type: ignore[method-assign]
        Table.all_items = all_items  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        if self._originals:
            from moto.dynamodb import responses

            DynamoDBBackend.transact_write_items = self._originals["transact"]  # type: ignore[method-assign]
            DynamoDBBackend.update_item = self._originals["update"]  # type: ignore[method-assign]
            responses.UpdateExpressionParser = self._originals["parser"]  # type: ignore[misc]
            Table.query = self._originals["query"]  # type: ignore[method-assign]
            Table.all_items = self._originals["all_items"]  # type: ignore[method-assign]
            self._originals = {}
