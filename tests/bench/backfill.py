"""Backfill: calls per resource over a generated world that no event announced (README "Backfill").

The world, created quietly on its own sandbox: pipelines with executions of a few steps each, training and
processing jobs (more than one page of each), transform jobs, versioned model packages, endpoints each on
its own config and model (from a package), and models nothing uses. The backfill runs to the end (first
run), then again (rerun). Every SageMaker Describe is counted per resource (a botocore hook reads the
name or ARN it asks for), so "≤ 1 describe per resource" is checked resource by resource.
The baseline, measured in the same run: reading the same world once with nothing else, every listing
paged and every resource described once (a bare boto3 walk, no store).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.bench.report import Row, ms

SECTION = "backfill"
ROLE = "arn:aws:iam::123456789012:role/bench"


def _world(
    sb: Any, pipelines: int = 4, runs: int = 5, jobs: int = 150, packages: int = 30, endpoints: int = 10
) -> None:
    sm = sb.client("sagemaker")
    training = {
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    }
    with sb.quietly():
        for p in range(pipelines):
            sm.create_pipeline(PipelineName=f"bench-{p}", PipelineDefinition='{"Steps": []}', RoleArn=ROLE)
            for r in range(runs):
                arn = sm.start_pipeline_execution(PipelineName=f"bench-{p}")["PipelineExecutionArn"]
                name = f"bench-{p}-{r}-train"
                job = sm.create_training_job(
                    TrainingJobName=name,
                    InputDataConfig=[
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": f"s3://bench/{p}/{r}/train",
                                }
                            },
                        }
                    ],
                    OutputDataConfig={"S3OutputPath": f"s3://bench/{p}/{r}/model"},
                    **training,
                )["TrainingJobArn"]
                sb.finish_pipeline_execution(
                    arn,
                    steps=[
                        {"StepName": "Prepare"},
                        {"StepName": "Train", "Metadata": {"TrainingJob": {"Arn": job}}},
                        {"StepName": "Check", "Metadata": {"Condition": {"Outcome": "True"}}},
                    ],
                )
        for j in range(jobs):
            sm.create_training_job(
                TrainingJobName=f"bench-adhoc-{j}",
                OutputDataConfig={"S3OutputPath": "s3://bench/adhoc"},
                **training,
            )
            sm.create_processing_job(
                ProcessingJobName=f"bench-prep-{j}",
                ProcessingInputs=[{"InputName": "in", "S3Input": {"S3Uri": f"s3://bench/raw/{j}", "LocalPath": "/in",
                                   "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                    "S3Uri": f"s3://bench/prepared/{j}", "LocalPath": "/out", "S3UploadMode": "EndOfJob"}}]},
                ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                       "VolumeSizeInGB": 1}},
                AppSpecification={"ImageUri": "img"},
                RoleArn=ROLE,
            )  # fmt: skip
        sm.create_model_package_group(ModelPackageGroupName="bench-models")
        versions = [
            sm.create_model_package(
                ModelPackageGroupName="bench-models",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "img",
                            "ModelDataUrl": f"s3://bench/adhoc/bench-adhoc-{v}/output/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelApprovalStatus="Approved",
            )["ModelPackageArn"]
            for v in range(packages)
        ]
        for e in range(endpoints):
            sm.create_model(ModelName=f"bench-model-{e}", PrimaryContainer={"ModelPackageName": versions[e]},
                            ExecutionRoleArn=ROLE)  # fmt: skip
            sm.create_endpoint_config(
                EndpointConfigName=f"bench-config-{e}",
                ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"bench-model-{e}",
                                     "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            )  # fmt: skip
            sm.create_endpoint(EndpointName=f"bench-endpoint-{e}", EndpointConfigName=f"bench-config-{e}")
            sm.create_transform_job(
                TransformJobName=f"bench-batch-{e}",
                ModelName=f"bench-model-{e}",
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://bench/score/{e}"}
                    }
                },
                TransformOutput={"S3OutputPath": f"s3://bench/scored/{e}"},
                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
            )
        for u in range(5):
            sm.create_model(
                ModelName=f"bench-unused-{u}", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE
            )


class DescribesPerResource:
    """Counts each SageMaker Describe by the resource it names (a botocore built-in hook on the call's
    parameters, installed as the sandbox's own call counter is; clients made after it see it)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def __enter__(self) -> DescribesPerResource:
        from botocore.handlers import BUILTIN_HANDLERS

        from steward.kernel.aws import clients

        def count(model: Any, params: Any = None, **_: Any) -> None:
            if model.service_model.service_name == "sagemaker" and model.name.startswith("Describe"):
                key = next(
                    (str(v) for k, v in sorted((params or {}).items()) if k.endswith(("Name", "Arn"))), ""
                )
                self.counts[(model.name, key)] += 1

        self._hook = ("before-parameter-build.sagemaker.*", count)
        BUILTIN_HANDLERS.append(self._hook)
        clients.reset()
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        from steward.kernel.aws import clients

        BUILTIN_HANDLERS.remove(self._hook)
        clients.reset()


def _bare_walk(sm: Any) -> int:
    """Every listing paged, every resource described once: the least a reader of this world does."""
    calls = 0

    def pages(operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        nonlocal calls
        items, token = [], None
        while True:
            page = getattr(sm, operation)(MaxResults=100, **params, **({"NextToken": token} if token else {}))
            calls += 1
            items += page.get(key) or []
            token = page.get("NextToken")
            if not token:
                return items

    def describe(operation: str, **params: Any) -> None:
        nonlocal calls
        getattr(sm, operation)(**params)
        calls += 1

    for pipeline in pages("list_pipelines", "PipelineSummaries"):
        for run in pages(
            "list_pipeline_executions", "PipelineExecutionSummaries", PipelineName=pipeline["PipelineName"]
        ):
            arn = run["PipelineExecutionArn"]
            pages("list_pipeline_execution_steps", "PipelineExecutionSteps", PipelineExecutionArn=arn)
            describe("describe_pipeline_execution", PipelineExecutionArn=arn)
    for job in pages("list_training_jobs", "TrainingJobSummaries"):
        describe("describe_training_job", TrainingJobName=job["TrainingJobName"])
    for job in pages("list_processing_jobs", "ProcessingJobSummaries"):
        describe("describe_processing_job", ProcessingJobName=job["ProcessingJobName"])
    pages("list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries")
    for job in pages("list_transform_jobs", "TransformJobSummaries"):
        describe("describe_transform_job", TransformJobName=job["TransformJobName"])
    for package in pages("list_model_packages", "ModelPackageSummaryList", ModelPackageType="Versioned"):
        describe("describe_model_package", ModelPackageName=package["ModelPackageArn"])
    for endpoint in pages("list_endpoints", "Endpoints"):
        describe("describe_endpoint", EndpointName=endpoint["EndpointName"])
    for config in pages("list_endpoint_configs", "EndpointConfigs"):
        describe("describe_endpoint_config", EndpointConfigName=config["EndpointConfigName"])
    for model in pages("list_models", "Models"):
        describe("describe_model", ModelName=model["ModelName"])
    return calls


def _sagemaker(calls: Counter[str]) -> int:
    return sum(n for op, n in calls.items() if op.startswith("sagemaker."))


def run() -> list[Row]:
    from sandbox import Sandbox

    with Sandbox(serve_api=False) as sb:
        _world(sb)
        started = time.perf_counter()
        bare = _bare_walk(sb.client("sagemaker"))
        bare_time = time.perf_counter() - started

        sb.aws_calls.clear()
        with DescribesPerResource() as describes:
            started = time.perf_counter()
            first = sb.backfill()
            first_time = time.perf_counter() - started
        first_calls = Counter(sb.aws_calls)

        sb.aws_calls.clear()
        again = sb.backfill()
        rerun_calls = Counter(sb.aws_calls)

    totals = first["summary"]
    resources = totals["recorded"] + totals["known"] + totals["skipped"]
    described = sum(describes.counts.values())
    worst = max(describes.counts.values(), default=0)
    transactions = first_calls["dynamodb.TransactWriteItems"]
    writes = transactions + first_calls["dynamodb.PutItem"] + first_calls["dynamodb.UpdateItem"]
    reads = first_calls["dynamodb.BatchGetItem"] + first_calls["dynamodb.GetItem"]
    first_sm, rerun_sm = _sagemaker(first_calls), _sagemaker(rerun_calls)
    rerun_describes = sum(n for op, n in rerun_calls.items() if op.startswith("sagemaker.Describe"))
    rerun_writes = rerun_calls["dynamodb.TransactWriteItems"]
    label = f"backfill of {resources} resources"
    ok = first["done"] and again["done"] and not totals["errors"] and again["summary"]["recorded"] == 0
    return [
        Row(
            SECTION,
            f"{label}: Describe calls per resource (worst resource)",
            f"{described / resources:.2f} ({described} describes; worst resource {worst})",
            target="≤ 1 per resource",
            met=worst <= 1 and ok,
        ),
        Row(
            SECTION,
            f"{label}: DynamoDB writes per resource",
            f"{writes / resources:.2f} ({transactions} transactions for {totals['recorded']} recorded, "
            f"{writes - transactions} checkpoint)",
            target="≤ 1 per resource",
            met=writes <= resources and transactions <= totals["recorded"],
        ),
        Row(
            SECTION,
            f"{label}: SageMaker calls, first run",
            f"{first_sm} ({reads} DynamoDB reads besides)",
            baseline=f"{bare} (bare List + Describe of each)",
            ratio=f"{first_sm / bare:.2f}x",
        ),
        Row(
            SECTION,
            f"{label}: time, first run",
            ms(first_time),
            baseline=f"{ms(bare_time)} (bare walk)",
            ratio=f"{first_time / bare_time:.1f}x",
        ),
        Row(
            SECTION,
            f"{label}: rerun (all known)",
            f"{rerun_sm} SageMaker calls ({rerun_describes} Describe), {rerun_writes} transactions",
            baseline=f"{first_sm} calls first run",
            ratio=f"{rerun_sm / first_sm:.2f}x",
            target="0 Describe · 0 transactions",
            met=rerun_describes == 0 and rerun_writes == 0 and ok,
        ),
    ]
