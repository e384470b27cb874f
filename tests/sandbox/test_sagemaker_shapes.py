"""SageMaker's answers as SageMaker gives them (sandbox/sagemaker.py): updates keep what they do not
name, and Describe/List answers have the shape botocore's service model gives them, with no empty
object or string where SageMaker leaves the key out."""

from __future__ import annotations

import botocore.session
import pytest
from botocore import xform_name

from sandbox import Sandbox

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
MODEL = botocore.session.get_session().get_service_model("sagemaker")
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "m",
    "InitialInstanceCount": 1,
    "InstanceType": "ml.m5.large",
}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(serve_api=False) as sandbox:
        yield sandbox


def _package(sm, group="fraud", **extra):
    if group not in [
        g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ]:
        sm.create_model_package_group(ModelPackageGroupName=group)
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": f"s3://b/{group}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


def test_a_metadata_only_update_keeps_an_approved_package_approved(sb):
    sm = sb.client("sagemaker")
    arn = _package(sm, "keep", CustomerMetadataProperties={"auc": "0.9"})
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok by alice"
    )
    sb.drain()
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"serving": "prod"})
    sb.drain()

    package = sm.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "ok by alice"
    assert package["CustomerMetadataProperties"] == {"auc": "0.9", "serving": "prod"}
    node = {n["id"]: n for n in sb.lineage()["nodes"]}[arn.lower()]
    assert node["status"] == "Approved"
    history = sb.lineage_store().history(arn.lower())
    assert [h["status"] for h in history] == ["PendingManualApproval", "Approved", "Approved"]
    assert history[-1]["updatedFields"] == ["CustomerMetadataProperties"]


def test_an_update_changes_only_the_fields_it_names(sb):
    sm = sb.client("sagemaker")
    arn = _package(sm, "named", CustomerMetadataProperties={"auc": "0.9", "stale": "1"})
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    sm.update_model_package(ModelPackageArn=arn, ApprovalDescription="serving since Monday")
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataPropertiesToRemove=["stale"])
    package = sm.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "serving since Monday"
    assert package["CustomerMetadataProperties"] == {"auc": "0.9"}
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    package = sm.describe_model_package(ModelPackageName=arn)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Rejected",
        "serving since Monday",
    )
    sb.drain()


def _problems(shape, value, path):
    """Keys that are not members, optional members answered empty, required members missing."""
    found = []
    if shape.type_name == "structure" and isinstance(value, dict):
        found += [f"{path}.{r}: missing" for r in shape.required_members if r not in value]
        for key, member_value in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            member = shape.members[key]
            if (
                key not in shape.required_members
                and member.type_name in ("structure", "string", "list")
                and member_value in ({}, "", [])
            ):
                found.append(f"{path}.{key}: {member_value!r}")
            found += _problems(member, member_value, f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            found += _problems(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += _problems(shape.value, item, f"{path}{{{key}}}")
    return found


@pytest.fixture(scope="module")
def calls(sb):
    """The Describe/List calls Steward and its users make, on resources created with the least input."""
    sm = sb.client("sagemaker")
    arn = _package(sm, "shapes")
    sm.create_model(
        ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://b/m"}
    )
    sm.create_model(ModelName="m-multi", ExecutionRoleArn=ROLE, Containers=[{"Image": "img"}])
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[VARIANT])
    sm.create_endpoint_config(
        EndpointConfigName="c-capture",
        ProductionVariants=[VARIANT],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://b/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    sm.create_endpoint(EndpointName="e-capture", EndpointConfigName="c")
    sb.drain()
    sm.update_endpoint(EndpointName="e-capture", EndpointConfigName="c-capture")
    sb.drain()
    sm.create_training_job(
        TrainingJobName="t",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://b/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    sm.create_processing_job(
        ProcessingJobName="p",
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        AppSpecification={"ImageUri": "img"},
        RoleArn=ROLE,
    )
    sm.create_pipeline(PipelineName="pl", PipelineDefinition='{"Steps": []}', RoleArn=ROLE)
    execution = sm.start_pipeline_execution(PipelineName="pl")["PipelineExecutionArn"]
    sb.drain()
    return [
        ("DescribeModelPackage", {"ModelPackageName": arn}),
        ("DescribeModelPackageGroup", {"ModelPackageGroupName": "shapes"}),
        ("ListModelPackages", {"ModelPackageGroupName": "shapes"}),
        ("ListModelPackageGroups", {}),
        ("DescribeModel", {"ModelName": "m"}),
        ("DescribeModel", {"ModelName": "m-multi"}),
        ("ListModels", {}),
        ("DescribeEndpointConfig", {"EndpointConfigName": "c"}),
        ("ListEndpointConfigs", {}),
        ("DescribeEndpoint", {"EndpointName": "e"}),
        ("DescribeEndpoint", {"EndpointName": "e-capture"}),
        ("ListEndpoints", {}),
        ("DescribeTrainingJob", {"TrainingJobName": "t"}),
        ("ListTrainingJobs", {}),
        ("DescribeProcessingJob", {"ProcessingJobName": "p"}),
        ("ListProcessingJobs", {}),
        ("DescribePipeline", {"PipelineName": "pl"}),
        ("ListPipelines", {}),
        ("DescribePipelineExecution", {"PipelineExecutionArn": execution}),
        ("ListPipelineExecutions", {"PipelineName": "pl"}),
    ]


def test_describe_and_list_answers_have_the_shape_sagemaker_gives_them(sb, calls):
    sm = sb.client("sagemaker")
    problems = []
    for operation, params in calls:
        answer = getattr(sm, xform_name(operation))(**params)
        answer.pop("ResponseMetadata")
        problems += _problems(MODEL.operation_model(operation).output_shape, answer, operation)
    # Left open: DataCaptureConfigSummary requires KmsKeyId, and what SageMaker answers for a capture
    # configured without a key is not known here (the sandbox leaves the key out rather than guess).
    assert [p for p in problems if p != "DescribeEndpoint.DataCaptureConfig.KmsKeyId: missing"] == []


def test_the_shapes_that_moto_gets_wrong_are_as_sagemaker_returns_them(sb, calls):
    sm = sb.client("sagemaker")
    assert "DataCaptureConfig" not in sm.describe_endpoint_config(EndpointConfigName="c")
    assert "DataCaptureConfig" not in sm.describe_endpoint(EndpointName="e")
    assert sm.describe_endpoint(EndpointName="e-capture")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 20,
        "DestinationS3Uri": "s3://b/capture",
    }
    single, multi = sm.describe_model(ModelName="m"), sm.describe_model(ModelName="m-multi")
    assert (
        "VpcConfig" not in single
        and "Containers" not in single
        and single["PrimaryContainer"]["Image"] == "img"
    )
    assert "PrimaryContainer" not in multi and multi["Containers"][0]["Image"] == "img"
    execution = sm.list_pipeline_executions(PipelineName="pl")["PipelineExecutionSummaries"][0]
    described = sm.describe_pipeline_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert "FailureReason" not in described and "PipelineExperimentConfig" not in described
    arn = sm.list_model_packages(ModelPackageGroupName="shapes")["ModelPackageSummaryList"][0][
        "ModelPackageArn"
    ]
    assert sm.describe_model_package(ModelPackageName=arn)["ModelPackageName"] == "shapes"
    assert sm.describe_model_package_group(ModelPackageGroupName="shapes")["CreatedBy"]
    assert (
        sm.describe_processing_job(ProcessingJobName="p")["ProcessingResources"]["ClusterConfig"][
            "InstanceCount"
        ]
        == 1
    )


def test_creating_an_endpoint_that_exists_is_refused_as_sagemaker_does(sb):
    # moto would silently replace it; SageMaker answers ValidationException and changes nothing
    sm = sb.client("sagemaker")
    sm.create_model(ModelName="m", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE)
    for config in ("exists-a", "exists-b"):
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[VARIANT])
    arn = sm.create_endpoint(EndpointName="exists", EndpointConfigName="exists-a")["EndpointArn"]
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.create_endpoint(EndpointName="exists", EndpointConfigName="exists-b")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert f'Cannot create already existing endpoint "{arn}"' in refused.value.response["Error"]["Message"]
    assert sm.describe_endpoint(EndpointName="exists")["EndpointConfigName"] == "exists-a"
