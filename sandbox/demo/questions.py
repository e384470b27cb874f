"""The lineage questions of the demo's end, asked of the API as an operator would: what serves now, what
served before the rollback (trained on what, approved by whom), the deployment history, and what differs
between two versions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sandbox.demo.account import ARN, GROUP, now_text, when
from sandbox.demo.public import versions_text
from sandbox.facade import Sandbox

if TYPE_CHECKING:
    from sandbox.demo.lifecycle import Narrator


def questions(sb: Sandbox, say: Narrator, live: dict[str, Any]) -> None:
    from steward_cli.remote import StewardApi

    api = StewardApi(sb.api_url)
    say.act("The lineage questions, asked of the API as an operator would")
    now = api.serving("churn-prod", now_text())
    say.step("What is serving on churn-prod now?")
    say.say(versions_text(now))
    history = api.deployments("churn-prod")
    v5_era = next(
        (
            d
            for d in history["items"]
            if any(v["modelPackageArn"] == live["v5"] for v in d.get("versions") or [])
        ),
        None,
    )
    nxt = (
        history["items"][history["items"].index(v5_era) - 1]
        if v5_era and history["items"].index(v5_era)
        else None
    )
    if v5_era and v5_era.get("endedAt"):
        middle = v5_era["endedAt"] if not nxt or not nxt.get("startedAt") else nxt["startedAt"]
        at = (when(middle) - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        say.step(
            f"What was serving on churn-prod at {at[:23]}Z (before the rollback), trained on what, "
            "approved by whom?"
        )
        then = api.serving("churn-prod", at)
        say.say(versions_text(then))
        for package in then.get("modelPackages", []):
            upstream = api.lineage(package, "upstream", 8)
            has_parent = {e["to"] for e in upstream["edges"]}
            data = sorted(
                n["id"]
                for n in upstream["nodes"]
                if n["kind"] == "dataset" and n.get("role") != "code" and n["id"] not in has_parent
            )
            runs = sorted(n["name"] for n in upstream["nodes"] if n["kind"] == "pipeline-execution")
            say.say(f"trained on: {', '.join(data) or 'unknown'}\npipeline run: {', '.join(runs) or '-'}")
            downstream = api.lineage(package, "downstream", 2)
            approvals = [n for n in downstream["nodes"] if n["kind"] == "approval"]
            for a in approvals:
                say.say(
                    f"approval: {a.get('status')} by {', '.join(a.get('approvedBy') or []) or '-'} "
                    f"(request {a.get('requestId')}, registered by {a.get('registeredBy') or '?'})"
                )
            monitored = [n for n in downstream["nodes"] if n["kind"] == "monitoring-execution"]
            for m in monitored:
                say.say(f"monitoring recorded against it: {m['name']} → {m.get('status')}")
    say.step("What served on churn-prod before, deployment by deployment (newest first)?")
    for d in history["items"][:6]:
        versions = ", ".join(f"v{v.get('version')}" for v in d.get("versions") or []) or "?"
        ours = d.get("steward") or {}
        who = f" — {ours.get('kind')} requested by {ours.get('requestedBy')}" if ours else ""
        say.say(
            f"{(d.get('startedAt') or '?')[:19]:<20} {d['outcome']:<12} {versions:<5} "
            f"{d['endpointConfigName']}{who}"
        )
    from steward_cli.commands import compare_text

    say.step("What differs between the version rolled back to (v3) and the one rolled back from (v5)?")
    say.say(compare_text(api.compare(f"{ARN}:model-package/{GROUP}/3", live["v5"])))
