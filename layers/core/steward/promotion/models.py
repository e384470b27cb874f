"""Deployments: the record that follows one approved version onto one endpoint until it ends."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["promotion", "rollback"]
Status = Literal["queued", "started", "succeeded", "failed", "rolled-back", "refused"]
ACTIVE: frozenset[str] = frozenset({"queued", "started"})
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "rolled-back", "refused"})
# The node status each record status shows in the lineage (Describe-API-like spelling).
NODE_STATUS = {
    "queued": "Queued",
    "started": "InProgress",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "rolled-back": "RolledBack",
    "refused": "Refused",
}


class Progress(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime
    status: str
    detail: str | None = None


class Deployment(BaseModel):
    """One version onto one endpoint. The id is derived from what asked for it, so duplicates find it."""

    model_config = ConfigDict(defer_build=True)

    id: str
    kind: Kind = "promotion"
    endpoint: str  # endpoint name
    endpoint_arn: str
    group: str
    stage: str
    stage_index: int
    package_arn: str
    version: int | None
    approval_request: str | None = None  # the record that approved this exact package
    approved_by: list[str] = Field(default_factory=list)
    artifact_uri: str | None = None
    requested_by: str
    reason: str = ""
    rollback_request: str | None = None  # the operator's request id (rollbacks)
    warnings: list[str] = Field(default_factory=list)
    model_name: str | None = None
    config_name: str | None = None
    previous_config: str | None = None
    previous_version: int | None = None
    deployment_config: dict[str, Any] | None = None
    created: bool = False  # CreateEndpoint (a new endpoint) rather than UpdateEndpoint
    status: Status = "queued"
    failure_reason: str | None = None
    progress: list[Progress] = Field(default_factory=list)
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # The stage's integration test, once run after the deployment succeeded (integration.run's result).
    integration_test: dict[str, Any] | None = None
    revision: int = 0

    @staticmethod
    def id_for(package_arn: str, endpoint_arn: str, kind: Kind, request: str = "") -> str:
        """Promotions: one per (package, endpoint). Rollbacks: one per operator request."""
        key = f"steward-deploy:{kind}:{package_arn.lower()}:{endpoint_arn.lower()}:{request}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, key))

    @property
    def suffix(self) -> str:
        return hashlib.sha256(self.id.encode()).hexdigest()[:6]

    @property
    def node_id(self) -> str:
        return f"{self.endpoint_arn.lower()}/deployment/{self.id}"

    def summary(self) -> dict[str, Any]:
        """What the API and CLI show of a deployment Steward ran."""
        return {
            "deploymentId": self.id,
            "kind": self.kind,
            "stage": self.stage,
            "status": self.status,
            "modelPackageArn": self.package_arn,
            "version": self.version,
            "previousVersion": self.previous_version,
            "approvalRequest": self.approval_request,
            "approvedBy": self.approved_by,
            "requestedBy": self.requested_by,
            "rollbackRequest": self.rollback_request,
            "reason": self.reason or None,
            "warnings": self.warnings,
            "endpointConfigName": self.config_name,
            "previousEndpointConfigName": self.previous_config,
            "strategy": _strategy(self.deployment_config),
            "failureReason": self.failure_reason,
            "createdAt": self.created_at.isoformat(),
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "integrationTest": self.integration_test,
        }


def _strategy(config: dict[str, Any] | None) -> str | None:
    if not config:
        return None
    routing = config.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {})
    return str(routing.get("Type", "")).lower().replace("_", "-") or None


class RollbackCommand(BaseModel):
    """What the API puts on the promotion queue for `steward rollback`."""

    model_config = ConfigDict(defer_build=True)

    action: Literal["rollback"] = "rollback"
    request_id: str = Field(min_length=8, max_length=64)
    endpoint_arn: str
    to_version: int | None = Field(None, ge=1)
    requested_by: str = Field(max_length=512)
    reason: str = Field("", max_length=1000)
    at: datetime


class PromoteCommand(BaseModel):
    """A stage approved by its own request: deploy the package to that stage."""

    model_config = ConfigDict(defer_build=True)

    action: Literal["promote"] = "promote"
    package_arn: str
    stage: str
    approval_request: str
    requested_by: str
    at: datetime
