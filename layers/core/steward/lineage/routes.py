"""GET /lineage, /compare and /notifications: the lineage questions and the delivery log (IAM-authorised;
what `steward lineage`, `compare` and `notifications` show). A Powertools router the api function
includes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.kernel import params as check
from steward.kernel.settings import LineageTables, NotificationTable, get_settings
from steward.lineage import compare, query
from steward.lineage.adapters.store import LineageStore
from steward.notify.adapters.store import NotificationStore

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _store() -> LineageStore:
    settings = get_settings(LineageTables)
    return LineageStore(settings.lineage_table, settings.idempotency_table)


@router.get(
    "/lineage",
    summary="What fed, or what came from, a node",
    responses={
        200: check.ok("The nodes and edges within `depth` steps.", check.GRAPH),
        404: check.refused("No lineage node (and no dataset under the S3 prefix) has that id."),
    },
)
def lineage(
    id: check.NodeId,
    direction: Annotated[Literal["upstream", "downstream"], Query()] = "downstream",
    depth: Annotated[int, Query(ge=0, le=check.MAX_DEPTH)] = 3,
) -> dict[str, Any]:
    return query.walk(_store(), check.node_id(id), direction, check.depth(depth))


@router.get(
    "/compare",
    summary="How two model versions differ",
    responses={
        200: check.ok(
            "Both versions' facts and lineage, and the fields where they differ.",
            check.obj(
                {"a": check.obj({"id": {"type": "string"}}), "b": check.obj({"id": {"type": "string"}})},
                differences={"type": "array", "items": check.obj({"field": {"type": "string"}})},
            ),
        ),
        404: check.refused("`a` or `b` is not a model package in the lineage store."),
    },
)
def compare_versions(a: check.NodeId, b: check.NodeId) -> dict[str, Any]:
    return compare.compare_versions(_store(), check.node_id(a, "a"), check.node_id(b, "b"))


@router.get(
    "/notifications",
    summary="The delivery log: every notification attempt",
    responses={200: check.ok("Attempts since `since`, newest first.", check.ITEMS)},
)
def notifications(
    since: Annotated[
        str | None,
        Query(max_length=64, description=check.TIME_HELP + " Default: a day ago.", examples=["2026-11-01"]),
    ] = None,
    failed: Annotated[bool, Query(description="Only the failed attempts.")] = False,
) -> dict[str, Any]:
    start = check.timestamp(since, "since") if since else datetime.now(UTC) - timedelta(days=1)
    return {
        "items": NotificationStore(get_settings(NotificationTable).notifications_table).attempts(
            start, failed_only=failed
        )
    }
