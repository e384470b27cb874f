"""Detail models of model registry, endpoint and CloudWatch alarm events."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from steward.events.base import Camel, Pascal
from steward.events.jobs import JobTimes
from steward.events.normalize import (
    EndpointStatus,
    ListOrNull,
    MapOrNull,
    Tags,
    Timestamp,
    normalize_s3_uri,
)

# --- model registry --------------------------------------------------------------------------------


class PackageContainer(Pascal):
    image: str | None = None
    image_digest: str | None = None
    model_data_url: str | None = None


class InferenceSpecification(Pascal):
    containers: ListOrNull[PackageContainer] = Field(default_factory=list)


class MetadataProperties(Pascal):
    generated_by: str | None = None
    repository: str | None = None
    commit_id: str | None = None
    project_id: str | None = None


class UserContext(Pascal):
    user_profile_name: str | None = None
    user_profile_arn: str | None = None
    iam_identity: dict[str, Any] | None = None

    @property
    def who(self) -> str | None:
        arn = (self.iam_identity or {}).get("Arn")
        return self.user_profile_name or (arn if isinstance(arn, str) else None)

    @property
    def identities(self) -> list[str]:
        """Every identity SageMaker reports for the caller: a Studio profile and an IAM identity can come
        together, and each is the same person (separation of duties checks them all). An assumed-role
        session's name and a SourceIdentity are usually the person's own name or email."""
        iam = self.iam_identity or {}
        found = [self.user_profile_name, self.user_profile_arn, iam.get("Arn"), iam.get("SourceIdentity")]
        arn = iam.get("Arn")
        if isinstance(arn, str) and ":assumed-role/" in arn:
            found.append(arn.rsplit("/", 1)[-1])  # arn:aws:sts::…:assumed-role/Role/<session name>
        unique: dict[str, None] = {}
        for value in found:
            if isinstance(value, str) and value.strip():
                unique.setdefault(value.strip(), None)
        return list(unique)


class ModelLifeCycle(Pascal):
    stage: str | None = None
    stage_status: str | None = None
    stage_description: str | None = None


class ModelPackageDetail(JobTimes):
    model_package_arn: str
    model_package_group_name: str | None = None
    model_package_version: int | None = None
    model_package_description: str | None = None
    model_approval_status: str | None = None
    model_package_status: str | None = None
    approval_description: str | None = None
    inference_specification: InferenceSpecification | None = None
    metadata_properties: MetadataProperties | None = None
    model_metrics: MapOrNull[Any] = Field(default_factory=dict)
    drift_check_baselines: MapOrNull[Any] = Field(default_factory=dict)
    customer_metadata_properties: MapOrNull[str] = Field(default_factory=dict)
    updated_model_package_fields: list[str] | None = None
    created_by: UserContext | None = None
    last_modified_by: UserContext | None = None
    model_life_cycle: ModelLifeCycle | None = None
    tags: Tags = Field(default_factory=dict)

    @property
    def group_name(self) -> str:
        """The group, from the field or (older shapes) the ARN `.../model-package/<group>/<version>`."""
        if self.model_package_group_name:
            return self.model_package_group_name
        return self.model_package_arn.split(":model-package/", 1)[-1].split("/", 1)[0]

    @property
    def version(self) -> int | None:
        if self.model_package_version is not None:
            return self.model_package_version
        tail = self.model_package_arn.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def metric_report_uris(self) -> dict[str, str]:
        """`ModelMetrics` report S3 URIs by their path, e.g. {"ModelQuality.Statistics": "s3://..."}."""
        uris: dict[str, str] = {}

        def walk(node: Any, path: str) -> None:
            if isinstance(node, dict):
                uri = node.get("S3Uri")
                if isinstance(uri, str) and uri.startswith("s3://"):
                    uris[path] = normalize_s3_uri(uri)
                for key, child in node.items():
                    walk(child, f"{path}.{key}" if path else key)

        walk(self.model_metrics, "")
        return uris


# --- endpoints -------------------------------------------------------------------------------------


class PendingDeploymentSummary(Pascal):
    endpoint_config_name: str | None = None
    start_time: Timestamp = None
    production_variants: list[dict[str, Any]] = Field(default_factory=list)


class EndpointDetail(JobTimes):
    endpoint_name: str
    endpoint_arn: str | None = None
    endpoint_config_name: str | None = None
    endpoint_status: EndpointStatus
    failure_reason: str | None = None
    production_variants: ListOrNull[dict[str, Any]] = Field(default_factory=list)
    pending_deployment_summary: PendingDeploymentSummary | None = None
    tags: Tags = Field(default_factory=dict)


# --- CloudWatch alarms (camelCase) -----------------------------------------------------------------


class AlarmState(Camel):
    value: str
    reason: str | None = None
    reason_data: str | None = None
    timestamp: Timestamp = None


class AlarmDetail(Camel):
    alarm_name: str
    state: AlarmState
    previous_state: AlarmState | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)

    def dimensions(self) -> dict[str, str]:
        """Every metric dimension of the alarm (metric-math alarms have several metrics)."""
        dims: dict[str, str] = {}
        for metric in self.configuration.get("metrics") or []:
            stat = (metric or {}).get("metricStat") or {}
            for key, value in ((stat.get("metric") or {}).get("dimensions") or {}).items():
                dims[str(key)] = str(value)
        return dims

    def metric_names(self) -> list[str]:
        names = []
        for metric in self.configuration.get("metrics") or []:
            name = (((metric or {}).get("metricStat") or {}).get("metric") or {}).get("name")
            if isinstance(name, str):
                names.append(name)
        return names
