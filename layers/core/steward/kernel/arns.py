"""ARN and S3 URI identities of graph nodes."""

from __future__ import annotations

import re

_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$"
)


def normalize_s3_uri(uri: str) -> str:
    """S3 URIs are node ids: no trailing slash."""
    return uri.rstrip("/") if uri.startswith("s3://") else uri


def canonical_arn(arn: str) -> str:
    """SageMaker lower-cases resource names in ARNs (the names in events keep their case)."""
    match = _ARN.match(arn.strip())
    if not match or match["service"] != "sagemaker":
        return arn.strip()
    resource, step = match["resource"], ""
    if "/step/" in resource:  # pipeline step ids are Steward's: the step name keeps its case
        resource, _, name = resource.partition("/step/")
        step = f"/step/{name}"
    return f"arn:{match['partition']}:sagemaker:{match['region']}:{match['account']}:{resource.lower()}{step}"


def sagemaker_arn(region: str, account: str, resource_type: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:sagemaker:{region}:{account}:{resource_type}/{name.lower()}"


def arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(partition, region, account) of an ARN, or None."""
    match = _ARN.match(arn)
    return (match["partition"], match["region"], match["account"]) if match else None


def arn_name(arn: str) -> str:
    """A readable name from an ARN when the event gave none (`group/version` for model packages)."""
    if ":model-package/" in arn:
        return arn.split(":model-package/", 1)[1]
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def is_node_id(value: str) -> bool:
    return bool(_ARN.match(value)) or value.startswith("s3://")


def s3_id(uri: str) -> str:
    return normalize_s3_uri(uri.strip())


def s3_split(uri: str) -> tuple[str, str]:
    """("bucket", "key/path") of an s3:// URI (key without trailing slash)."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    return bucket, key.rstrip("/")


def s3_ancestors(uri: str) -> list[str]:
    """Every prefix of `uri` on `/` boundaries, nearest first, down to the bucket itself."""
    bucket, key = s3_split(uri)
    parts = key.split("/") if key else []
    prefixes = [f"s3://{bucket}/{'/'.join(parts[:i])}" for i in range(len(parts) - 1, 0, -1)]
    return [*prefixes, f"s3://{bucket}"] if parts else []
