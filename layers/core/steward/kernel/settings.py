"""Settings from the function's environment (set by template.yaml), read once per environment.

Each function declares the variables it reads as its own model (`Settings` in functions/<name>/app.py),
composed of the groups below; `steward.kernel.handler.lambda_handler` validates it before the first
invocation does any work, so a variable template.yaml forgot is a ConfigurationError naming it, logged
once, not a KeyError or a made-up table name deep in a use case. Names (tables, queues, secrets) have no
defaults; tunables (budgets, TTLs) keep documented ones. Shared code asks for the group it needs
(`get_settings(LineageTables)`): the function's model includes it, so it was checked at the start.

Each field is read from the variable its alias names, case-insensitively, and validated by pydantic:
what pydantic-settings would do for these flat fields, without its import (about 100 ms of a cold
start: it pulls in asyncio and every settings source).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from steward.kernel.errors import ConfigurationError

# A resource name or URL: set, and not empty (an empty table name is as wrong as a missing one).
Name = Annotated[str, Field(min_length=1)]


def _roles_checked(value: str) -> str:
    roles_by_account(value)  # a malformed list is a misconfiguration: fail at the start
    return value


# Multi-account: one role per workload account (comma-separated ARNs, workload-account.yaml's roles);
# empty in a single-account stack.
RoleArns = Annotated[str, AfterValidator(_roles_checked)]


class FunctionSettings(BaseModel):
    """Base of every settings model: the variables it declares, the rest of the environment ignored."""

    # Built on first use: a function validates the one or two models it needs, not every group here.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class StageSettings(FunctionSettings):
    stage: Name = Field(alias="STAGE")


class LineageTables(FunctionSettings):
    lineage_table: Name = Field(alias="LINEAGE_TABLE_NAME")
    idempotency_table: Name = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # How long an event id is remembered: EventBridge re-deliveries and SageMaker duplicates arrive within
    # minutes; a week leaves room for a DLQ redrive days later to still be recognised.
    event_id_ttl_seconds: int = Field(7 * 24 * 3600, alias="EVENT_ID_TTL_SECONDS", ge=60)


class NotificationQueue(FunctionSettings):
    notification_queue_url: Name = Field(alias="NOTIFICATION_QUEUE_URL")


class NotificationTable(FunctionSettings):
    notifications_table: Name = Field(alias="NOTIFICATIONS_TABLE_NAME")


class SlackSecret(FunctionSettings):
    slack_secret_name: Name = Field(alias="SLACK_SECRET_NAME")


class Channels(NotificationTable, SlackSecret):
    """What the notifier's channels read: the delivery log, Slack's secret, SES's sender, the webhooks'
    signing secret (None: no webhook signing secret in this stack)."""

    sender_email: Name = Field(alias="SENDER_EMAIL")
    webhook_secret_name: str | None = Field(None, alias="WEBHOOK_SECRET_NAME")


class PromotionQueue(FunctionSettings):
    promotion_queue_url: Name = Field(alias="PROMOTION_QUEUE_URL")


class ApprovalSettings(LineageTables, NotificationQueue, PromotionQueue):
    """What the approval use cases read. `api_base_url` makes the approval links: None in the API (its own
    URL in its environment would be a circular reference in CloudFormation; a link it makes is relative);
    a function that sends links declares it required (ApprovalLinks)."""

    approval_secret_name: Name = Field(alias="APPROVAL_SECRET_NAME")
    api_base_url: str | None = Field(None, alias="API_BASE_URL")


class ApprovalLinks(ApprovalSettings):
    api_base_url: Name = Field(alias="API_BASE_URL")


class WorkloadReadRoles(FunctionSettings):
    workload_read_role_arns: RoleArns = Field("", alias="WORKLOAD_READ_ROLE_ARNS")

    @property
    def workload_read_roles(self) -> dict[str, str]:
        """Workload account id -> the role record_lineage assumes to describe that account's resources."""
        return roles_by_account(self.workload_read_role_arns)


class PromotionSettings(LineageTables, NotificationQueue):
    """What promotion reads: the only role CreateModel may pass (set, and empty until a stage needs it:
    template parameter ModelExecutionRoleArn), the name prefix of everything it may touch (empty: none),
    the stack's account and region, the roles of other accounts."""

    model_execution_role_arn: str = Field(alias="MODEL_EXECUTION_ROLE_ARN")
    managed_name_prefix: str = Field(alias="MANAGED_NAME_PREFIX")
    target_role_arn: str | None = Field(None, alias="TARGET_ROLE_ARN")  # empty or absent: none
    account_id: Name = Field(alias="STEWARD_ACCOUNT_ID")  # the stack's account (template.yaml)
    region: Name = Field(alias="AWS_REGION")  # set by Lambda: the function's own region
    workload_promotion_role_arns: RoleArns = Field("", alias="WORKLOAD_PROMOTION_ROLE_ARNS")

    @property
    def workload_promotion_roles(self) -> dict[str, str]:
        """Workload account id -> the role promotion assumes to deploy in that account."""
        return roles_by_account(self.workload_promotion_role_arns)


class ReconcileBudget(FunctionSettings):
    # Describe calls one reconciler run may make (SageMaker Describe APIs are throttled per account).
    reconcile_budget: int = Field(100, alias="RECONCILE_BUDGET", ge=1, le=1000)


class BackfillBudget(FunctionSettings):
    # SageMaker calls one backfill invocation may make (its event's "budget" may ask for fewer or more).
    backfill_budget: int = Field(1000, alias="BACKFILL_BUDGET", ge=1, le=10_000)


class Settings(FunctionSettings):
    """Every variable any function reads, each None where it is not set (tunables: their defaults): a
    whole-stack view for tools and tests. Functions read their own model, which requires what it needs."""

    stage: str | None = Field(None, alias="STAGE")
    lineage_table: str | None = Field(None, alias="LINEAGE_TABLE_NAME")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE_NAME")
    event_id_ttl_seconds: int = Field(7 * 24 * 3600, alias="EVENT_ID_TTL_SECONDS", ge=60)
    reconcile_budget: int = Field(100, alias="RECONCILE_BUDGET", ge=1, le=1000)
    backfill_budget: int = Field(1000, alias="BACKFILL_BUDGET", ge=1, le=10_000)
    notifications_table: str | None = Field(None, alias="NOTIFICATIONS_TABLE_NAME")
    notification_queue_url: str | None = Field(None, alias="NOTIFICATION_QUEUE_URL")
    slack_secret_name: str | None = Field(None, alias="SLACK_SECRET_NAME")
    webhook_secret_name: str | None = Field(None, alias="WEBHOOK_SECRET_NAME")
    sender_email: str | None = Field(None, alias="SENDER_EMAIL")
    approval_secret_name: str | None = Field(None, alias="APPROVAL_SECRET_NAME")
    api_base_url: str | None = Field(None, alias="API_BASE_URL")
    target_role_arn: str | None = Field(None, alias="TARGET_ROLE_ARN")
    model_execution_role_arn: str | None = Field(None, alias="MODEL_EXECUTION_ROLE_ARN")
    managed_name_prefix: str | None = Field(None, alias="MANAGED_NAME_PREFIX")
    promotion_queue_url: str | None = Field(None, alias="PROMOTION_QUEUE_URL")
    region: str | None = Field(None, alias="AWS_REGION")
    account_id: str | None = Field(None, alias="STEWARD_ACCOUNT_ID")
    workload_read_role_arns: RoleArns = Field("", alias="WORKLOAD_READ_ROLE_ARNS")
    workload_promotion_role_arns: RoleArns = Field("", alias="WORKLOAD_PROMOTION_ROLE_ARNS")


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


def variables(model: type[FunctionSettings]) -> dict[str, bool]:
    """The environment variables a settings model reads, each with whether it is required."""
    return {str(f.alias): f.is_required() for f in model.model_fields.values()}


M = TypeVar("M", bound=FunctionSettings)


def get_settings(model: type[M] = Settings) -> M:  # type: ignore[assignment]
    """The settings of the environment this runs in, as `model` declares them; ConfigurationError (naming
    each variable missing or malformed) when the environment does not satisfy it. Memoized on the values
    they are read from: one per process on Lambda, and still the right one where one process runs several
    functions (the sandbox, where each invocation has its own environment, several at once in its parallel
    mode)."""
    names = _names(model)
    values = tuple((k.upper(), v) for k, v in os.environ.items() if k.upper() in names)
    return _settings_for(model, values)  # type: ignore[return-value]


@lru_cache(maxsize=64)
def _names(model: type[FunctionSettings]) -> frozenset[str]:
    return frozenset(variables(model))


@lru_cache(maxsize=256)
def _settings_for(model: type[FunctionSettings], values: tuple[tuple[str, str], ...]) -> FunctionSettings:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise _misconfigured(model, exc) from None


class SettingsError(ConfigurationError):
    """The environment does not satisfy a settings model: the variables missing, those malformed."""

    def __init__(self, model: str, missing: list[str], malformed: list[str]) -> None:
        self.missing, self.malformed = missing, malformed
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"malformed {', '.join(malformed)}"] if malformed else []
        super().__init__(f"{model}: environment variables " + "; ".join(parts))


def _misconfigured(model: type[FunctionSettings], exc: ValidationError) -> SettingsError:
    aliases = {name: str(f.alias) for name, f in model.model_fields.items()}
    missing, malformed = [], []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = aliases.get(field, field)
        if error["type"] == "missing":
            missing.append(variable)
        else:  # never the value: a variable may hold something secret-adjacent (an ARN list, a URL)
            malformed.append(f"{variable} ({error['msg']})")
    return SettingsError(model.__qualname__, sorted(missing), sorted(malformed))


def _clear() -> None:
    _settings_for.cache_clear()


get_settings.cache_clear = _clear  # type: ignore[attr-defined]
