"""api: Steward's HTTP API behind API Gateway (REST; IAM-authorised except /health)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward import __version__
from steward.adapters.lineage_store import LineageStore
from steward.adapters.notification_store import NotificationStore
from steward.approvals.routes import router as approval_router
from steward.errors import NotFoundError
from steward.lineage import api_support as check
from steward.lineage import compare, query
from steward.monitoring.routes import router as monitoring_router
from steward.observability import logger, metrics, tracer
from steward.promotion.routes import router as promotion_router
from steward.settings import get_settings

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(approval_router)  # /approvals/{token}: the link's page (GET) and decision (POST)
app.include_router(monitoring_router)  # /endpoints/{name}/monitoring
app.include_router(promotion_router)  # /endpoints/{name}/deployments|serving|rollback


def _store() -> LineageStore:
    settings = get_settings()
    return LineageStore(settings.lineage_table, settings.idempotency_table)


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "stage": get_settings().stage}


@app.get("/lineage")
def lineage(
    id: Annotated[str, Query(min_length=5, max_length=2048)],
    direction: Annotated[str, Query()] = "downstream",
    depth: Annotated[int, Query()] = 3,
) -> dict[str, Any]:
    return query.walk(_store(), check.node_id(id), check.direction(direction), check.depth(depth))


@app.get("/compare")
def compare_versions(
    a: Annotated[str, Query(max_length=2048)], b: Annotated[str, Query(max_length=2048)]
) -> dict[str, Any]:
    return compare.compare_versions(_store(), check.node_id(a), check.node_id(b))


@app.get("/notifications")
def notifications(
    since: Annotated[str | None, Query(max_length=64)] = None, failed: bool = False
) -> dict[str, Any]:
    start = check.timestamp(since) if since else datetime.now(UTC) - timedelta(days=1)
    return {
        "items": NotificationStore(get_settings().notifications_table).attempts(start, failed_only=failed)
    }


@app.get("/openapi.json")
def openapi() -> Response[str]:
    return Response(
        200, "application/json", app.get_openapi_json_schema(title="Steward API", version=__version__)
    )


@app.exception_handler(check.BadRequestError)
def bad_request(exc: check.BadRequestError) -> Response[dict[str, Any]]:
    return Response(400, "application/json", {"error": "BadRequest", "message": str(exc)})


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[dict[str, Any]]:
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()]
    return Response(400, "application/json", {"error": "BadRequest", "message": "; ".join(problems)})


@app.exception_handler(NotFoundError)
def not_found(exc: NotFoundError) -> Response[dict[str, Any]]:
    return Response(404, "application/json", {"error": "NotFound", "message": str(exc)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check.refuse_body(event) or app.resolve(event, context)  # 413 over 256 KB, 400 for deep JSON
