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
