"""The approval routes, as a Powertools router the api function includes.

No IAM on the link and Slack routes: the signed, expiring, single-use token in the path is the
capability (for Slack, its request signature). API Gateway's access log records the route template
(`/approvals/{token}`), never the token. The operator routes (/approval-requests...) are IAM-authorised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from steward.kernel import params as check
from steward.kernel.errors import ConfigurationError, RefusedError

if TYPE_CHECKING:  # imported by the routes that use them: the api's cold start does not pay for them
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from steward.approvals import web

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _deps() -> web.Deps:
    """The approval use cases' dependencies (what is missing from Steward's configuration raises
    ConfigurationError, which the api answers as a function error)."""
    from steward.approvals.wiring import approval_deps  # only the approval routes pay for it

    return approval_deps()


class OperatorDecision(BaseModel):
    model_config = ConfigDict(defer_build=True)

    decision: Literal["approve", "reject"]
    as_: str = Field(alias="as", min_length=3, max_length=254, description="The approver decided for.")
    comment: str = Field("", max_length=1000)


# An operator's refusal answers what the link's page answers for the same problem (web._PROBLEMS).
_OPERATOR_REFUSALS = {
    "expired": 410,
    "not-allowed": 403,
    "forged": 403,
    "decided": 409,
    "used": 409,
    "retry": 409,
}
Token = Annotated[
    str,
    Path(
        description="The signed link token of the approval email (base64url payload, '.', base64url "
        "signature; at most 2048 characters). Any other value is answered as a forged link (a 403 page).",
        json_schema_extra={"pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", "maxLength": 2048},
    ),
]
RequestId = Annotated[str, Path(pattern=check.UUID, description="An approval request's id (a UUID).")]
_PAGES: dict[int, OpenAPIResponse] = {
    200: check.page_answer(
        "The confirmation page (GET; it decides nothing), or the decision recorded (POST)."
    ),
    403: check.page_answer("The link is forged or altered, or this approver may not decide on this version."),
    409: check.page_answer(
        "The link was already used, the version is already decided, or another decision was being "
        "recorded at the same moment (try again)."
    ),
    410: check.page_answer("The link has expired."),
}
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "decision": {"enum": ["approve", "reject"]},
                        "csrf": {
                            "type": "string",
                            "description": "The confirmation page's anti-forgery value.",
                        },
                        "comment": {"type": "string", "maxLength": 1000},
                    },
                    "required": ["decision", "csrf"],
                }
            }
        },
    }
}
_SLACK = {
    "description": "Slack's interactivity requests (the Approve and Reject buttons), taken only with a "
    "valid Slack signature inside the five-minute window.",
    "parameters": [
        {"name": "X-Slack-Request-Timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": "X-Slack-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "payload": {"type": "string", "description": "Slack's block_actions JSON."}
                    },
                    "required": ["payload"],
                }
            }
        },
    },
}


@router.get(
    "/approval-requests",
    summary="Pending approval requests",
    responses={200: check.ok("The approval requests waiting for decisions.", check.ITEMS)},
)
def approval_requests() -> dict[str, Any]:
    """Pending approval requests (IAM-authorised: operators)."""
    from steward.approvals import service
    from steward.kernel.settings import LineageTables, get_settings
    from steward.lineage.adapters.store import LineageStore

    settings = get_settings(LineageTables)
    pending = service.pending_requests(
        LineageStore(settings.lineage_table, settings.idempotency_table), _deps()
    )
    return {"items": [r.model_dump(mode="json", exclude={"revision"}) for r in pending]}


@router.post(
    "/approval-requests/<request_id>/decisions",
    summary="Record an approver's decision, as an operator",
    responses={
        200: check.ok(
            "Recorded: the request's status and its approvals so far.",
            check.obj(
                {
                    "id": {"type": "string"},
                    "status": {"type": "string"},
                    "approvals": {"type": "array", "items": {"type": "string"}},
                    "quorum": {"type": "integer"},
                }
            ),
        ),
        403: check.refused(
            "`as` may not decide on this version (`not-allowed`: registrant, excluded, not an approver)."
        ),
        404: check.refused("No approval request has that id."),
        409: check.refused(
            "Already decided (`decided`), this approver already decided (`used`), or another decision was "
            "being recorded at the same moment (`retry`)."
        ),
        410: check.refused("The request has expired (`expired`)."),
    },
)
def operator_decision(request_id: RequestId, body: OperatorDecision) -> Response[dict[str, Any]]:
    """An IAM-authenticated operator records an approver's decision; their identity is audited."""
    from steward.approvals import service

    caller = router.current_event.request_context.identity.user_arn
    view = service.decide_as_operator(
        request_id, body.as_, body.decision, body.comment, caller, _deps(), datetime.now(UTC)
    )
    if view.problem or view.request is None:
        problem = view.problem or "refused"
        raise RefusedError(f"refused: {problem}", status=_OPERATOR_REFUSALS.get(problem, 403), error=problem)
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


@router.post(
    "/slack/interactions",
    summary="Slack's buttons",
    openapi_extensions=_SLACK,
    responses={
        200: check.ok(
            "The button's outcome (`outcome`, `text`), or `text` alone for an action Steward ignores.",
            check.obj({"text": {"type": "string"}}, outcome={"type": "string"}),
        ),
        401: check.refused("The Slack signature is missing, wrong, or outside the five-minute window."),
    },
)
def slack_interaction() -> Response[dict[str, Any]]:
    """Slack buttons: accepted only with a valid Slack signature inside the five-minute window."""
    import contextlib
    import json
    import time
    import urllib.parse

    from aws_lambda_powertools.utilities import parameters

    from steward.approvals import service
    from steward.approvals.slack_signature import verify_slack_signature
    from steward.kernel.settings import SlackSecret, get_settings
    from steward.notify.adapters.channels import post_json
    from steward.notify.deliver import DeliveryError

    event = router.current_event
    body = event.decoded_body or ""
    secret = parameters.get_secret(get_settings(SlackSecret).slack_secret_name, transform="json", max_age=300)
    signing = str(secret.get("signing_secret") or "") if isinstance(secret, dict) else ""
    if not signing:
        raise ConfigurationError("the Slack secret holds no signing_secret: no Slack request can be verified")
    timestamp = (
        event.headers.get("X-Slack-Request-Timestamp") or event.headers.get("x-slack-request-timestamp") or ""
    )
    signature = event.headers.get("X-Slack-Signature") or event.headers.get("x-slack-signature") or ""
    if not verify_slack_signature(signing, timestamp, body.encode(), signature, int(time.time())):
        raise RefusedError("invalid or stale Slack signature", status=401, error="Unauthorized")
    try:
        payload = json.loads(urllib.parse.parse_qs(body, max_num_fields=5)["payload"][0])
        action, user = payload["actions"][0], payload["user"]["id"]
        if not isinstance(action, dict):
            raise TypeError("an action is an object")
    except (KeyError, IndexError, ValueError, TypeError, RecursionError):
        raise check.BadRequestError("payload", "not a Slack block action") from None
    if action.get("action_id") not in ("steward_approve", "steward_reject"):
        return Response(200, "application/json", {"text": "Nothing to do."})
    outcome, text = service.decide_by_slack(
        str(action.get("value", "")), str(user), action["action_id"], _deps(), datetime.now(UTC)
    )
    if isinstance(payload.get("response_url"), str):
        with contextlib.suppress(DeliveryError):  # update the original message with the outcome
            post_json(payload["response_url"], {"replace_original": True, "text": text})
    return Response(200, "application/json", {"outcome": outcome, "text": text})


@router.get("/approvals/<token>", summary="An approval link's confirmation page", responses=_PAGES)
def approval_page(token: Token) -> Response[str]:
    # The form posts back to this same URL, relative, so it holds behind a stage prefix (/dev/...) too.
    from steward.approvals import page, web

    status, html = web.get_page(token, _deps(), datetime.now(UTC), action=token)
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))


@router.post(
    "/approvals/<token>",
    summary="An approval link's decision (the confirmation page's form)",
    openapi_extensions=_FORM,
    responses={
        **_PAGES,
        400: check.page_answer("The form is not one the confirmation page sends (over ten fields)."),
        413: check.page_answer("The form is over 8 KB (approvals.web.MAX_FORM_BYTES)."),
    },
)
def approval_decision(token: Token) -> Response[str]:
    from steward.approvals import page, web

    event = router.current_event
    source = event.request_context.identity.source_ip
    status, html = web.post_decision(token, event.decoded_body or "", source, _deps(), datetime.now(UTC))
    return Response(status, "text/html; charset=utf-8", html, headers=dict(page.SECURITY_HEADERS))
