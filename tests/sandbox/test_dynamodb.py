"""The sandbox's faster DynamoDB operations keep moto's (and DynamoDB's) semantics."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.dynamodb import FastDynamoDB


def _table(ddb):
    ddb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    for p in range(5):
        for s in range(5):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s}"}, "v": {"N": str(s)}})


def _scenario(ddb):
    """A mix of queries and transactions, returning everything observable."""
    seen = []
    seen.append(
        ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": {"S": "p2"}, ":a": {"S": "s1"}, ":b": {"S": "s3"}},
        )["Items"]
    )
    seen.append(
        ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ScanIndexForward=False,
            Limit=2,
            ExpressionAttributeValues={":p": {"S": "p4"}},
        )["Items"]
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "p9"}, "sk": {"S": "new"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "p1"}, "sk": {"S": "s1"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "42"}},
                }
            },
        ]
    )
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "p9"}, "sk": {"S": "never"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "p1"}, "sk": {"S": "s2"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "7"}},
                    }
                },
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "p0"}, "sk": {"S": "s0"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "p3"}, "sk": {"S": "s3"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    seen.append([r["Code"] for r in failed.value.response["CancellationReasons"]])
    # UpdateItem of an item that does not exist yet creates it, with its key
    ddb.update_item(
        TableName="t",
        Key={"pk": {"S": "p7"}, "sk": {"S": "fresh"}},
        UpdateExpression="SET a_resolved = :t, kind = if_not_exists(kind, :k)",
        ExpressionAttributeValues={":t": {"BOOL": True}, ":k": {"S": "model"}},
    )
    seen.append(ddb.get_item(TableName="t", Key={"pk": {"S": "p7"}, "sk": {"S": "fresh"}})["Item"])
    seen.append(sorted(str(i) for i in ddb.scan(TableName="t")["Items"]))
    return seen


def test_fast_operations_behave_like_moto():
    results = []
    for fast in (False, True):
        with mock_aws():
            patch = FastDynamoDB()
            if fast:
                patch.install()
            try:
                ddb = boto3.client("dynamodb", region_name="us-east-1")
                _table(ddb)
                results.append(_scenario(ddb))
            finally:
                patch.uninstall()
    plain, fast = results
    assert fast == plain
    assert plain[2] == ["None", "None", "None", "ConditionalCheckFailed"]  # all-or-nothing, reason per item


def _update_scenario(ddb):
    """UpdateItem alone and in transactions: what the fast path applies, and what it leaves to moto."""
    ddb.create_table(
        TableName="g",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "gsi1pk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    key = {"pk": {"S": "a"}, "sk": {"S": "N"}}
    ddb.put_item(TableName="g", Item={**key, "kept": {"S": "old"}, "gone": {"N": "1"}, "n": {"N": "5"}})
    updates = [
        {  # SET, if_not_exists on a present and an absent attribute, REMOVE present and absent
            "UpdateExpression": "SET #k = if_not_exists(#k, :x), fresh = if_not_exists(fresh, :y), "
            "#m = :m, copied = if_not_exists(kept, :x), gsi1pk = :g REMOVE gone, never",
            "ExpressionAttributeNames": {"#k": "kept", "#m": "map"},
            "ExpressionAttributeValues": {
                ":x": {"S": "new"},
                ":y": {"L": [{"S": "1"}, {"N": "2"}]},
                ":m": {"M": {"deep": {"SS": ["a", "b"]}}},
                ":g": {"S": "S3#bucket"},
            },
            "ReturnValues": "ALL_NEW",
        },
        {  # REMOVE before SET, lower-case keywords, a condition that holds
            "UpdateExpression": "remove fresh set #s = :s",
            "ConditionExpression": "attribute_exists(pk) AND #s <> :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "Completed"}},
            "ReturnValues": "UPDATED_OLD",
        },
        {  # a condition that fails, with the item returned
            "UpdateExpression": "SET #s = :s",
            "ConditionExpression": "#s <> :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "Completed"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
        {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}},  # moto's
        {  # ADD to an absent string set, with a size condition on it, beside a SET
            "UpdateExpression": "SET adj = :one ADD #e :s",
            "ConditionExpression": "attribute_not_exists(#e) OR size(#e) < :room",
            "ExpressionAttributeNames": {"#e": "edges"},
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":s": {"SS": ["b|y", "a|x"]},
                ":room": {"N": "3"},
            },
            "ReturnValues": "ALL_NEW",
        },
        {  # ADD to a present one: the union, an entry already there kept once
            "UpdateExpression": "ADD edges :s",
            "ExpressionAttributeValues": {":s": {"SS": ["a|x", "c|z"]}},
            "ReturnValues": "UPDATED_NEW",
        },
        {  # the set full: the condition fails
            "UpdateExpression": "ADD #e :s",
            "ConditionExpression": "size(#e) < :room",
            "ExpressionAttributeNames": {"#e": "edges"},
            "ExpressionAttributeValues": {":s": {"SS": ["d|w"]}, ":room": {"N": "3"}},
        },
        {"UpdateExpression": "ADD kept :s", "ExpressionAttributeValues": {":s": {"SS": ["a"]}}},  # not a set
        {"UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}},
        {"UpdateExpression": "SET sk = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},  # key
        {
            "UpdateExpression": "SET a = :v, a = :w",
            "ExpressionAttributeValues": {":v": {"S": "1"}, ":w": {"S": "2"}},
        },
        {"UpdateExpression": "SET gsi1pk = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},  # type
        {"UpdateExpression": "SET gsi1pk = :v", "ExpressionAttributeValues": {":v": {"S": ""}}},  # empty
        {
            "UpdateExpression": "SET #name = :v",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":v": {"S": "reserved word, as a placeholder"}},
        },
        {"UpdateExpression": "SET name = :v", "ExpressionAttributeValues": {":v": {"S": "bare"}}},
    ]
    seen = []
    for update in updates:
        try:
            seen.append(ddb.update_item(TableName="g", Key=key, **update).get("Attributes"))
        except ClientError as exc:
            error = exc.response["Error"]
            seen.append((error["Code"], error["Message"], exc.response.get("Item")))
    new_key = {"pk": {"S": "b"}, "sk": {"S": "N"}}
    for condition in ("attribute_exists(pk)", "attribute_not_exists(pk)"):  # an absent item
        try:
            ddb.update_item(
                TableName="g",
                Key=new_key,
                UpdateExpression="SET v = if_not_exists(v, :v)",
                ConditionExpression=condition,
                ExpressionAttributeValues={":v": {"S": "created"}},
            )
        except ClientError as exc:
            seen.append(exc.response["Error"]["Code"])
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "g",
                        "Key": key,
                        "UpdateExpression": "SET t = :t",
                        "ExpressionAttributeValues": {":t": {"S": "in a failed transaction"}},
                    }
                },
                {
                    "Update": {
                        "TableName": "g",
                        "Key": new_key,
                        "UpdateExpression": "SET v = :v",
                        "ConditionExpression": "v = :other",
                        "ExpressionAttributeValues": {":v": {"S": "never"}, ":other": {"S": "other"}},
                    }
                },
            ]
        )
    seen.append([r["Code"] for r in failed.value.response["CancellationReasons"]])
    seen.append(sorted(str(i) for i in ddb.scan(TableName="g")["Items"]))
    seen.append(
        ddb.query(
            TableName="g",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": {"S": "S3#bucket"}},
        )["Items"]
    )
    return seen


def test_fast_update_item_behaves_like_moto():
    results = []
    for fast in (False, True):
        with mock_aws():
            patch = FastDynamoDB()
            if fast:
                patch.install()
            try:
                results.append(_update_scenario(boto3.client("dynamodb", region_name="us-east-1")))
            finally:
                patch.uninstall()
    plain, fast = results
    assert fast == plain
    assert plain[0]["copied"] == {"S": "old"} and "gone" not in plain[0]  # operands read the old item
    assert plain[2][0] == "ConditionalCheckFailedException"
