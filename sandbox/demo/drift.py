"""Act 2's monitoring, live on today's version: Model Monitor's hourly run finds violations, the drift alarm
fires, the alerts go out, `steward monitoring` shows it, and retraining starts within the policy's limits."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sandbox.demo.account import EVENTS, now_text, put_json
from sandbox.demo.public import run_cli
from sandbox.facade import Sandbox

if TYPE_CHECKING:
    from sandbox.demo.lifecycle import Narrator


def run_monitoring(sb: Sandbox, say: Narrator) -> dict[str, Any]:
    say.step("Model Monitor's hourly data-quality run on churn-prod finds violations; the drift alarm fires")
    s3 = sb.client("s3")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M")
    base = json.loads((EVENTS / "monitoring" / "completed_with_violations.json").read_text())
    old_name = base["detail"]["ProcessingJobName"]
    name = f"model-monitoring-{stamp}-{secrets.token_hex(12)}"
    # The window's end is written in whole seconds: round up, so a deployment that ended earlier in this
    # second is inside the window (rounding down attributed the result to the version served before).
    now = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    hour, before = now.strftime("%Y/%m/%d/%H"), (now - timedelta(hours=1)).strftime("%Y/%m/%d/%H")
    text = (
        json.dumps(base)
        .replace(old_name, name)
        .replace("2026/11/03/10", hour)
        .replace("2026/11/03/09", before)
        .replace("2026-11-03T10:00:00Z", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .replace("2026-11-03T09:00:00Z", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    )
    execution = json.loads(text)
    execution["id"], execution["time"] = str(uuid.uuid4()), now_text()
    shift = int(now.timestamp() * 1000) - int(base["detail"]["ProcessingEndTime"])
    for field in ("CreationTime", "ProcessingStartTime", "ProcessingEndTime", "LastModifiedTime"):
        if isinstance(execution["detail"].get(field), int | float):
            execution["detail"][field] = int(execution["detail"][field]) + shift
    report = execution["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    violations = json.loads((EVENTS / "monitoring" / "reports" / "violations.json").read_text())
    put_json(s3, f"{report}/constraint_violations.json", violations)
    alarm = json.loads((EVENTS / "cloudwatch_alarm" / "drift_alarm.json").read_text())
    alarm["id"], alarm["time"] = str(uuid.uuid4()), now_text()
    if isinstance(alarm.get("detail", {}).get("state"), dict):
        alarm["detail"]["state"]["timestamp"] = now_text()
    sent = sum(m["channel"] == "email" for m in sb.outbox)
    results = sb.put_events([execution, alarm])
    for event, result in zip((execution, alarm), results, strict=True):
        outcome = "; ".join(
            f"{t['function']}: {(t.get('result') or {}).get('outcome', 'ok') if t['ok'] else 'FAILED'}"
            for t in result["targets"]
        )
        say.say(f"{event['detail-type']}: {outcome}")
    emails = [m for m in sb.outbox if m["channel"] == "email"]  # the outbox lists Slack, then emails
    alerts = [m for m in emails[sent:] if "Monitor" in m["subject"] or "Alarm" in m["subject"]]
    for message in alerts:
        say.say(f"alert → {message['to']}: {message['subject']}")
    from steward_cli import main as steward

    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shown = run_cli(steward, ["monitoring", "churn-prod", "--since", since, "--api-url", sb.api_url])
    say.say("$ steward monitoring churn-prod --since " + since + "\n" + shown.rstrip())
    starts = [c for c in sb.aws_calls if c.endswith("StartPipelineExecution")]
    say.say(
        f"retraining runs started: {sum(sb.aws_calls[c] for c in starts)} "
        "(cooldown and daily limit per policy)"
    )
    return {"execution": execution, "alarm": alarm}
