"""Provisioners of where state lives: DynamoDB tables, S3 buckets, SSM parameters, Secrets Manager."""

from __future__ import annotations

import json
from typing import Any

from sandbox.provisioning.registry import Provisioner, Stack, provisioner


@provisioner("AWS::DynamoDB::Table")
class Table(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        table, arn = stack.name_and_arn(logical, props, "TableName", "dynamodb", "table/{}")
        return {"Ref": table, "Arn": arn, "StreamArn": f"{arn}/stream/sandbox"}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        ddb = stack.client("dynamodb")
        args: dict[str, Any] = {
            "TableName": physical["Ref"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        ddb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=physical["Ref"], TimeToLiveSpecification=ttl)


@provisioner("AWS::S3::Bucket")
class Bucket(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        bucket = stack.name_of(logical, props, "BucketName").lower()
        return {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        create_bucket(stack.client("s3"), physical["Ref"])


def create_bucket(s3: Any, bucket: str) -> None:
    """CreateBucket as S3 takes it: outside us-east-1 the request names the bucket's region."""
    region = s3.meta.region_name
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **where)


@provisioner("AWS::SSM::Parameter")
class Parameter(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        name = stack.name_of(logical, props, "Name")
        return {"Ref": name, "Type": props.get("Type", "String"), "Value": props.get("Value")}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        stack.client("ssm").put_parameter(
            Name=physical["Ref"],
            Value=str(props.get("Value", "")),
            Type=props.get("Type", "String"),
            Overwrite=True,
        )


@provisioner("AWS::SecretsManager::Secret")
class Secret(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        secret, arn = stack.name_and_arn(logical, props, "Name", "secretsmanager", "secret:{}-sandbx")
        return {"Ref": arn, "Name": secret, "Id": arn}

    def create(self, stack: Stack, logical: str, props: dict[str, Any], physical: dict[str, Any]) -> None:
        value = props.get("SecretString")
        if value is None:
            gen = props.get("GenerateSecretString") or {}
            generated = generate_secret_string(gen)
            key = gen.get("GenerateStringKey")
            template = json.loads(gen.get("SecretStringTemplate", "{}")) if key else None
            value = json.dumps({**(template or {}), key: generated}) if key else generated
        created = stack.client("secretsmanager").create_secret(Name=physical["Name"], SecretString=value)
        physical["Ref"] = physical["Id"] = created["ARN"]  # what Ref returns, now that the ARN exists


def generate_secret_string(gen: dict[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString (Secrets Manager's GetRandomPassword) produces for
    these properties: PasswordLength (default 32) characters from the included classes (lowercase,
    uppercase, digits, punctuation, space when IncludeSpace), minus ExcludeCharacters, at least one of
    each included class unless RequireEachIncludedType is false."""
    import secrets
    import string

    excluded = set(str(gen.get("ExcludeCharacters", "")))
    classes = [
        chars
        for flag, chars in (
            ("ExcludeLowercase", string.ascii_lowercase),
            ("ExcludeUppercase", string.ascii_uppercase),
            ("ExcludeNumbers", string.digits),
            ("ExcludePunctuation", string.punctuation),
        )
        if not gen.get(flag)
    ] + ([" "] if gen.get("IncludeSpace") else [])
    classes = [c for c in ("".join(ch for ch in chars if ch not in excluded) for chars in classes) if c]
    alphabet, length = "".join(classes), int(gen.get("PasswordLength", 32))
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if not gen.get("RequireEachIncludedType", True) or all(any(ch in c for ch in value) for c in classes):
            return value
