"""The policy document's models: one validated model, a default entry and one per model group."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steward.policy.rules import (
    integration_test_problem,
    quorum_problem,
    retraining_problem,
    route_problems,
    stages_problem,
    threshold_problem,
)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Route(Strict):
    """Where notifications of one severity go."""

    slack: list[str] = Field(default_factory=list, description="Slack channels (#name or id)")
    email: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list, description="names of webhooks defined in the policy")
    digest: bool = Field(False, description="hold these for the scheduled digest instead of sending each")

    @field_validator("email")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            local, _, domain = address.partition("@")
            if not local or "." not in domain or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("slack")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            if not channel or any(c.isspace() for c in channel):
                raise ValueError(f"{channel!r} is not a Slack channel")
        return value


class Routes(Strict):
    info: Route | None = None
    warning: Route | None = None
    critical: Route | None = None

    def for_severity(self, severity: Severity) -> Route | None:
        return getattr(self, severity.value)  # type: ignore[no-any-return]


class Webhook(Strict):
    url: str
    secret_name: str | None = Field(None, description="Secrets Manager secret holding the signing key")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("webhooks are https (plain http only on loopback, for the sandbox)")
        return value


class Approver(Strict):
    email: str
    slack_user_id: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,}$")
    name: str | None = None
    # The identities under which this person registers models (Studio user profiles, IAM ARNs): a version
    # they registered is one they cannot approve.
    identities: list[str] = Field(default_factory=list)

    def is_identity(self, who: str | None) -> bool:
        if not who:
            return False
        who_l = who.strip().lower()
        return who_l == self.email or any(who_l == i.strip().lower() for i in self.identities)

    def is_any_identity(self, identities: list[str]) -> bool:
        return any(self.is_identity(who) for who in identities)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()


class Threshold(Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        problem = threshold_problem(self.min, self.max)
        if problem:
            raise ValueError(problem)
        return self


class ProductionComparison(Strict):
    metric: str
    higher_is_better: bool = True
    # How much better than production the candidate must be (negative: the loss allowed).
    min_improvement: float = 0.0


class BiasBound(Strict):
    """A bound on one SageMaker Clarify bias metric, for every facet and facet value the report has."""

    min: float | None = None
    max: float | None = None
    max_abs: float | None = Field(None, ge=0)  # |value| <= max_abs (DPPL, CDDL, ... around 0)

    @model_validator(mode="after")
    def _one_bound(self) -> BiasBound:
        if self.max_abs is None:
            problem = threshold_problem(self.min, self.max)
            if problem:
                raise ValueError(problem.replace("min and/or max", "min, max and/or max_abs"))
        return self


DRIFT_BASELINES = ("ModelQuality", "ModelDataQuality", "Bias", "Explainability")


class DataChecks(Strict):
    """What the gate weighs from the package's ModelMetrics Bias and Explainability reports (SageMaker
    Clarify's analysis.json) and its DriftCheckBaselines (used by approvals' gate)."""

    # Clarify metric name (DPPL, DI, CDDL, ...; "pre_training.CI" for a pre-training metric) → bound.
    bias: dict[str, BiasBound] = Field(default_factory=dict, max_length=50)
    # No single feature may carry more than this share of the total mean |SHAP| (a leak detector).
    max_top_feature_share: float | None = Field(None, gt=0, le=1)
    # DriftCheckBaselines the package must carry, so Model Monitor can check it once it serves.
    require_drift_baselines: list[Literal["ModelQuality", "ModelDataQuality", "Bias", "Explainability"]] = (
        Field(default_factory=list)
    )

    @field_validator("bias")
    @classmethod
    def _metric_names(cls, value: dict[str, BiasBound]) -> dict[str, BiasBound]:
        import re

        for name in value:
            if not re.fullmatch(r"((pre|post)_training\.)?[A-Za-z][A-Za-z0-9_]{0,39}", name):
                raise ValueError(f"{name!r} is not a Clarify metric name (e.g. DPPL or pre_training.CI)")
        return value


class Gate(Strict):
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    compare_with_production: ProductionComparison | None = None
    on_fail: Literal["reject", "request-approval"] = "reject"
    on_pass: Literal["request-approval", "approve"] = "request-approval"  # noqa: S105 (not a secret)
    # A version whose training job's SageMaker Debugger/Profiler rules found issues: ignore it, hold it
    # for people (never auto-approved), or reject it.
    training_rules: Literal["ignore", "hold", "reject"] = "ignore"
    # A rule still running when the version is registered (rules often end after their training job) is
    # not "no issues": with hold or reject, the gate waits this long for the rules (the reconciler reads
    # them, the approvals sweep re-gates), then sends the version to people with the unfinished rules named.
    training_rules_wait_minutes: float = Field(240, ge=0, le=7 * 24 * 60)
    data_checks: DataChecks = Field(default_factory=DataChecks)


class ApprovalPolicy(Strict):
    approvers: list[Approver] = Field(min_length=1)
    quorum: int = Field(1, ge=1)
    excluded: list[str] = Field(default_factory=list)  # who may never approve, besides the registrant
    reject_on_first_rejection: bool = True
    expiry_hours: float = Field(72, gt=0, le=24 * 30)
    reminder_hours_before_expiry: list[float] = Field(default_factory=lambda: [24.0])
    on_expiry: Literal["leave-pending", "reject"] = "leave-pending"
    gate: Gate = Field(default_factory=Gate)

    @model_validator(mode="after")
    def _quorum_reachable(self) -> ApprovalPolicy:
        problem = quorum_problem(self.quorum, len(self.approvers))
        if problem:
            raise ValueError(problem)
        return self

    def approver(self, who: str) -> Approver | None:
        """The approver an email address or Slack user id names."""
        who_l = who.strip().lower()
        for approver in self.approvers:
            if who_l in (approver.email, (approver.slack_user_id or "").lower()):
                return approver
        return None


class SampleRequest(Strict):
    """One request an integration test sends to a stage's endpoint, and what its answer must be."""

    name: str | None = Field(None, max_length=100)
    body: Any  # a JSON value (sent as JSON), or a string sent as is (CSV, text)
    content_type: str = Field("application/json", max_length=256)
    accept: str | None = Field(None, max_length=256)
    expect_status: int = Field(200, ge=100, le=599)  # the model container's HTTP status
    expect_content_type: str | None = Field(None, max_length=256)  # a prefix: "application/json"
    expect_schema: dict[str, Any] | None = None  # a JSON Schema the JSON answer must satisfy
    expect: Any = None  # the JSON (or text) answer expected; numbers within `tolerance`
    tolerance: float = Field(0.0, ge=0)

    @field_validator("expect_schema")
    @classmethod
    def _schema_compiles(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import fastjsonschema

            try:
                fastjsonschema.compile(value)
            except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
                raise ValueError(f"not a JSON Schema: {exc}") from None
        return value


class IntegrationTest(Strict):
    """Invoke a stage's endpoint after its deployment succeeds; the next stage waits for a pass."""

    requests: list[SampleRequest] = Field(default_factory=list, max_length=100)
    # s3://bucket/key of a JSON Lines file, one SampleRequest per line (read when the test runs).
    requests_s3_uri: str | None = Field(None, pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$")
    calls_per_request: int = Field(1, ge=1, le=100)  # repeat each request (latency percentiles over all)
    max_p50_ms: float | None = Field(None, gt=0)
    max_p95_ms: float | None = Field(None, gt=0)
    retries: int = Field(2, ge=0, le=5)  # per call, on throttling and timeouts
    budget_seconds: int = Field(30, ge=1, le=40)  # the whole test (the promotion function runs 60 s)

    @model_validator(mode="after")
    def _something_to_send(self) -> IntegrationTest:
        problem = integration_test_problem(self.requests, self.requests_s3_uri)
        if problem:
            raise ValueError(problem)
        return self


class Stage(Strict):
    """One promotion stage (used by promotion): where an approved version goes, and how."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    endpoint: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    # Where the endpoint is (multi-account): a workload account and region, deployed to with that account's
    # promotion role (WorkloadPromotionRoleArns). Default: TargetAccountRoleArn's account, else the
    # registry's; the registry's region.
    account: str | None = Field(None, pattern=r"^[0-9]{12}$")
    region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    instance_type: str = Field("ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=100)
    strategy: Literal["all-at-once", "canary", "linear"] = "canary"
    canary_percent: int = Field(10, ge=1, le=50)
    linear_step_percent: int = Field(20, ge=5, le=50)
    bake_seconds: int = Field(300, ge=0, le=3600)
    rollback_alarms: list[str] = Field(default_factory=list)
    auto_rollback: bool = True
    requires_approval: bool = False
    integration_test: IntegrationTest | None = None


class PromotionPolicy(Strict):
    """How approved versions are promoted through the stages (used by promotion)."""

    # A package Approved outside Steward (console, SDK) has no approval record for that exact package.
    unapproved: Literal["refuse", "deploy-with-warning"] = "refuse"
    # Once stage N succeeds, stage N+1 deploys unless it `requires_approval` (then it gets its own request).
    auto_advance: bool = True
    lock_lease_seconds: int = Field(4 * 3600, ge=300, le=24 * 3600)


class Retraining(Strict):
    """Start a retraining pipeline when monitoring says the model no longer fits (used by monitoring)."""

    enabled: bool = False
    pipeline: str | None = Field(None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
    # PipelineParameters; values may name {endpoint}, {model_package_arn}, {trigger} and {reason}.
    parameters: dict[str, str] = Field(default_factory=dict, max_length=50)
    on_violations: bool = True  # a Model Monitor execution that reports violations
    on_drift: bool = True  # a drift alarm (Model Monitor metric, or one named in `drift_alarms`) in ALARM
    min_violations: int = Field(1, ge=1, le=1000)
    cooldown_minutes: int = Field(24 * 60, ge=0, le=30 * 24 * 60)  # between two starts of the pipeline
    daily_limit: int = Field(1, ge=1, le=50)  # starts of the pipeline in any 24 hours

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for name, text in value.items():
            if not re.fullmatch(r"[A-Za-z0-9\-_]{1,256}", name):
                raise ValueError(f"{name!r} is not a pipeline parameter name")
            if len(text) > 1024:
                raise ValueError(f"{name}: values are at most 1024 characters")
        return value

    @model_validator(mode="after")
    def _pipeline_when_enabled(self) -> Retraining:
        problem = retraining_problem(self.enabled, self.pipeline)
        if problem:
            raise ValueError(problem)
        return self


class MonitoringPolicy(Strict):
    """How Model Monitor results and endpoint alarms are reacted to (used by monitoring)."""

    top_violations: int = Field(5, ge=1, le=20)  # how many violations an alert lists
    # Alarm names that count as drift, besides those on Model Monitor's own metrics.
    drift_alarms: list[str] = Field(default_factory=list)
    retraining: Retraining = Field(default_factory=Retraining)


class GroupPolicy(Strict):
    notifications: Routes | None = None
    approval: ApprovalPolicy | None = None
    stages: list[Stage] = Field(default_factory=list)
    promotion: PromotionPolicy | None = None
    monitoring: MonitoringPolicy | None = None

    @model_validator(mode="after")
    def _unique_stages(self) -> GroupPolicy:
        problem = stages_problem([s.name for s in self.stages], [s.endpoint for s in self.stages])
        if problem:
            raise ValueError(problem)
        return self

    pipelines: list[str] = Field(
        default_factory=list, description="pipelines whose jobs belong to this group"
    )


class Policy(Strict):
    version: int = 1
    default: GroupPolicy
    groups: dict[str, GroupPolicy] = Field(default_factory=dict)
    webhooks: dict[str, Webhook] = Field(default_factory=dict)
    dedupe_window_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)

    def group(self, name: str | None) -> GroupPolicy:
        return self.groups.get(name or "", self.default)

    def routes(self, group: str | None) -> Routes:
        entry = self.group(group)
        return entry.notifications or self.default.notifications or Routes()

    def stages(self, group: str | None) -> list[Stage]:
        return self.group(group).stages or self.default.stages

    def approval(self, group: str | None) -> ApprovalPolicy | None:
        entry = self.group(group)
        return entry.approval or self.default.approval

    def promotion(self, group: str | None) -> PromotionPolicy:
        return self.group(group).promotion or self.default.promotion or PromotionPolicy()

    def monitoring(self, group: str | None) -> MonitoringPolicy:
        return self.group(group).monitoring or self.default.monitoring or MonitoringPolicy()

    def group_of_endpoint(self, endpoint: str | None) -> str | None:
        """The group whose promotion stages deploy to `endpoint` (when nothing recorded says)."""
        for name, entry in self.groups.items():
            if endpoint and any(s.endpoint.lower() == endpoint.lower() for s in entry.stages):
                return name
        return None

    def group_of_pipeline(self, pipeline: str | None) -> str | None:
        for name, entry in self.groups.items():
            if pipeline and pipeline.lower() in (p.lower() for p in entry.pipelines):
                return name
        return None

    def digest_routes(self) -> list[tuple[str | None, Severity, Route]]:
        """(group or None for the default, severity, route) of every route that is sent as a digest."""
        found: list[tuple[str | None, Severity, Route]] = []
        for group, entry in [(None, self.default), *self.groups.items()]:
            for severity in Severity:
                route = entry.notifications.for_severity(severity) if entry.notifications else None
                if route is not None and route.digest:
                    found.append((group, severity, route))
        return found

    @model_validator(mode="after")
    def _webhooks_exist(self) -> Policy:
        problems = [
            problem
            for group, entry in [("default", self.default), *self.groups.items()]
            for severity in Severity
            if entry.notifications and (route := entry.notifications.for_severity(severity))
            for problem in route_problems(group, severity.value, route.digest, route.webhooks, self.webhooks)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self
