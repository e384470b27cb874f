"""What each call needs: the IAM actions and resources a botocore call is authorised as, per service,
and the AccessDenied each service answers."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from sandbox.iam.policy import Request, request

# --- what each call needs ----------------------------------------------------------------------------

IAM_PREFIX = {"sagemaker-runtime": "sagemaker", "sesv2": "ses", "monitoring": "cloudwatch"}
_ACCESS_DENIED = {  # service -> (error code, HTTP status) of its AccessDenied answer
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "ses": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "sesv2": ("AccessDeniedException", 403),
    "lambda": ("AccessDeniedException", 403),
}
_DEFAULT_DENIED = ("AccessDeniedException", 400)  # dynamodb, sagemaker, ssm, secretsmanager, kms, events


@dataclass
class Call:
    """What requests_for needs to know about a call beyond its parameters."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account: str


def _arn(c: Call, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
    region = c.region if region is None else region
    return f"arn:aws:{service}:{region}:{c.account if account is None else account}:{resource}"


def _tags(params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    if isinstance(tags, dict):  # some APIs take a map
        pairs = list(tags.items())
    else:
        pairs = [(t.get("Key"), t.get("Value")) for t in tags if isinstance(t, dict)]
    if not pairs:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    context["aws:TagKeys"] = [k for k, _ in pairs]
    return context


def _dynamodb(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation

    def table(name: str) -> str:
        return name if name.startswith("arn:") else _arn(c, "dynamodb", f"table/{name}")

    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "UpdateTimeToLive",
              "DescribeTimeToLive", "DescribeContinuousBackups"):  # fmt: skip
        return [request(f"dynamodb:{op}", table(p["TableName"]))]
    if op in ("Query", "Scan"):
        target = table(p["TableName"]) + (f"/index/{p['IndexName']}" if p.get("IndexName") else "")
        return [request(f"dynamodb:{op}", target)]
    if op in ("BatchGetItem", "BatchWriteItem"):  # one authorization per table named
        return [request(f"dynamodb:{op}", table(name)) for name in p.get("RequestItems") or {}]
    if op == "TransactWriteItems":  # no action of its own: each item's
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        found = []
        for item in p.get("TransactItems") or []:
            for kind, action in kinds.items():
                if kind in item:
                    found.append(request(f"dynamodb:{action}", table(item[kind]["TableName"])))
        return list(dict.fromkeys(found))
    if op == "TransactGetItems":
        return list(
            dict.fromkeys(
                request("dynamodb:GetItem", table(i["Get"]["TableName"]))
                for i in p.get("TransactItems") or []
            )
        )
    if op in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return [request(f"dynamodb:{op}", "*")]
    return None


# SageMaker operation -> (parameter naming the resource, resource type); the type is None when the
# parameter is already an ARN.
_CRUD = "Create", "Describe", "Update", "Delete", "Stop"
_SAGEMAKER_TYPES = {  # the noun of the operation -> (parameter, resource type)
    "Endpoint": ("EndpointName", "endpoint"),
    "EndpointConfig": ("EndpointConfigName", "endpoint-config"),
    "Model": ("ModelName", "model"),
    "TrainingJob": ("TrainingJobName", "training-job"),
    "ProcessingJob": ("ProcessingJobName", "processing-job"),
    "TransformJob": ("TransformJobName", "transform-job"),
    "HyperParameterTuningJob": ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    "Pipeline": ("PipelineName", "pipeline"),
    "ModelPackageGroup": ("ModelPackageGroupName", "model-package-group"),
    "MonitoringSchedule": ("MonitoringScheduleName", "monitoring-schedule"),
}
_SAGEMAKER: dict[str, tuple[str, str | None]] = {
    **{verb + noun: spec for noun, spec in _SAGEMAKER_TYPES.items() for verb in _CRUD},
    "StartPipelineExecution": ("PipelineName", "pipeline"),
    "ListPipelineExecutions": ("PipelineName", "pipeline"),
    "DescribePipelineExecution": ("PipelineExecutionArn", None),
    "StopPipelineExecution": ("PipelineExecutionArn", None),
    "ListPipelineExecutionSteps": ("PipelineExecutionArn", None),
    "ListPipelineParametersForExecution": ("PipelineExecutionArn", None),
    "DescribeModelPackage": ("ModelPackageName", "model-package"),
    "UpdateModelPackage": ("ModelPackageArn", None),
    "DeleteModelPackage": ("ModelPackageName", "model-package"),
    "ListTags": ("ResourceArn", None),
    "AddTags": ("ResourceArn", None),
    "DeleteTags": ("ResourceArn", None),
}  # fmt: skip


def _sagemaker_arn(c: Call, kind: str | None, name: str) -> str:
    if name.startswith("arn:"):
        return name
    # SageMaker ARNs carry the name in lower case (an endpoint "Churn-Prod" is ...:endpoint/churn-prod),
    # and IAM authorizes against that ARN: a Resource written with capitals never matches.
    return _arn(c, "sagemaker", f"{kind}/{name.lower()}")


def _sagemaker(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    if op in (
        "InvokeEndpoint",
        "InvokeEndpointAsync",
        "InvokeEndpointWithResponseStream",
    ):  # sagemaker-runtime
        action = (
            "sagemaker:InvokeEndpointAsync" if op == "InvokeEndpointAsync" else "sagemaker:InvokeEndpoint"
        )
        return [request(action, _sagemaker_arn(c, "endpoint", p["EndpointName"]))]
    if op == "CreateModelPackage":
        group = p.get("ModelPackageGroupName") or p.get("ModelPackageName") or ""
        target = (
            f"{_sagemaker_arn(c, 'model-package', group)}/*"
            if p.get("ModelPackageGroupName")
            else _sagemaker_arn(c, "model-package", group)
        )
        return [request("sagemaker:CreateModelPackage", target, **_tags(p))]
    if op not in _SAGEMAKER:
        return [request(f"sagemaker:{op}", "*")] if op.startswith(("List", "Search")) else None
    parameter, kind = _SAGEMAKER[op]
    target = _sagemaker_arn(c, kind, str(p.get(parameter, "")))
    tags = _tags(p)
    found = [request(f"sagemaker:{op}", target, **tags)]
    if tags and op.startswith("Create"):  # tagging at create is authorized as AddTags too
        found.append(request("sagemaker:AddTags", target, **tags))
    role = p.get("ExecutionRoleArn") or p.get("RoleArn")
    if role and op.startswith("Create"):
        found.append(request("iam:PassRole", role, **{"iam:PassedToService": "sagemaker.amazonaws.com"}))
    if p.get("KmsKeyId") and op == "CreateEndpointConfig":
        found.append(request("kms:CreateGrant", _kms_arn(c, p["KmsKeyId"])))
    if op in ("CreateEndpoint", "UpdateEndpoint"):
        key = _endpoint_config_key(c, str(p.get("EndpointConfigName", "")))
        if key:  # the endpoint's storage volumes are encrypted with the config's key
            found.append(request("kms:CreateGrant", _kms_arn(c, key)))
    return found


def _kms_arn(c: Call, key: str) -> str:
    if key.startswith("arn:"):
        return key
    return _arn(c, "kms", key if key.startswith("alias/") else f"key/{key}")


def _customer_key(key: str | None) -> bool:
    """A customer managed key: AWS managed keys (alias/aws/...) are usable through their service by
    any principal of the account, with no identity permission."""
    return bool(key) and "alias/aws/" not in str(key)


def _endpoint_config_key(c: Call, name: str) -> str | None:
    with contextlib.suppress(Exception):
        from moto.sagemaker.models import sagemaker_backends

        config = sagemaker_backends[c.account][c.region].endpoint_configs.get(name)
        return getattr(config, "kms_key_id", None) or None
    return None


def _s3(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    bucket = p.get("Bucket", "")
    obj = f"arn:aws:s3:::{bucket}/{p.get('Key', '')}"
    if op in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
        found = [request(action, obj)]
        stored = _s3_object(c, bucket, p.get("Key", ""))
        if stored is not None and stored.encryption == "aws:kms" and _customer_key(stored.kms_key_id):
            found.append(
                request(
                    "kms:Decrypt",
                    _kms_arn(c, stored.kms_key_id),
                    **{"kms:ViaService": f"s3.{c.region}.amazonaws.com"},
                )
            )
        return found
    if op == "PutObject":
        found = [request("s3:PutObject", obj, **_tags(p))]
        if p.get("SSEKMSKeyId") and _customer_key(p["SSEKMSKeyId"]):
            found.append(request("kms:GenerateDataKey", _kms_arn(c, p["SSEKMSKeyId"])))
        return found
    if op == "DeleteObject":
        return [request("s3:DeleteObject", obj)]
    if op in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        return [request("s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": p.get("Prefix")})]
    if op == "GetObjectTagging":
        return [request("s3:GetObjectTagging", obj)]
    return None


def _s3_object(c: Call, bucket: str, key: str) -> Any:
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        return s3_backends[c.account]["aws"].buckets[bucket].keys.get(key)
    return None


def s3_missing_key(c: Call) -> bool:
    """GetObject/HeadObject of a key that does not exist (S3 then answers 403 unless s3:ListBucket)."""
    if c.service != "s3" or c.operation not in ("GetObject", "HeadObject"):
        return False
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        found = s3_backends[c.account]["aws"].buckets.get(c.params.get("Bucket", ""))
        return found is not None and found.keys.get(c.params.get("Key", "")) is None
    return False


def _queue_arn(c: Call, url: str) -> str:
    parts = url.rstrip("/").split("/")
    account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (c.account, url)
    host = re.match(r"https?://sqs\.([a-z0-9-]+)\.", url)
    return _arn(
        c,
        "sqs",
        name,
        region=host.group(1) if host else c.region,
        account=account if account.isdigit() else c.account,
    )


def _sqs(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    base = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(op, op)  # fmt: skip
    if op == "GetQueueUrl":
        return [
            request(
                "sqs:GetQueueUrl", _arn(c, "sqs", p["QueueName"], account=p.get("QueueOwnerAWSAccountId"))
            )
        ]
    if op == "ListQueues":
        return [request("sqs:ListQueues", "*")]
    if "QueueUrl" in p:
        return [request(f"sqs:{base}", _queue_arn(c, p["QueueUrl"]))]
    return None


def _ssm_arn(c: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return _arn(c, "ssm", "parameter" + (name if name.startswith("/") else "/" + name))


def _ssm(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    names = [p["Name"]] if "Name" in p else list(p.get("Names") or [])
    if op == "GetParametersByPath":
        names = [p["Path"]]
    if not names:
        return None
    found = [request(f"ssm:{op}", _ssm_arn(c, n)) for n in names]
    if p.get("WithDecryption"):
        for n in names:
            stored = _ssm_parameter(c, n)
            if stored is not None and stored.parameter_type == "SecureString" and _customer_key(stored.keyid):
                found.append(request("kms:Decrypt", _kms_arn(c, stored.keyid)))
    return found


def _ssm_parameter(c: Call, name: str) -> Any:
    with contextlib.suppress(Exception):
        from moto.ssm.models import ssm_backends

        return ssm_backends[c.account][c.region].get_parameter(name)
    return None


def _secretsmanager(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    secret_id = p.get("SecretId")
    if secret_id is None:
        return [request(f"secretsmanager:{op}", "*")] if op.startswith(("List", "GetRandom")) else None
    stored = None
    with contextlib.suppress(Exception):
        from moto.secretsmanager.models import secretsmanager_backends

        stored = secretsmanager_backends[c.account][c.region].secrets.get(secret_id)
    # Authorized against the secret's full ARN, random suffix included; an unknown one by what was asked.
    arn = (
        stored.arn
        if stored is not None
        else (secret_id if secret_id.startswith("arn:") else _arn(c, "secretsmanager", f"secret:{secret_id}"))
    )
    context = {"secretsmanager:SecretId": secret_id, "secretsmanager:VersionId": p.get("VersionId"),
               "secretsmanager:VersionStage": p.get("VersionStage")}  # fmt: skip
    found = [request(f"secretsmanager:{op}", arn, **context)]
    if stored is not None and op == "GetSecretValue" and _customer_key(getattr(stored, "kms_key_id", None)):
        found.append(
            request(
                "kms:Decrypt",
                _kms_arn(c, stored.kms_key_id),
                **{"kms:ViaService": f"secretsmanager.{c.region}.amazonaws.com"},
            )
        )
    return found


def _ses(c: Call) -> list[Request] | None:
    p, op = c.params, c.operation
    if op not in ("SendEmail", "SendRawEmail", "SendBulkEmail"):
        return None
    sender = str(p.get("FromEmailAddress") or p.get("Source") or "")
    address = re.sub(r"^.*<([^>]+)>.*$", r"\1", sender)
    destination = p.get("Destination") or {}
    recipients = [a for k in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(k) or []]
    recipients += list(p.get("Destinations") or [])
    # The identity SES sends as: the address when it is an identity itself, else its domain.
    identity = address
    with contextlib.suppress(Exception):
        from moto.ses.models import ses_backends

        if address not in ses_backends[c.account][c.region].email_identities:
            identity = address.rpartition("@")[2]
    context = {"ses:FromAddress": address, "ses:Recipients": recipients or None,
               "ses:ApiVersion": "2" if c.service == "sesv2" else "1"}  # fmt: skip
    target = p.get("FromEmailAddressIdentityArn") or _arn(c, "ses", f"identity/{identity}")
    found = [request(f"ses:{op}", target, **context)]
    if p.get("ConfigurationSetName"):
        found.append(
            request(f"ses:{op}", _arn(c, "ses", f"configuration-set/{p['ConfigurationSetName']}"), **context)
        )
    return found


def _other(c: Call) -> list[Request] | None:
    p, op, s = c.params, c.operation, c.service
    if s == "sts":
        if op == "GetCallerIdentity":
            return []  # needs no permission: IAM cannot deny it
        if op == "AssumeRole":
            ctx = {
                "sts:RoleSessionName": p.get("RoleSessionName"),
                "sts:ExternalId": p.get("ExternalId"),
                **_tags(p),
            }
            return [request("sts:AssumeRole", p["RoleArn"], **ctx)]
        return None
    if s == "cloudwatch":
        if op in ("ListTagsForResource", "TagResource", "UntagResource"):
            return [request(f"cloudwatch:{op}", p["ResourceARN"])]
        if op == "PutMetricData":
            return [request("cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": p.get("Namespace")})]
        if op == "DescribeAlarms" and p.get("AlarmNames"):
            return [
                request("cloudwatch:DescribeAlarms", _arn(c, "cloudwatch", f"alarm:{n}"))
                for n in p["AlarmNames"]
            ]
        if op.startswith(("Describe", "Get", "List")):
            return [request(f"cloudwatch:{op}", "*")]
        return None
    if s == "lambda" and op in ("Invoke", "InvokeAsync"):
        name = str(p["FunctionName"])
        arn = name if name.startswith("arn:") else _arn(c, "lambda", f"function:{name}")
        return [request("lambda:InvokeFunction", arn + (f":{p['Qualifier']}" if p.get("Qualifier") else ""))]
    if s == "events" and op == "PutEvents":
        found = []
        for entry in p.get("Entries") or []:
            bus = entry.get("EventBusName") or "default"
            arn = bus if bus.startswith("arn:") else _arn(c, "events", f"event-bus/{bus}")
            found.append(
                request(
                    "events:PutEvents",
                    arn,
                    **{"events:source": entry.get("Source"), "events:detail-type": entry.get("DetailType")},
                )
            )
        return list(dict.fromkeys(found))
    if s == "kms" and p.get("KeyId"):
        return [request(f"kms:{op}", _kms_arn(c, p["KeyId"]))]
    return None


_BY_SERVICE = {
    "dynamodb": _dynamodb, "sagemaker": _sagemaker, "sagemaker-runtime": _sagemaker, "s3": _s3, "sqs": _sqs,
    "ssm": _ssm, "secretsmanager": _secretsmanager, "ses": _ses, "sesv2": _ses,
}  # fmt: skip


def requests_for(c: Call) -> list[Request] | None:
    """What IAM authorizes for this call (None: the sandbox has no model of the operation)."""
    model = _BY_SERVICE.get(c.service, _other)
    try:
        return model(c)
    except (KeyError, TypeError, AttributeError):  # a malformed call: the service refuses it anyway
        return None
