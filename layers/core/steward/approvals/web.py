"""HTTP side of approval links: pages for GET, decisions for POST (used by the api function)."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

from steward.approvals import evidence, page
from steward.approvals.service import Deps, LinkView, decide_by_link, view_link

__all__ = ["Deps", "forged_page", "get_page", "post_decision"]

MAX_FORM_BYTES = 8 * 1024
_PROBLEMS = {
    "forged": (
        "This link is not valid",
        "It was not issued by Steward or has been altered. Nothing was changed.",
        403,
    ),
    "expired": ("This link has expired", "The approval window is over. Nothing was changed.", 410),
    "used": ("This link was already used", "Each link decides once. Nothing was changed.", 409),
    "decided": (
        "Already decided",
        "This version was already approved or rejected. Nothing was changed.",
        409,
    ),
    "not-allowed": (
        "You cannot decide on this version",
        "Whoever registered a version (or is excluded by the policy) cannot approve it.",
        403,
    ),
    "retry": ("Please try again", "Another decision was being recorded at the same moment.", 409),
}


def _page_for_problem(view: LinkView) -> tuple[int, str]:
    title, message, status = _PROBLEMS.get(view.problem or "forged", _PROBLEMS["forged"])
    if view.problem == "decided" and view.request is not None:
        request = view.request
        message = f"Version {request.version} of {request.group} is {request.status}. Nothing was changed."
    return status, page.message_page(title, message, status="error" if status >= 403 else "info")


def forged_page() -> tuple[int, str]:
    """The page of a link that is no token Steward issued (the api answers it for a token its router
    cannot even match, a control character in the path, without reading any key)."""
    return _page_for_problem(LinkView(None, None, "forged"))


def get_page(token: str, deps: Deps, now: datetime, action: str) -> tuple[int, str]:
    view = view_link(token, deps, now)
    if view.problem or view.request is None or view.claims is None or view.csrf is None:
        return _page_for_problem(view)
    request = view.request
    metrics = []
    for check in request.gate.checks if request.gate else []:
        metrics.append(
            {
                "name": check.metric,
                "value": check.value,
                "production": check.production,
                "difference": check.difference,
                "threshold": check.rule,
                "passed": check.passed,
            }
        )
    return 200, page.confirmation_page(
        group=request.group,
        version=request.version or "?",
        package_arn=request.package_arn,
        registered_by=request.registered_by,
        description=request.description,
        metrics=metrics,
        lineage_summary=[
            *request.lineage,
            f"artifact {request.artifact_uri}" if request.artifact_uri else "artifact unknown",
            *[f"image digest {d}" for d in request.image_digests],
        ],
        deployment_plan=request.target_stages
        or ["the model registry marks this exact package Approved (no promotion stages in the policy)"],
        approver=view.claims.approver,
        expires_at_iso=request.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),  # as the email says
        form_action=action,
        csrf=view.csrf,
        approvals_so_far=request.approvals(),
        quorum=request.quorum,
        data_checks=evidence.lines(request.evidence),
    )


def post_decision(token: str, body: str, source: str | None, deps: Deps, now: datetime) -> tuple[int, str]:
    if len(body.encode()) > MAX_FORM_BYTES:
        return 413, page.message_page(
            "Too large", "The form was too large. Nothing was changed.", status="error"
        )
    try:
        form = urllib.parse.parse_qs(body, keep_blank_values=True, max_num_fields=10)
    except ValueError:  # over ten fields: no form of Steward's page
        return 400, page.message_page(
            "Not a decision", "The form is not one Steward's page sends. Nothing was changed.", status="error"
        )
    field: dict[str, Any] = {k: v[0] for k, v in form.items() if v}
    view = decide_by_link(
        token,
        str(field.get("decision", "")),
        str(field.get("comment", ""))[:1000],
        str(field.get("csrf", "")),
        source,
        deps,
        now,
    )
    if view.problem or view.request is None:
        return _page_for_problem(view)
    request = view.request
    if request.status == "pending":
        return 200, page.message_page(
            "Decision recorded",
            f"Thank you. {len(request.approvals())} of {request.quorum} approvals so far for version "
            f"{request.version} of {request.group}.",
            status="success",
        )
    return 200, page.message_page(
        "Decision recorded",
        f"Version {request.version} of {request.group} is now {request.status}.",
        status="success",
    )
