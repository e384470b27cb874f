"""GET /endpoints/{name}/monitoring: an endpoint's recent monitoring results and alarm transitions
(IAM-authorised; what `steward monitoring` shows). A Powertools router the api function includes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.kernel import params as check
from steward.kernel.errors import NotFoundError
from steward.kernel.times import iso_z

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get(
    "/endpoints/<name>/monitoring",
    summary="An endpoint's monitoring results and alarm transitions",
    responses={
        200: check.ok(
            "Newest first, since `since`.",
            check.obj({"endpoint": {"type": "string"}, "since": {"type": "string"}, "items": check.OBJECTS}),
        ),
        404: check.refused("No endpoint of that name in the lineage store."),
    },
)
def endpoint_monitoring(
    name: check.EndpointName,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description=check.TIME_HELP + " Default: the last seven days.",
            examples=["2026-11-01T00:00:00Z"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=check.MAX_PAGE)] = 100,
    account: check.Account = None,
    region: check.Region = None,
) -> dict[str, Any]:
    """Newest first: Model Monitor executions (result, violations, version served) and alarm states."""
    from steward.monitoring.react import since_default  # in the route: the api's cold start skips it
    from steward.monitoring.wiring import monitoring_store

    check.limit(limit)
    arn = router.lambda_context.invoked_function_arn.split(":")
    endpoint = check.endpoint_id(name, check.region(region or arn[3]), check.account(account or arn[4]))
    start = check.timestamp(since, "since") if since else since_default(datetime.now(UTC))
    store = monitoring_store()
    if not store.get_nodes([endpoint]):
        raise NotFoundError(f"no endpoint {endpoint!r} in the lineage store")
    return {"endpoint": endpoint, "since": iso_z(start), "items": store.timeline(endpoint, start, limit)}
