"""GET /report: the audit report of one model version (IAM-authorised; what `steward report` writes).
HTML by default, one self-contained file; `format=json` gives the data it renders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from steward.kernel import params as check
from steward.kernel.arns import sagemaker_arn

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
        str | None,
        Query(
            min_length=5,
            max_length=2048,
            pattern=check.NODE_ID,
            description="The model package (version) ARN; or name it by `group` and `version`.",
            examples=["arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"],
        ),
    ] = None,
    group: Annotated[
        str | None,
        Query(
            pattern=check.ENDPOINT_NAME,  # a model package group's name follows the same rule
            max_length=63,
            description="The model package group, with `version`: that version in this stack's registry.",
            examples=["churn-models"],
        ),
    ] = None,
    version: Annotated[
        int | None, Query(ge=1, le=999_999_999, description="The version, with `group`.")
    ] = None,
    format: Annotated[Literal["html", "json"], Query(description="html (default) or json")] = "html",
) -> Response[Any]:
    from steward.approvals.adapters.store import ApprovalStore
    from steward.kernel.settings import LineageTables, get_settings
    from steward.lineage.adapters.store import LineageStore
    from steward.report.html import CSP, report_html
    from steward.report.service import audit_report

    arn = _package_arn(package, group, version)
    if not arn.startswith("arn:") or ":model-package/" not in arn:
        raise check.BadRequestError("package", f"{arn[:80]!r} is not a model package ARN")
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


def _package_arn(package: str | None, group: str | None, version: int | None) -> str:
    """The ARN asked for: `package`, or `group` and `version` in the registry of this stack's account and
    region (the function's own ARN says which)."""
    if package is not None:
        if group is not None or version is not None:
            raise check.BadRequestError("package", "name the version by its ARN or its group and version")
        return check.node_id(package, "package")
    if group is None or version is None:
        field = "version" if group is not None else "group" if version is not None else "package"
        raise check.BadRequestError(field, "the model package ARN, or both group and version, are required")
    parts = router.lambda_context.invoked_function_arn.split(":")
    return sagemaker_arn(parts[3], parts[4], "model-package", f"{group}/{version}", parts[1])
