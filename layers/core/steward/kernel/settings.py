"""Settings from the function's environment (set by template.yaml), read once per environment.

Each field is read from the variable its alias names, case-insensitively, and validated by pydantic:
what pydantic-settings would do for these flat fields, without its import (about 100 ms of a cold
start: it pulls in asyncio and every settings source).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stage: str = Field("dev", alias="STAGE")
    lineage_table: str = Field("steward-lineage", alias="LINEAGE_TABLE_NAME")
    idempotency_table: str = Field("steward-idempotency", alias="IDEMPOTENCY_TABLE_NAME")
    # How long an event id is remembered: EventBridge re-deliveries and SageMaker duplicates arrive within
    # minutes; a day leaves room for a DLQ redrive the next morning to still be recognised.
    event_id_ttl_seconds: int = Field(7 * 24 * 3600, alias="EVENT_ID_TTL_SECONDS")
    # Describe calls one reconciler run may make (SageMaker Describe APIs are throttled per account).
    reconcile_budget: int = Field(100, alias="RECONCILE_BUDGET", ge=1, le=1000)
    # SageMaker calls one backfill invocation may make (its event's "budget" may ask for fewer or more).
    backfill_budget: int = Field(1000, alias="BACKFILL_BUDGET", ge=1, le=10_000)
    notifications_table: str = Field("steward-notifications", alias="NOTIFICATIONS_TABLE_NAME")
    notification_queue_url: str = Field("", alias="NOTIFICATION_QUEUE_URL")
    slack_secret_name: str = Field("steward/slack", alias="SLACK_SECRET_NAME")
    webhook_secret_name: str | None = Field(None, alias="WEBHOOK_SECRET_NAME")
    sender_email: str = Field("steward@example.com", alias="SENDER_EMAIL")
    approval_secret_name: str = Field("steward/approval-signing", alias="APPROVAL_SECRET_NAME")
    api_base_url: str = Field("http://127.0.0.1", alias="API_BASE_URL")
    target_role_arn: str | None = Field(None, alias="TARGET_ROLE_ARN")
    # Promotion: the only role CreateModel may pass, the name prefix of everything it may touch.
    model_execution_role_arn: str = Field("", alias="MODEL_EXECUTION_ROLE_ARN")
    managed_name_prefix: str = Field("", alias="MANAGED_NAME_PREFIX")
    promotion_queue_url: str = Field("", alias="PROMOTION_QUEUE_URL")
    region: str = Field("", alias="AWS_REGION")  # set by Lambda: the function's own region
    account_id: str = Field("", alias="STEWARD_ACCOUNT_ID")  # the stack's account (template.yaml)
    # Multi-account: one role per workload account (comma-separated ARNs, workload-account.yaml's roles).
    workload_read_role_arns: str = Field("", alias="WORKLOAD_READ_ROLE_ARNS")
    workload_promotion_role_arns: str = Field("", alias="WORKLOAD_PROMOTION_ROLE_ARNS")

    @field_validator("workload_read_role_arns", "workload_promotion_role_arns")
    @classmethod
    def _one_role_per_account(cls, value: str) -> str:
        roles_by_account(value)  # a malformed list is a misconfiguration: fail at the first invocation
        return value

    @property
    def workload_read_roles(self) -> dict[str, str]:
        """Workload account id -> the role record_lineage assumes to describe that account's resources."""
        return roles_by_account(self.workload_read_role_arns)

    @property
    def workload_promotion_roles(self) -> dict[str, str]:
        """Workload account id -> the role promotion assumes to deploy in that account."""
        return roles_by_account(self.workload_promotion_role_arns)


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/[a-zA-Z0-9+=,.@_/-]+$")


def roles_by_account(value: str) -> dict[str, str]:
    """{account: role ARN} from a comma-separated list of role ARNs, at most one per account."""
    roles: dict[str, str] = {}
    for raw in value.split(","):
        arn = raw.strip()
        if not arn:
            continue
        match = _ROLE_ARN.fullmatch(arn)
        if match is None:
            raise ValueError(f"{arn[:100]!r} is not an IAM role ARN")
        if match["account"] in roles and roles[match["account"]] != arn:
            raise ValueError(f"two roles for account {match['account']}: one role per workload account")
        roles[match["account"]] = arn
    return roles


_NAMES = frozenset(str(f.alias) for f in Settings.model_fields.values())


def get_settings() -> Settings:
    """The settings of the environment this runs in. Memoized on the values they are read from: one
    Settings per process on Lambda, and still the right one where one process runs several functions
    (the sandbox, where each invocation has its own environment, several at once in its parallel mode)."""
    return _settings_for(tuple((k.upper(), v) for k, v in os.environ.items() if k.upper() in _NAMES))


@lru_cache(maxsize=64)
def _settings_for(values: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.model_validate(dict(values))


get_settings.cache_clear = _settings_for.cache_clear  # type: ignore[attr-defined]
