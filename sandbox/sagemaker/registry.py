"""The model registry as SageMaker keeps it: UpdateModelPackage changing only the fields a call names,
and the Model Package State Change event SageMaker sends for a create or an update."""

from __future__ import annotations

from typing import Any

UPDATE_FIELDS = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "CustomerMetadataProperties",
    "CustomerMetadataPropertiesToRemove",
    "AdditionalInferenceSpecificationsToAdd",
    "ModelLifeCycle",
)


def update_named_fields(response: Any) -> Any:
    """UpdateModelPackage changing only what the call names (moto resets the rest)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.utils import validate_model_approval_status

    package = response.sagemaker_backend.describe_model_package(response._get_param("ModelPackageArn"))
    status = response._get_param("ModelApprovalStatus")
    if status is not None:
        validate_model_approval_status(status)
        package.model_approval_status = status
    if response._get_param("ApprovalDescription") is not None:
        package.approval_description = response._get_param("ApprovalDescription")
    properties = dict(package.customer_metadata_properties or {})
    properties.update(response._get_param("CustomerMetadataProperties") or {})
    for key in response._get_param("CustomerMetadataPropertiesToRemove") or []:
        properties.pop(key, None)
    package.customer_metadata_properties = properties or None
    if response._get_param("AdditionalInferenceSpecificationsToAdd"):
        package.add_additional_inference_specifications(
            response._get_param("AdditionalInferenceSpecificationsToAdd")
        )
    if response._get_param("InferenceSpecification") is not None:
        package.inference_specification = response._get_param("InferenceSpecification")
    package.modifications_done()
    return ActionResult({"ModelPackageArn": package.arn})


def iso(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [iso(v) for v in value]
    return value


def package_event(response: Any, arn: str, updated: list[str] | None) -> dict[str, Any]:
    """The Model Package State Change event for the package as moto now holds it."""
    package = response.sagemaker_backend.describe_model_package(arn)
    detail = iso(package.gen_response_object())
    if updated is not None:
        detail["UpdatedModelPackageFields"] = updated
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": response.current_account,
        "region": response.region,
        "resources": [detail["ModelPackageArn"]],
        "detail": detail,
    }
