"""The moto server for the burst benchmark (infra/burst): infra/moto_server.py (DynamoDB calls
serialized) plus three emulator speed fixes, so that a 10,000-message run finishes in under an hour
instead of many. Each keeps moto's results; none is used by the test command (infra/test), whose
emulator stays moto as released plus the lock.

1. TransactWriteItems: moto deep-copies every table the transaction touches, once per item, so a
   transaction costs time in proportion to the table (0.9 s for 4 items at 5,000 items). This
   runs moto 5.2.1's own transaction code (same validation, exceptions and cancellation
   reasons) but copies only the items it writes and, on a failure, puts exactly those back
   (0.002 s). A validation error moto raises outside its try is rolled back too, as DynamoDB
   writes nothing from a request it rejects. Checked: a cancelled transaction of Put, Update,
   Update and Delete plus a failing ConditionCheck leaves both kinds of table unchanged, with
   the same answer byte for byte as stock moto; the socialcare-tests package (every DynamoDB
   contract) passes on it.
2. Query: moto's Table.query starts from all_items(), which sorts the whole table, even for a
   base-table query. This hands it only the items that can match (the partition's bucket; for an
   index, the items whose first index hash attribute has the queried value), sorted with
   all_items' key; moto still runs every one of its own tests. 1,200 random paged queries
   (table and index, Limit, ExclusiveStartKey, both directions, range conditions, filters) gave
   the same results as stock moto.
3. SQS clock: every SendMessage and every received message counts the queue's messages, reading
   a datetime-based clock three times per queued message: webhooks queued faster than they are
   ingested slowed every call (a ReceiveMessage took 770 ms at 1,000 queued). time.time() gives
   the same number (37 ms).

Usage: python infra/moto_burst.py -H 127.0.0.1 -p PORT  (the same arguments as moto_server)
"""

import copy
import time
from typing import Any

import moto.sqs.models as sqs_models
import moto_server  # noqa: F401  the lock on DynamoDB calls (infra/ is on the path when run)
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.1's DynamoDBBackend.transact_write_items with an item-level rollback."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # (table, hash key, range key, a copy of the item before the transaction or None if absent),
    # and each touched table's stream length: enough to undo the transaction.
    touched: list[tuple[Any, Any, Any, Any]] = []
    streams: dict[int, tuple[Any, int]] = {}
    try:
        _apply(self, transact_items, touched, streams)
    except Exception:
        # moto rolls back on a validation error and on a cancellation; a validation error it
        # raises outside its try (TransactWriteSingleOpException) is rolled back too, as
        # DynamoDB writes nothing from a request it rejects.
        for table, hash_key, range_key, before in reversed(touched):
            if table.has_range_key:
                items, key = table.items[hash_key], range_key
            else:
                items, key = table.items, hash_key
            if before is None:
                items.pop(key, None)
            else:
                items[key] = before
        for shard, length in streams.values():
            del shard.items[length:]
        raise


def _apply(self, transact_items, touched, streams) -> None:
    """The body of moto's transaction, recording each item before it is written."""
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                # Recorded before writing; check_unicity makes it the item before the transaction.
                table = self.get_table(table_name)
                hash_key, range_key = self.get_keys_value(table, key)
                touched.append((table, hash_key, range_key, copy.deepcopy(current)))
                if table.stream_shard is not None:
                    shard = table.stream_shard
                    streams.setdefault(id(shard), (shard, len(shard.items)))

            expressions = dict(
                condition_expression=condition_expression,
                expression_attribute_names=expression_attribute_names,
                expression_attribute_values=expression_attribute_values,
            )
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **expressions)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **expressions)
            elif op_type == "Update":
                self.update_item(
                    table_name, key, update_expression=op["UpdateExpression"], **expressions
                )
            errors.append((None, None, None))
        except MockValidationException:  # MultipleTransactionsException is one
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)


DynamoDBBackend.transact_write_items = _transact_write_items


_query = Table.query


def _sort_key(item):  # Table.all_items' key
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _all_unsorted(table):
    if table.range_key_attr:
        return [item for bucket in table.items.values() for item in bucket.values()]
    return list(table.items.values())


def _query_without_sorting_the_table(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    conditions = kwargs.get("hash_key_conditions")
    if index_name and conditions:
        name, value = conditions[0]
        if value.type in ("S", "B"):  # compared raw: cast_value is the value itself
            raw = value.value
            candidates = [
                item for item in _all_unsorted(self)
                if (found := item.attrs.get(name)) is not None and found.value == raw
            ]
        else:
            candidates = [i for i in _all_unsorted(self) if i.attrs.get(name) is not None]
    elif index_name:
        candidates = _all_unsorted(self)
    elif self.range_key_attr:
        candidates = list(self.items.get(hash_key, {}).values())
    else:
        candidates = [self.items[hash_key]] if hash_key in self.items else []
    candidates.sort(key=_sort_key)
    self.all_items = lambda: candidates  # read once by query, under moto_server's lock
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


Table.query = _query_without_sorting_the_table


_unix_time_millis = sqs_models.unix_time_millis
_unix_time = sqs_models.unix_time


def _fast_unix_time_millis(dt=None):
    return time.time() * 1000.0 if dt is None else _unix_time_millis(dt)


def _fast_unix_time(dt=None):
    return time.time() if dt is None else _unix_time(dt)


sqs_models.unix_time_millis = _fast_unix_time_millis
sqs_models.unix_time = _fast_unix_time

if __name__ == "__main__":
    main()
