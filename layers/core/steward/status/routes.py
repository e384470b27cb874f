"""GET /status: every endpoint Steward has recorded, its deployments and open approvals, and the DLQs
(IAM-authorised; what `steward status` shows). A Powertools router the api function includes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.kernel import params as check
from steward.kernel.errors import NotFoundError

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

_ENDPOINT = check.obj(
    {
        "endpoint": {"type": "string"},
        "status": {"type": ["string", "null"]},
        "deployments": check.OBJECTS,
        "approvalRequests": check.OBJECTS,
        "attention": {"type": "array", "items": {"type": "string"}},
        "serving": {
            "type": ["object", "null"],
            "description": "The version serving and since when, and who approved it (Steward's deployments)",
        },
        "lastDeployment": {"type": ["object", "null"], "description": "Steward's last ended deployment"},
        "monitoring": {"type": ["object", "null"], "description": "The latest Model Monitor result"},
        "alarms": {"type": "array", "items": {"type": "object"}, "description": "Alarms and their state"},
    }
)


@router.get(
    "/status",
    summary="The whole estate: endpoints, deployments in flight, open approvals, DLQs",
    responses={
        200: check.ok(
            "Every endpoint Steward has recorded (or the one named), with `attention` listing what needs "
            "a look; `ok` is false when anything does.",
            check.obj(
                {
                    "at": {"type": "string"},
                    "endpoints": {"type": "array", "items": _ENDPOINT},
                    "approvalRequests": check.OBJECTS,
                    "dlqs": {
                        "type": "array",
                        "items": check.obj({"name": {"type": "string"}, "depth": {"type": "integer"}}),
                    },
                    "attention": {"type": "array", "items": {"type": "string"}},
                    "ok": {"type": "boolean"},
                }
            ),
        ),
        404: check.refused("No endpoint of that name in the lineage store."),
    },
)
def status(
    endpoint: Annotated[
        str | None,
        Query(
            pattern=check.ENDPOINT_NAME,
            max_length=63,
            description="Only this endpoint (a SageMaker endpoint name).",
            examples=["churn-prod"],
        ),
    ] = None,
    account: check.Account = None,
    region: check.Region = None,
) -> dict[str, Any]:
    from steward.kernel.settings import LineageTables, get_settings
    from steward.lineage.adapters.store import LineageStore
    from steward.status.adapters.estate import estate

    settings = get_settings(LineageTables)
    store = LineageStore(settings.lineage_table, settings.idempotency_table)
    arn = None
    if endpoint is not None:
        parts = router.lambda_context.invoked_function_arn.split(":")
        arn = check.endpoint_id(
            endpoint, check.region(region or parts[3]), check.account(account or parts[4]), "endpoint"
        )
    answer = estate(store, datetime.now(UTC), arn)
    if arn is not None and not answer["endpoints"]:
        raise NotFoundError(f"no endpoint {arn!r} in the lineage store")
    return answer
