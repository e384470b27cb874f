"""api: Steward's HTTP API behind API Gateway (REST; IAM-authorised except /health, the approval links
and Slack's interactivity endpoint). The features' routers hold their routes; errors become statuses in
steward.api.errors (one exception type per meaning), and /openapi.json is steward.api.openapi's."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward import __version__
from steward.api.errors import answer_error, media_refusal, no_route, proxy_response
from steward.api.openapi import openapi_document
from steward.approvals.routes import router as approval_router
from steward.kernel import params as check
from steward.kernel.handler import lambda_handler
from steward.kernel.observability import metrics
from steward.kernel.settings import (
    ApprovalSettings,
    NotificationTable,
    SlackSecret,
    StageSettings,
    get_settings,
)
from steward.lineage.routes import router as lineage_router
from steward.monitoring.routes import router as monitoring_router
from steward.promotion.routes import router as promotion_router
from steward.report.routes import router as report_router
from steward.status.routes import router as status_router

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(approval_router)  # /approvals/{token} (the link's page and decision), operators, Slack
app.include_router(monitoring_router)  # /endpoints/{name}/monitoring
app.include_router(promotion_router)  # /endpoints/{name}/deployments|serving|rollback
app.include_router(lineage_router)  # /lineage, /compare, /notifications (the delivery log)
app.include_router(status_router)  # /status (the whole estate)
app.include_router(report_router)  # /report (a version's audit report)


@app.get(
    "/health",
    summary="Liveness and version",
    responses={
        200: check.ok(
            "Steward is up.",
            check.obj(
                {"status": {"const": "ok"}, "version": {"type": "string"}, "stage": {"type": "string"}}
            ),
        )
    },
)
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "stage": get_settings(StageSettings).stage}


@app.get(
    "/openapi.json",
    summary="This document",
    responses={
        200: check.ok("The OpenAPI 3.1 document of this API.", check.obj({"openapi": {}, "paths": {}}))
    },
)
def openapi() -> Response[str]:
    return Response(200, "application/json", json.dumps(_openapi()))


@lru_cache(maxsize=1)
def _openapi() -> dict[str, Any]:
    return openapi_document(app)


app.exception_handler(Exception)(lambda exc: answer_error(exc, app.current_event.resource))
app.not_found(lambda _: no_route(app.current_event))

_DECISION_ROUTES = ("/approvals/{token}", "/approval-requests/{request_id}/decisions", "/slack/interactions")


def _counted(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A rollback asked for, or an approval decision recorded or refused, counted from what its route
    answered: 2xx recorded, 4xx refused (a 5xx is counted as DependencyFailures or a function error)."""
    status, resource = int(response.get("statusCode") or 500), event.get("resource")
    if event.get("httpMethod") != "POST" or status >= 500:
        return response
    if resource == "/endpoints/{name}/rollback" and status == 202:
        metrics.add_metric(name="RollbackRequested", unit=MetricUnit.Count, value=1)
    elif resource in _DECISION_ROUTES:
        outcome = "refused" if status >= 300 else "recorded"
        if resource == "/slack/interactions" and status < 300:  # answered 200 either way: the body says
            outcome = json.loads(response["body"]).get("outcome")  # none: a button Steward ignores
        if outcome is not None:
            name = "ApprovalDecisionRecorded" if outcome == "recorded" else "ApprovalDecisionRefused"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return response


class Settings(StageSettings, NotificationTable, SlackSecret, ApprovalSettings):
    """What the API reads from its environment (template.yaml sets each): its routes' stores and queues,
    Slack's signing secret, the approval signing key (it makes no links: no API_BASE_URL)."""


@lambda_handler(Settings, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # 413 over 256 KB; 400 for a body not UTF-8, or deep JSON; 415 for another media type than the route's
    refusal = check.body_refusal(event) or media_refusal(event)
    return _counted(event, proxy_response(refusal) if refusal else app.resolve(event, context))
