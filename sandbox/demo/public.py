"""The public interfaces the demo goes through: the approval request as the store holds it, the registry,
the emailed link, HTTP to the local API (only it), and the `steward` CLI."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import urllib.parse
import urllib.request
from typing import Any

from sandbox.demo.account import ARN, BUCKET, GROUP, now_text
from sandbox.facade import Sandbox
from steward_cli.render import clip


def request_for(sb: Sandbox, package: str) -> dict[str, Any]:
    from steward.approvals.adapters.store import ApprovalStore
    from steward.approvals.models import ApprovalRequest

    store = ApprovalStore(sb.output("LineageTableName"), sb.output("IdempotencyTableName"))
    request = store.get(ApprovalRequest.id_for(package))
    if request is None:
        raise RuntimeError(f"no approval request for {package}")
    return {
        "id": request.id,
        "status": request.status,
        "approvers": request.approvers,
        "gate": request.gate.summary() if request.gate else "-",
        "version": request.version,
        "metrics": request.metrics,
        "production": request.production_metrics,
    }


def status(sb: Sandbox, package: str) -> str:
    return str(sb.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"])


def description(sb: Sandbox, package: str) -> str:
    described = sb.client("sagemaker").describe_model_package(ModelPackageName=package)
    return clip(described.get("ApprovalDescription", ""), 160)


def link_from_email(sb: Sandbox, to: str, package: str) -> str:
    version = package.rsplit("/", 1)[-1]
    for message in sb.outbox:
        if (
            message["channel"] == "email"
            and message["to"] == to
            and f"version {version}" in str(message["subject"])
        ):
            links = [u for u in message.get("links") or [] if "/approvals/" in u]
            if links:
                return str(links[0])
    raise RuntimeError(f"no approval email to {to} for {package}")


def redact(link: str) -> str:
    return link.rsplit("/", 1)[0] + "/<token>"


def _open(target: str | urllib.request.Request, timeout: float) -> Any:
    """The sandbox's local API only (http on 127.0.0.1)."""
    url = target.full_url if isinstance(target, urllib.request.Request) else target
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not the sandbox's API: {url[:80]}")
    return urllib.request.urlopen(target, timeout=timeout)  # noqa: S310 (checked above)


def get(url: str) -> dict[str, Any]:
    with _open(url, 10) as response:
        return {"status": response.status, "body": response.read().decode()}


def page_facts(page: str, request: dict[str, Any]) -> str:
    """What the confirmation page says, checked against the request it was opened for."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    shown = (
        [f"{GROUP} version {request['version']}"] if GROUP in text and str(request["version"]) in text else []
    )
    for name, value in request["metrics"].items():
        if "." in name:
            continue
        production = request["production"].get(name)
        if str(value) in text:
            shown.append(
                f"{name} {value}"
                + (f" vs production {production} ({value - production:+.3f})" if production else "")
            )
    shown += [f"stage {stage}" for stage in ("staging", "prod") if f"churn-{stage}" in text]
    lineage = page.split("<h2>Lineage</h2>", 1)[-1].split("</section>", 1)[0]
    for item in re.findall(r"<li>(.*?)</li>", lineage, flags=re.DOTALL):
        line = html.unescape(item).strip()
        if line.startswith(("trained on ", "training data: ", "pipeline run ")):
            shown.append(line.replace(f"{ARN}:pipeline/", "").replace(f"s3://{BUCKET}/", ""))
    return ", ".join(shown) + (", Approve / Reject buttons" if 'value="approve"' in page else "")


def post_decision(link: str, page: str, decision: str, comment: str) -> str:
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    target = urllib.parse.urljoin(link, html.unescape(action.group(1))) if action else link
    body = urllib.parse.urlencode(
        {**{k: html.unescape(v) for k, v in fields.items()}, "decision": decision, "comment": comment}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (opened through _open: the sandbox's API only)
        target, data=body, method="POST", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    with _open(request, 30) as response:
        title = re.search(r"<h1[^>]*>(.*?)</h1>", response.read().decode(), re.S)
        headline = html.unescape(re.sub("<[^>]+>", "", title.group(1))).strip() if title else ""
        return f"{response.status} “{headline}”"


def ours(sb: Sandbox, endpoint: str) -> list[dict[str, Any]]:
    with _open(f"{sb.api_url}/endpoints/{endpoint}/deployments", 10) as response:
        body = json.loads(response.read())
    mine = [e["steward"] for e in body["items"] if e.get("steward")] + body.get("requests", [])
    return sorted(mine, key=lambda d: d["createdAt"])


def deployment_line(endpoint: str, d: dict[str, Any]) -> str:
    from steward.promotion.integration import summary

    how = d.get("strategy") or "new endpoint"
    extra = f" — {d['failureReason']}" if d.get("failureReason") else ""
    line = (
        f"{endpoint:<14} v{d['version']} ({how}) {d['status']}, approved by "
        f"{', '.join(d.get('approvedBy') or []) or '-'}, config {d.get('endpointConfigName')}{extra}"[:300]
    )
    tested = d.get("integrationTest")
    if tested:
        line += f"\n{'':<15}{summary(tested)}"
        failing = [r for r in tested.get("results") or [] if not r.get("passed")]
        line += "".join(f"\n{'':<17}✘ {r['name']}: {'; '.join(r['problems'])[:160]}" for r in failing[:2])
    return line


def serving_version(sb: Sandbox) -> str:
    from steward_cli.remote import StewardApi

    now = StewardApi(sb.api_url).serving("churn-prod", now_text())
    return ", ".join(f"v{v.get('version')}" for v in now.get("versions") or []) or "?"


def versions_text(answer: dict[str, Any]) -> str:
    versions = answer.get("versions") or []
    names = ", ".join(
        f"{GROUP} v{v.get('version')} ({v.get('status')}, "
        + ("approved by " + ", ".join(v["approvedBy"]) if v.get("approvedBy") else "approved outside Steward")
        + ")"
        for v in versions
    )
    since = str(answer.get("since"))[:19]
    return f"{answer.get('endpointConfigName')} since {since}: {names or 'nothing recorded'}"


def run_cli(steward: Any, argv: list[str]) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = steward(argv)
    return buffer.getvalue() if code == 0 else f"(exit {code}) {buffer.getvalue()}"
