"""Promotion's dependencies: what its use cases are given (stores and clients behind protocols)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from steward.kernel.arns import sagemaker_arn
from steward.kernel.errors import NotFoundError
from steward.lineage.ports import Lineage
from steward.notify.ports import Outbox
from steward.policy import Stage
from steward.promotion.models import Deployment


class Store(Protocol):
    def create(self, deployment: Deployment) -> bool: ...
    def get(self, endpoint_arn: str, deployment_id: str) -> Deployment | None: ...
    def save(self, deployment: Deployment) -> Deployment: ...
    def for_endpoint(self, endpoint_arn: str) -> list[Deployment]: ...
    def acquire(self, endpoint_arn: str, deployment_id: str, now: datetime, lease_seconds: int) -> bool: ...
    def release(self, endpoint_arn: str, deployment_id: str) -> None: ...
    def holder(self, endpoint_arn: str) -> tuple[str, int] | None: ...


class Endpoints(Protocol):
    def describe_package(self, arn: str) -> dict[str, Any]: ...
    def describe_endpoint(self, name: str) -> dict[str, Any] | None: ...
    def config_package(self, config_name: str) -> str | None: ...
    def data_capture(self, config_name: str) -> dict[str, Any] | None: ...
    def create_model(
        self, name: str, package_arn: str, role_arn: str, tags: list[dict[str, str]]
    ) -> None: ...
    def create_endpoint_config(
        self, name: str, variants: list[dict[str, Any]], tags: list[dict[str, str]], data_capture: Any
    ) -> None: ...
    def create_endpoint(self, name: str, config_name: str, tags: list[dict[str, str]]) -> None: ...
    def update_endpoint(self, name: str, config_name: str, deployment_config: dict[str, Any]) -> None: ...
    def invoke(self, endpoint: str, body: bytes, content_type: str, accept: str | None) -> Any: ...
    def sample_requests(self, uri: str) -> str: ...


class Approvals(Protocol):
    def get(self, request_id: str) -> Any: ...


@dataclass
class Deps:
    store: Store
    endpoints: Endpoints
    approvals: Approvals
    lineage: Lineage
    outbox: Outbox
    execution_role_arn: str
    name_prefix: str = ""
    # Opens a stage's own approval request (the approval gate's use case), for stages that need one.
    request_stage_approval: Callable[[Deployment, Stage, int], dict[str, Any]] | None = None
    log: list[str] = field(default_factory=list)
    # Multi-account: SageMaker of (account, region); None when no role reaches that account. Without it,
    # every call goes through `endpoints`.
    endpoints_in: Callable[[str, str], Endpoints | None] | None = None
    # The account of a stage that names none (TargetAccountRoleArn's), else the registry's.
    default_account: str | None = None


def stage_endpoint_arn(package: str, stage: Stage, deps: Deps) -> str:
    """Where the stage's endpoint is: the stage's account and region, by default the registry's."""
    region, account = package.split(":")[3], package.split(":")[4]
    return sagemaker_arn(
        stage.region or region, stage.account or deps.default_account or account, "endpoint", stage.endpoint
    )


def endpoints_of(deps: Deps, endpoint_arn: str) -> Endpoints:
    """SageMaker of the endpoint's account (that account's promotion role, when it is another)."""
    if deps.endpoints_in is None:
        return deps.endpoints
    parts = endpoint_arn.split(":")
    found = deps.endpoints_in(parts[4], parts[3])
    if found is None:
        raise NotFoundError(
            f"no promotion role for account {parts[4]}: template parameter WorkloadPromotionRoleArns"
        )
    return found


def sagemaker_of(deps: Deps, deployment: Deployment) -> Endpoints:
    """SageMaker of the deployment's endpoint."""
    return endpoints_of(deps, deployment.endpoint_arn)
