"""The approval link routes, as a Powertools router the api function includes.

No IAM on these routes: the signed, expiring, single-use token in the path is the capability. API
Gateway's access log records the route template (`/approvals/{token}`), never the token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

if TYPE_CHECKING:  # imported by the routes that use them: the api's cold start does not pay for them
    from steward.approvals import web

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
    from steward.approvals import service
    from steward.settings import get_settings

    settings = get_settings()
    pending = service.pending_requests(
        LineageStore(settings.lineage_table, settings.idempotency_table), _deps()
    )
    return {"items": [r.model_dump(mode="json", exclude={"revision"}) for r in pending]}


@router.post("/approval-requests/<request_id>/decisions")
def operator_decision(request_id: str, body: OperatorDecision) -> Response[dict[str, Any]]:
    """An IAM-authenticated operator records an approver's decision; their identity is audited."""
    from steward.approvals import service

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


@router.post("/slack/interactions", include_in_schema=False)
def slack_interaction() -> Response[dict[str, Any]]:
    """Slack buttons: accepted only with a valid Slack signature inside the five-minute window."""
    import contextlib
    import json
    import time
    import urllib.parse

    from aws_lambda_powertools.utilities import parameters

    from steward.adapters.channels import post_json
    from steward.approvals import service
    from steward.approvals.slack_signature import verify_slack_signature
    from steward.notify.deliver import DeliveryError
    from steward.settings import get_settings

    event = router.current_event
    body = event.decoded_body or ""
    secret = parameters.get_secret(get_settings().slack_secret_name, transform="json", max_age=300)
    signing = str((secret or {}).get("signing_secret", "")) if isinstance(secret, dict) else ""
    timestamp = (
        event.headers.get("X-Slack-Request-Timestamp") or event.headers.get("x-slack-request-timestamp") or ""
    )
    signature = event.headers.get("X-Slack-Signature") or event.headers.get("x-slack-signature") or ""
    if not signing or not verify_slack_signature(
        signing, timestamp, body.encode(), signature, int(time.time())
    ):
        return Response(401, "application/json", {"error": "invalid or stale Slack signature"})
    try:
        payload = json.loads(urllib.parse.parse_qs(body, max_num_fields=5)["payload"][0])
        action, user = payload["actions"][0], payload["user"]["id"]
        if not isinstance(action, dict):
            raise TypeError("an action is an object")
    except (KeyError, IndexError, ValueError, TypeError, RecursionError):
        return Response(400, "application/json", {"error": "not a Slack block action"})
    if action.get("action_id") not in ("steward_approve", "steward_reject"):
        return Response(200, "application/json", {"text": "Nothing to do."})
    outcome, text = service.decide_by_slack(
        str(action.get("value", "")), str(user), action["action_id"], _deps(), datetime.now(UTC)
    )
    if isinstance(payload.get("response_url"), str):
        with contextlib.suppress(DeliveryError):  # update the original message with the outcome
            post_json(payload["response_url"], {"replace_original": True, "text": text})
    return Response(200, "application/json", {"outcome": outcome, "text": text})


@router.get("/approvals/<token>", include_in_schema=False)
def approval_page(token: str) -> Response[str]:
    # The form posts back to this same URL, relative, so it holds behind a stage prefix (/dev/...) too.
    from steward.approvals import page, web

    status, html = web.get_page(token, _deps(), datetime.now(UTC), action=token)
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))


@router.post("/approvals/<token>", include_in_schema=False)
def approval_decision(token: str) -> Response[str]:
    from steward.approvals import page, web

    event = router.current_event
    source = event.request_context.identity.source_ip
    status, html = web.post_decision(token, event.decoded_body or "", source, _deps(), datetime.now(UTC))
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))
