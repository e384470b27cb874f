"""The approval link routes, as a Powertools router the api function includes.

No IAM on these routes: the signed, expiring, single-use token in the path is the capability. API
Gateway's access log records the route template (`/approvals/{token}`), never the token.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.approvals import page, web

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _deps() -> web.Deps:
    from steward.approvals.wiring import approval_deps  # only the approval routes pay for it

    return approval_deps()


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
