"""GET /endpoints/{name}/monitoring: an endpoint's recent monitoring results and alarm transitions
(IAM-authorised; what `steward monitoring` shows). A Powertools router the api function includes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.errors import NotFoundError
from steward.lineage import api_support as check
from steward.lineage.keys import iso_z

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get("/endpoints/<name>/monitoring")
def endpoint_monitoring(
    name: str,
    since: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query()] = 100,
    account: Annotated[str | None, Query(max_length=20)] = None,
    region: Annotated[str | None, Query(max_length=30)] = None,
) -> dict[str, Any]:
    """Newest first: Model Monitor executions (result, violations, version served) and alarm states."""
    from steward.monitoring.react import since_default  # in the route: the api's cold start skips it
    from steward.monitoring.wiring import monitoring_store

    if not 1 <= limit <= 500:
        raise check.BadRequestError(f"limit: {limit} is out of range 1..500")
    arn = router.lambda_context.invoked_function_arn.split(":")
    endpoint = check.endpoint_id(name, check.region(region or arn[3]), check.account(account or arn[4]))
    try:
        start = check.timestamp(since) if since else since_default(datetime.now(UTC))
    except check.BadRequestError as exc:
        raise check.BadRequestError(f"since: {str(exc).split(': ', 1)[-1]}") from None
    store = monitoring_store()
    if not store.get_nodes([endpoint]):
        raise NotFoundError(f"no endpoint {endpoint!r} in the lineage store")
    return {"endpoint": endpoint, "since": iso_z(start), "items": store.timeline(endpoint, start, limit)}
