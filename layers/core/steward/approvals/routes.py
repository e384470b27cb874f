"""The approval link routes, as a Powertools router the api function includes.

No IAM on these routes: the signed, expiring, single-use token in the path is the capability. API
Gateway's access log records the route template (`/approvals/{token}`), never the token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from steward.approvals import page, service, web

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _deps() -> web.Deps:
    from steward.approvals.wiring import approval_deps  # only the approval routes pay for it

    return approval_deps()


class OperatorDecision(BaseModel):
    decision: Literal["approve", "reject"]
    as_: str = Field(alias="as", min_length=3, max_length=254)
    comment: str = Field("", max_length=1000)


@router.get("/approval-requests")
def approval_requests() -> dict[str, Any]:
    """Pending approval requests (IAM-authorised: operators)."""
    from steward.adapters.lineage_store import LineageStore
    from steward.settings import get_settings

    settings = get_settings()
    pending = service.pending_requests(
        LineageStore(settings.lineage_table, settings.idempotency_table), _deps()
    )
    return {"items": [r.model_dump(mode="json", exclude={"revision"}) for r in pending]}


@router.post("/approval-requests/<request_id>/decisions")
def operator_decision(request_id: str, body: OperatorDecision) -> Response[dict[str, Any]]:
    """An IAM-authenticated operator records an approver's decision; their identity is audited."""
    caller = router.current_event.request_context.identity.user_arn
    view = service.decide_as_operator(
        request_id, body.as_, body.decision, body.comment, caller, _deps(), datetime.now(UTC)
    )
    if view.problem or view.request is None:
        return Response(
            409 if view.problem in ("decided", "used", "retry") else 403,
            "application/json",
            {"error": view.problem, "message": f"refused: {view.problem}"},
        )
    return Response(
        200,
        "application/json",
        {
            "id": view.request.id,
            "status": view.request.status,
            "approvals": view.request.approvals(),
            "quorum": view.request.quorum,
        },
    )


@router.get("/approvals/<token>", include_in_schema=False)
def approval_page(token: str) -> Response[str]:
    status, html = web.get_page(token, _deps(), datetime.now(UTC), action=router.current_event.path)
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))


@router.post("/approvals/<token>", include_in_schema=False)
def approval_decision(token: str) -> Response[str]:
    event = router.current_event
    source = event.request_context.identity.source_ip
    status, html = web.post_decision(token, event.decoded_body or "", source, _deps(), datetime.now(UTC))
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))
