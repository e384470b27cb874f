"""GET /report: the audit report of one model version (IAM-authorised; what `steward report` writes).
HTML by default, one self-contained file; `format=json` gives the data it renders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.kernel import params as check

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Disposition": "inline",
}


@router.get(
    "/report",
    summary="The audit report of a model version: lineage, code, gate, approvals, deployments, monitoring",
    responses={
        200: {
            "description": "One self-contained HTML document (no script, no external asset), or its data "
            "as JSON with `format=json`.",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": check.obj(
                        {
                            "package": check.obj({"id": {"type": "string"}}),
                            "approvals": check.OBJECTS,
                            "deployments": check.OBJECTS,
                            "monitoring": check.OBJECTS,
                        }
                    )
                },
            },
        },
        404: check.refused("No model package of that ARN in the lineage store."),
    },
)
def report(
    package: Annotated[
        str,
        Query(
            min_length=5,
            max_length=2048,
            pattern=check.NODE_ID,
            description="The model package (version) ARN.",
            examples=["arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"],
        ),
    ],
    format: Annotated[Literal["html", "json"], Query(description="html (default) or json")] = "html",
) -> Response[Any]:
    from steward.approvals.adapters.store import ApprovalStore
    from steward.kernel.settings import LineageTables, get_settings
    from steward.lineage.adapters.store import LineageStore
    from steward.report.html import CSP, report_html
    from steward.report.service import audit_report

    arn = check.node_id(package, "package")
    if not arn.startswith("arn:") or ":model-package/" not in arn:
        raise check.BadRequestError("package", f"{package[:80]!r} is not a model package ARN")
    settings = get_settings(LineageTables)
    answer = audit_report(
        LineageStore(settings.lineage_table, settings.idempotency_table),
        ApprovalStore(settings.lineage_table, settings.idempotency_table),
        arn,
        datetime.now(UTC),
    )
    if format == "json":
        return Response(200, "application/json", answer, headers={"Cache-Control": "no-store"})
    headers = {**_HEADERS, "Content-Security-Policy": CSP}
    return Response(200, "text/html; charset=utf-8", report_html(answer), headers=headers)
