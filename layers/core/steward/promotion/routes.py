"""Promotion's API routes (IAM-authorised): an endpoint's deployment history (naming Steward's own
deployments: who asked, which approval, which strategy), what it served at a time, and rollbacks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from steward.kernel import params as check
from steward.kernel.errors import NotFoundError
from steward.kernel.settings import LineageTables, PromotionQueue, get_settings
from steward.promotion.models import RollbackCommand

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


class RollbackBody(BaseModel):
    model_config = ConfigDict(defer_build=True)

    to_version: int | None = Field(
        None, alias="toVersion", ge=1, description="The version to redeploy. Default: the one served before."
    )
    reason: str = Field(min_length=3, max_length=1000, description="Why: kept with the rollback's record.")


def enqueue_rollback(endpoint_arn: str, body: RollbackBody, caller: str, queue_url: str) -> RollbackCommand:
    from steward.kernel.aws.queue import JsonQueue

    command = RollbackCommand(
        request_id=uuid.uuid4().hex,
        endpoint_arn=endpoint_arn,
        to_version=body.to_version,
        requested_by=caller,
        reason=body.reason,
        at=datetime.now(UTC),
    )
    JsonQueue(queue_url).send(command)
    return command


def merge_history(history: list[dict[str, Any]], ours: list[Any]) -> dict[str, Any]:
    """Each history entry gains `steward` (the deployment Steward ran for that config), and Steward's
    deployments that never reached the endpoint (queued, refused) are listed under `requests`."""
    by_config = {d.config_name: d for d in ours if d.config_name}
    for entry in history:
        mine = by_config.pop(entry.get("endpointConfigName"), None)
        if mine is not None:
            entry["steward"] = mine.summary()
    return {"requests": [d.summary() for d in ours if d.config_name in by_config or not d.config_name]}


def _endpoint(name: str, account: str | None, region: str | None) -> str:
    """An endpoint name in this account and region, unless ?account=&region= name another (forwarded)."""
    arn = router.lambda_context.invoked_function_arn.split(":")
    return check.endpoint_id(name, check.region(region or arn[3]), check.account(account or arn[4]))


def _lineage() -> Any:
    from steward.lineage.adapters.store import LineageStore

    settings = get_settings(LineageTables)
    return LineageStore(settings.lineage_table, settings.idempotency_table)


def _deployments(endpoint: str) -> list[Any]:
    from steward.promotion.adapters.store import DeploymentStore

    return DeploymentStore(get_settings(LineageTables).lineage_table).for_endpoint(endpoint)


UNKNOWN_ENDPOINT = "Steward never recorded that endpoint: no lineage and no deployment of its own."
_DEPLOYMENT = check.obj(
    {
        "id": {"type": "string"},
        "endpointConfigName": {"type": ["string", "null"]},
        "outcome": {"type": "string"},
        "versions": check.OBJECTS,
    }
)


@router.get(
    "/endpoints/<name>/deployments",
    summary="Every deployment of an endpoint, newest first",
    responses={
        200: check.ok(
            "The endpoint's deployments (from its status history; `steward` marks Steward's own) and "
            "Steward's requests that never reached it (`requests`: queued, refused).",
            check.obj(
                {
                    "endpoint": {"type": "string"},
                    "requests": check.OBJECTS,
                    "items": {"type": "array", "items": _DEPLOYMENT},
                    "next": {"type": ["string", "null"]},
                }
            ),
        ),
        404: check.refused(UNKNOWN_ENDPOINT),
    },
)
def endpoint_deployments(
    name: check.EndpointName,
    limit: Annotated[int, Query(ge=1, le=check.MAX_PAGE)] = 50,
    next: Annotated[str | None, Query(max_length=256, description="The previous page's `next`.")] = None,
    account: check.Account = None,
    region: check.Region = None,
) -> dict[str, Any]:
    from steward.lineage import deployments

    endpoint = _endpoint(name, account, region)
    ours = _deployments(endpoint)
    try:
        history = deployments.deployment_history(_lineage(), endpoint)
    except NotFoundError:
        if not ours:
            raise
        history = []  # never created (every deployment Steward asked for was refused): still Steward's
    requests = merge_history(history, ours)
    return {
        "endpoint": endpoint,
        **requests,
        **check.page(list(reversed(history)), limit, next),
    }  # newest first


@router.get(
    "/endpoints/<name>/serving",
    summary="What an endpoint served at a time",
    responses={
        200: check.ok(
            "The endpoint config it served at `at` (null before its first), its models and versions.",
            check.obj(
                {
                    "endpoint": {"type": "string"},
                    "at": {"type": "string"},
                    "endpointConfigName": {"type": ["string", "null"]},
                    "models": {"type": "array", "items": {"type": "string"}},
                    "modelPackages": {"type": "array", "items": {"type": "string"}},
                }
            ),
        ),
        404: check.refused("No endpoint of that name in the lineage store."),
    },
)
def endpoint_serving(
    name: check.EndpointName,
    at: Annotated[str, Query(max_length=64, description=check.TIME_HELP, examples=["2026-11-03T14:00:00Z"])],
    account: check.Account = None,
    region: check.Region = None,
) -> dict[str, Any]:
    from steward.lineage import deployments

    return deployments.serving_at(_lineage(), _endpoint(name, account, region), check.timestamp(at))


@router.post(
    "/endpoints/<name>/rollback",
    summary="Roll an endpoint back",
    status_code=202,
    responses={
        202: check.ok(
            "Queued: the promotion function redeploys the version (or refuses, and records why); follow "
            "it in the endpoint's deployments (`rollbackRequest` is `request_id`).",
            check.obj(
                {
                    "action": {"const": "rollback"},
                    "request_id": {"type": "string"},
                    "endpoint_arn": {"type": "string"},
                    "to_version": {"type": ["integer", "null"]},
                    "requested_by": {"type": "string"},
                    "reason": {"type": "string"},
                    "at": {"type": "string"},
                    "status": {"const": "queued"},
                    "endpoint": {"type": "string"},
                }
            ),
        ),
        404: check.refused(UNKNOWN_ENDPOINT),
    },
)
def rollback(
    name: check.EndpointName, body: RollbackBody, account: check.Account = None, region: check.Region = None
) -> Response[dict[str, Any]]:
    """Redeploy the previous (or named) version; recorded as a rollback with the caller's identity."""
    event = router.current_event
    endpoint_arn = _endpoint(name, account, region)
    queue_url = get_settings(PromotionQueue).promotion_queue_url  # required: set, not empty
    if not _lineage().get_nodes([endpoint_arn]) and not _deployments(endpoint_arn):
        raise NotFoundError(f"no endpoint {endpoint_arn!r}: Steward never recorded it")
    caller = event.request_context.identity.user_arn or "unknown caller"
    command = enqueue_rollback(endpoint_arn, body, caller, queue_url)
    return Response(
        202,
        "application/json",
        json.loads(command.model_dump_json()) | {"status": "queued", "endpoint": endpoint_arn},
    )
