"""The account the demo runs in: what SageMaker already held before Steward was deployed, and how a
version is registered (its container and its evaluation report in S3)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from sandbox.demo.replay import create_sagemaker_resources
from sandbox.facade import REPO_ROOT, Sandbox

EVENTS = REPO_ROOT / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
GROUP = "churn-models"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
OLD_RUN = "8xq2n4vd1k7m"
OLD_JOBS = ("Vb3kR9sT2q", "Hq7mW2xZ4n", "Lp5nC8vB1x")


def setup_account(sb: Sandbox) -> list[str]:
    """What SageMaker already held before Steward was deployed (no events, nothing to react to): the
    story's models and configs, churn-models versions 1 to 4, churn-prod serving version 3."""
    sm, s3 = sb.client("sagemaker"), sb.client("s3")
    with sb.quietly():
        created = create_sagemaker_resources(
            sm, json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription="churn")
        for version in (1, 2, 3, 4):
            run = OLD_RUN if version == 3 else f"older{version}"
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelPackageDescription=f"XGBoost churn classifier v{version}",
                ModelApprovalStatus="Rejected" if version == 4 else "Approved",
                InferenceSpecification=inference_spec(f"s3://{BUCKET}/churn-train/{run}/model.tar.gz"),
                ModelMetrics=metric_reports(
                    f"s3://{BUCKET}/churn-train/{run}/EvaluateChurnModel/output/evaluation"
                ),
            )
        put_json(
            s3,
            f"s3://{BUCKET}/churn-train/{OLD_RUN}/EvaluateChurnModel/output/evaluation/evaluation.json",
            {"metrics": {"auc": {"value": 0.912}, "f1": {"value": 0.781}}},
        )
        sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-v3-5d1c")
    return created


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def short(arn: str) -> str:
    return arn.split(":model-package/", 1)[-1].replace("/", " v")


def inference_spec(artifact: str) -> dict[str, Any]:
    return {
        "Containers": [
            {
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                "ModelDataUrl": artifact,
            }
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def metric_reports(prefix: str) -> dict[str, Any]:
    return {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"{prefix}/evaluation.json"}
        }
    }


def put_json(s3: Any, uri: str, body: Any) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with contextlib.suppress(Exception):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
