"""SageMaker's Describe and List answers shaped against botocore's service model (empty optional members
and non-members dropped, the members SageMaker always returns filled in)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def shaped(shape: Any, value: Any) -> Any:
    """`value` as SageMaker returns it for `shape`: optional members that are empty (a structure, string
    or list; None too) and keys that are not members are left out. A new value; `value` is not changed."""
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for key, raw in value.items():
            member = shape.members.get(key)
            if member is None:
                continue
            member_value = shaped(member, raw)
            if key not in shape.required_members and (
                member_value is None
                or (member.type_name in ("structure", "string", "list") and member_value in ({}, "", []))
            ):
                continue
            out[key] = member_value
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [shaped(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: shaped(shape.value, v) for k, v in value.items()}
    return value


def _filled(operation: str, response: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Members SageMaker always returns that moto leaves out or answers in another shape."""
    backend = response.sagemaker_backend
    if operation == "DescribeModelPackage" and "ModelPackageName" not in result:
        # A versioned package is named after its group.
        result = {**result, "ModelPackageName": result.get("ModelPackageGroupName")}
    elif operation == "DescribeModelPackageGroup" and "CreatedBy" not in result:
        group = backend.describe_model_package_group(result["ModelPackageGroupName"])
        result = {**result, "CreatedBy": getattr(group, "created_by", None) or {}}
    elif operation == "DescribeProcessingJob" and "ProcessingResources" not in result:
        job = backend.processing_jobs.get(result.get("ProcessingJobName"))
        resources = getattr(job, "sandbox_processing_resources", None)
        if resources:
            result = {**result, "ProcessingResources": resources}
    elif operation == "DescribeEndpoint":
        capture = result.get("DataCaptureConfig") or {}
        if capture and "CaptureStatus" not in capture:
            summary = {
                "EnableCapture": bool(capture.get("EnableCapture")),
                "CaptureStatus": "Started" if capture.get("EnableCapture") else "Stopped",
                "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage"),
                "DestinationS3Uri": capture.get("DestinationS3Uri"),
                "KmsKeyId": capture.get("KmsKeyId"),
            }
            result = {**result, "DataCaptureConfig": {k: v for k, v in summary.items() if v is not None}}
    return result


def shaping(method: Any, operation: str) -> Any:
    """A moto Describe/List answering in SageMaker's shape (see `shaped`)."""

    def shaped_answer(response: Any) -> Any:
        from moto.core.responses import ActionResult

        result = method(response)
        if not isinstance(result, ActionResult) or not isinstance(result.result, dict):
            return result
        output = service_model().operation_model(operation).output_shape
        return ActionResult(shaped(output, _filled(operation, response, result.result)))

    return shaped_answer


def processing_resources(create: Any) -> Any:
    """CreateProcessingJob keeping ProcessingResources (moto drops it; DescribeProcessingJob returns it)."""

    def create_processing_job(response: Any) -> Any:
        result = create(response)
        job = response.sagemaker_backend.processing_jobs.get(response._get_param("ProcessingJobName"))
        if job is not None:
            job.sandbox_processing_resources = response._get_param("ProcessingResources")
        return result

    return create_processing_job
