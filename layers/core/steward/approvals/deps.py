"""What the approval use cases are given: stores and clients behind protocols (fakes in unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from steward.approvals.models import ApprovalRequest
from steward.lineage.ports import Lineage
from steward.notify.ports import Outbox


class Store(Protocol):
    def create(self, request: ApprovalRequest) -> bool: ...
    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def save(
        self, request: ApprovalRequest, spend_link: tuple[str, int] | None = None
    ) -> ApprovalRequest: ...
    def use_link(self, nonce: str, expires_at: int) -> bool: ...
    def link_used(self, nonce: str) -> bool: ...


class Registry(Protocol):
    def set_approval(self, package_arn: str, status: str, description: str) -> None: ...


class Reports(Protocol):
    def read_json(self, s3_uri: str) -> Any: ...


class Commands(Protocol):
    def send(self, command: Any) -> str: ...


@dataclass
class Deps:
    store: Store
    registry: Registry
    reports: Reports
    lineage: Lineage
    outbox: Outbox
    keys: dict[str, bytes]
    active_key: str
    api_base_url: str | None  # None: this function makes no approval links (the API)
    promotions: Commands | None = None  # the promotion queue: a stage approved on its own deploys
