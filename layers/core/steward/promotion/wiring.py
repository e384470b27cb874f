"""Builds promotion's dependencies from settings."""

from __future__ import annotations

from typing import Any

from steward.approvals.adapters.store import ApprovalStore
from steward.kernel.settings import LineageTables, PromotionSettings, get_settings
from steward.lineage.adapters.store import LineageStore
from steward.notify.adapters.outbox import notification_queue
from steward.promotion.adapters.endpoints import Endpoints
from steward.promotion.adapters.store import DeploymentStore
from steward.promotion.service import Deps


def _stage_approvals(policy: Any) -> Any:
    """The approval gate's use case, for stages marked `requires_approval` (needs the signing key)."""

    def request(done: Any, stage: Any, index: int) -> dict[str, Any]:
        from datetime import UTC, datetime

        from steward.approvals.service import open_stage_request
        from steward.approvals.wiring import approval_deps
        from steward.promotion.integration import summary

        tested = done.integration_test
        evidence = [f"{summary(tested)} on {done.stage} ({done.endpoint})"] if tested else []
        return open_stage_request(
            done.package_arn,
            stage.name,
            done.approval_request,
            policy,
            approval_deps(),
            datetime.now(UTC),
            evidence=evidence,
        )

    return request


def _endpoints_in(home: Endpoints, s: PromotionSettings) -> Any:
    """SageMaker of an account and region: that account's promotion role (WorkloadPromotionRoleArns, or
    TargetAccountRoleArn), or this function's own credentials in its own account; None for another
    account without a role."""
    roles = s.workload_promotion_roles
    target = s.target_role_arn or None
    target_account = target.split(":")[4] if target else None
    made: dict[tuple[str, str], Endpoints] = {}

    def endpoints_in(account: str, region: str) -> Endpoints | None:
        if account not in roles and account == (target_account or s.account_id) and region == s.region:
            return home  # the account and region `home` already calls in
        role = roles.get(account) or (target if account == target_account else None)
        if role is None and account != s.account_id:
            return None  # another account, and no role there
        if (account, region) not in made:
            made[(account, region)] = Endpoints(region=region, role_arn=role)
        return made[(account, region)]

    return endpoints_in


def promotion_deps(policy: Any = None) -> Deps:
    s = get_settings(PromotionSettings)
    home = Endpoints(role_arn=s.target_role_arn or None)
    return Deps(
        store=DeploymentStore(s.lineage_table),
        endpoints=home,
        endpoints_in=_endpoints_in(home, s),
        default_account=s.target_role_arn.split(":")[4] if s.target_role_arn else None,
        approvals=ApprovalStore(s.lineage_table, s.idempotency_table),
        lineage=LineageStore(s.lineage_table, s.idempotency_table),
        outbox=notification_queue(s.notification_queue_url),
        execution_role_arn=s.model_execution_role_arn,
        name_prefix=s.managed_name_prefix,
        request_stage_approval=_stage_approvals(policy) if policy is not None else None,
    )


def history_reader() -> Any:
    s = get_settings(LineageTables)
    store = LineageStore(s.lineage_table, s.idempotency_table)

    def history(endpoint_arn: str) -> list[dict[str, Any]]:
        from steward.kernel.errors import NotFoundError
        from steward.lineage.deployments import deployment_history

        try:
            return deployment_history(store, endpoint_arn)
        except NotFoundError:
            return []

    return history


def worklist() -> LineageStore:
    """Deployments not yet ended, from the lineage store's index of active records."""
    s = get_settings(LineageTables)
    return LineageStore(s.lineage_table, s.idempotency_table)
