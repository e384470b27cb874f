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
from pydantic import BaseModel, Field

from steward.lineage import api_support as check
from steward.promotion.models import RollbackCommand
from steward.settings import get_settings

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


class RollbackBody(BaseModel):
    to_version: int | None = Field(None, alias="toVersion", ge=1)
    reason: str = Field(min_length=3, max_length=1000)


def enqueue_rollback(endpoint_arn: str, body: RollbackBody, caller: str, queue_url: str) -> RollbackCommand:
    from steward.adapters.clients import client

    command = RollbackCommand(
        request_id=uuid.uuid4().hex,
        endpoint_arn=endpoint_arn,
        to_version=body.to_version,
        requested_by=caller,
        reason=body.reason,
        at=datetime.now(UTC),
    )
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=command.model_dump_json())
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


def _endpoint(name: str) -> str:
    """An endpoint name in this account and region, unless ?account=&region= name another (forwarded)."""
    arn = router.lambda_context.invoked_function_arn.split(":")
    params = router.current_event.query_string_parameters or {}
    return check.endpoint_id(
        name, check.region(params.get("region", arn[3])), check.account(params.get("account", arn[4]))
    )


def _lineage() -> Any:
    from steward.adapters.lineage_store import LineageStore

    settings = get_settings()
    return LineageStore(settings.lineage_table, settings.idempotency_table)


@router.get("/endpoints/<name>/deployments")
def endpoint_deployments(
    name: str, limit: Annotated[int, Query()] = 50, next: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    from steward.adapters.deployment_store import DeploymentStore
    from steward.lineage import deployments

    endpoint = _endpoint(name)
    history = deployments.deployment_history(_lineage(), endpoint)
    requests = merge_history(history, DeploymentStore(get_settings().lineage_table).for_endpoint(endpoint))
    return {
        "endpoint": endpoint,
        **requests,
        **check.page(list(reversed(history)), limit, next),
    }  # newest first


@router.get("/endpoints/<name>/serving")
def endpoint_serving(name: str, at: Annotated[str, Query(max_length=64)]) -> dict[str, Any]:
    from steward.lineage import deployments

    return deployments.serving_at(_lineage(), _endpoint(name), check.timestamp(at))


@router.post("/endpoints/<name>/rollback")
def rollback(name: str, body: RollbackBody) -> Response[dict[str, Any]]:
    """Redeploy the previous (or named) version; recorded as a rollback with the caller's identity."""
    event = router.current_event
    endpoint_arn = _endpoint(name)
    caller = event.request_context.identity.user_arn or "unknown caller"
    command = enqueue_rollback(endpoint_arn, body, caller, get_settings().promotion_queue_url)
    return Response(
        202,
        "application/json",
        json.loads(command.model_dump_json()) | {"status": "queued", "endpoint": endpoint_arn},
    )
