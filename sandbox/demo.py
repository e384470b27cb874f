"""`steward local demo`: the whole lifecycle on the embedded sandbox, told in the terminal.

Act 1 replays what the account went through in early November (the recorded churn story). Act 2 is
today, live: the platform team turns on the approval gate and the promotion stages; the nightly pipeline
runs; its version is registered in the embedded registry, gated, approved from the emailed link over
HTTP, promoted to staging then prod with the endpoint lifecycle emulated; a weaker candidate fails the
gate; a staging deployment fails on request; Model Monitor finds violations and the drift alarm fires;
an operator rolls prod back; and the lineage questions are answered through the API.

Only public interfaces are used (events in, HTTP, the `steward` CLI, the sandbox's Python API), so this
file doubles as a worked example of them.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import secrets
import sys
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sandbox.facade import REPO_ROOT, Sandbox
from sandbox.replay import create_sagemaker_resources, load_events
from steward_cli.render import clip

EVENTS = REPO_ROOT / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
GROUP = "churn-models"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
OLD_RUN = "8xq2n4vd1k7m"
OLD_JOBS = ("Vb3kR9sT2q", "Hq7mW2xZ4n", "Lp5nC8vB1x")
APPROVERS = [
    {"email": "alice@example.com", "slack_user_id": "U01ALICE"},
    {"email": "bob@example.com"},
    {"email": "carol@example.com"},
]


class Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.perf_counter()

    def act(self, title: str) -> None:
        self.out.write(f"\n{'═' * 100}\n{title}\n{'═' * 100}\n")

    def step(self, text: str) -> None:
        self.out.write(f"\n▸ {text}\n")

    def say(self, text: str) -> None:
        self.out.write("   " + text.replace("\n", "\n   ") + "\n")
        self.out.flush()


# Staging must answer these before prod is touched (README "Promotion", integration tests).
INTEGRATION_TEST: dict[str, Any] = {
    "requests": [
        {
            "name": "a loyal customer",
            "content_type": "text/csv",
            "body": "42,0,1,118.5,3",
            "expect_content_type": "application/json",
            "expect_schema": {
                "type": "object",
                "required": ["churn_probability"],
                "properties": {"churn_probability": {"type": "number", "minimum": 0, "maximum": 1}},
            },
        },
        {
            "name": "a customer about to leave",
            "content_type": "text/csv",
            "body": "3,4,0,12.0,9",
            "expect": {"churn_probability": 0.91},
            "tolerance": 0.05,
        },
    ],
    "calls_per_request": 5,
    "max_p95_ms": 500,
}


def churn_model(faulty: set[str]) -> Any:
    """What the churn endpoints answer in the sandbox: a score per CSV row; versions in `faulty` crash."""
    from sandbox.endpoint_models import Invocation, ModelReply

    def model(invocation: Invocation) -> ModelReply:
        if invocation.model_package in faulty:
            return ModelReply("KeyError: 'tenure_bucket' (feature missing from the serving container)", 500)
        row = invocation.body.decode().split(",")
        score = 0.91 if len(row) > 4 and float(row[4]) >= 5 else 0.12
        return ModelReply({"churn_probability": score}, content_type="application/json", latency_ms=2)

    return model


def demo_policy() -> dict[str, Any]:
    """The shipped policy with churn-models' approval gate, promotion stages and retraining turned on."""
    import yaml

    from steward.policy import DEFAULT_POLICY_FILE

    document: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    churn = document["groups"][GROUP]
    churn["approval"] = {
        "approvers": APPROVERS,
        "quorum": 1,
        "expiry_hours": 72,
        "reminder_hours_before_expiry": [24],
        "gate": {
            "thresholds": {"auc": {"min": 0.88}},
            "compare_with_production": {"metric": "auc", "min_improvement": 0.0},
            "on_fail": "reject",
            "on_pass": "request-approval",
        },
    }
    churn["stages"] = [
        {
            "name": "staging",
            "endpoint": "churn-staging",
            "strategy": "all-at-once",
            "bake_seconds": 0,
            "integration_test": INTEGRATION_TEST,
        },
        {
            "name": "prod",
            "endpoint": "churn-prod",
            "instance_count": 2,
            "strategy": "canary",
            "canary_percent": 50,
            "bake_seconds": 300,
            "rollback_alarms": ["churn-prod-invocation-5xx"],
        },
    ]
    monitoring = churn.get("monitoring") or {}
    if isinstance(monitoring.get("retraining"), dict):
        monitoring["retraining"]["enabled"] = True
    return document


# --- act 1 ------------------------------------------------------------------------------------------


def setup_account(sb: Sandbox) -> list[str]:
    """What SageMaker already held before Steward was deployed (no events, nothing to react to): the
    story's models and configs, churn-models versions 1 to 4, churn-prod serving version 3."""
    sm, s3 = sb.client("sagemaker"), sb.client("s3")
    with sb.quietly():
        created = create_sagemaker_resources(
            sm, json.loads((EVENTS / "sagemaker_resources.json").read_text())
        )
        sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription="churn")
        for version in (1, 2, 3, 4):
            run = OLD_RUN if version == 3 else f"older{version}"
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelPackageDescription=f"XGBoost churn classifier v{version}",
                ModelApprovalStatus="Rejected" if version == 4 else "Approved",
                InferenceSpecification=inference_spec(f"s3://{BUCKET}/churn-train/{run}/model.tar.gz"),
                ModelMetrics=metric_reports(
                    f"s3://{BUCKET}/churn-train/{run}/EvaluateChurnModel/output/evaluation"
                ),
            )
        put_json(
            s3,
            f"s3://{BUCKET}/churn-train/{OLD_RUN}/EvaluateChurnModel/output/evaluation/evaluation.json",
            {"metrics": {"auc": {"value": 0.912}, "f1": {"value": 0.781}}},
        )
        sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-v3-5d1c")
    return created


def _setup(sb: Sandbox, say: Narrator) -> None:
    created = setup_account(sb)
    say.say(
        f"SageMaker already holds {len(created)} resources (models, endpoint configs, the training pipeline, "
        "a Model Monitor report), registry versions 1 to 4 of churn-models, and churn-prod serving version 3."
    )


def _act_one(sb: Sandbox, say: Narrator) -> list[dict[str, Any]]:
    from sandbox.story import CANDIDATE, JOB_FAILURE, STORY, replay

    say.act("Act 1 — early November, replayed: the events Steward saw, in the order they happened")
    # The recorded monitoring findings are left for act 2, where they happen live on today's version.
    live_later = ("CloudWatch Alarm State Change",)
    events = [
        e
        for e in load_events([STORY, CANDIDATE, JOB_FAILURE])
        if e["detail-type"] not in live_later and "model-monitoring-" not in json.dumps(e.get("resources"))
    ]
    events.sort(key=lambda e: _when(e["time"]))  # stable: the story's same-second events keep their order
    say.say(f"{len(events)} SageMaker and CloudWatch events through the template's rules:")
    return replay(sb, events, say.out)


# --- act 2 ------------------------------------------------------------------------------------------


def _act_two(sb: Sandbox, say: Narrator, interactive: bool) -> dict[str, Any]:
    from steward_cli import main as steward

    say.act("Act 2 — today, live: gate, approval, promotion, monitoring, rollback")
    say.step("The platform team turns on the approval gate and promotion stages for churn-models")
    sb.set_policy(demo_policy())
    faulty: set[str] = set()
    for endpoint in ("churn-staging", "churn-prod"):
        sb.endpoint_model(endpoint, churn_model(faulty))
    say.say(
        "policy published to SSM: approvers alice, bob, carol (quorum 1); gate auc ≥ 0.88 and no worse than "
        "production; stages staging (all-at-once) → prod (canary 50 %, bake 300 s, 5xx alarm rollback)"
    )

    say.step("The nightly pipeline runs: data preparation → training → evaluation")
    nightly = _nightly(sb, say)
    run, today, _ = nightly

    say.step("Its RegisterModel step registers a version in the model registry (PendingManualApproval)")
    v5 = _register(sb, nightly, 0.934, "XGBoost churn classifier, customers snapshot " + today)
    request = _request_for(sb, v5)
    say.say(f"{_short(v5)} registered → quality gate: {request['gate']}")
    say.say(f"approval request {request['id']} sent to {', '.join(request['approvers'])} (email and Slack)")

    link = _link_from_email(sb, "alice@example.com", v5)
    say.step("Alice opens the link from her email (a GET shows a confirmation page; it decides nothing)")
    page = _get(link)
    say.say(f"GET {_redact(link)} → {page['status']}; the page shows {_page_facts(page['body'], request)}")
    say.say(
        f"registry status after the GET: {_status(sb, v5)} (mail scanners that fetch links approve nothing)"
    )
    if interactive:
        say.say(f"\nOpen this link in your browser and decide:\n   {link}\n   (waiting for a decision…)")
        while _request_for(sb, v5)["status"] == "pending":
            time.sleep(1)
        # The request is decided before the registry is written: read the registry once it has followed.
        deadline = time.monotonic() + 30
        while _status(sb, v5) == "PendingManualApproval" and time.monotonic() < deadline:
            time.sleep(0.2)
    else:
        outcome = _post_decision(
            link, page["body"], "approve", "Holdout AUC up 2 points; drift checks clean."
        )
        say.say(f"POST Approve (with the page's anti-forgery value) → {outcome}")
    say.say(f"registry: {_short(v5)} is {_status(sb, v5)} — “{_description(sb, v5)}”")

    say.step(
        "Promotion: exactly that version, to staging, integration-tested there, then prod "
        "(endpoint lifecycle emulated)"
    )
    for endpoint in ("churn-staging", "churn-prod"):
        for d in _ours(sb, endpoint):
            if d["modelPackageArn"] == v5:
                say.say(_deployment_line(endpoint, d))

    say.step("A weaker candidate is registered: it fails the gate by its numbers")
    v6 = _register(sb, _nightly(sb, None, quiet=True), auc=0.842, description="candidate with fewer features")
    say.say(
        f"{_short(v6)}: gate {_request_for(sb, v6)['gate']} → {_status(sb, v6)} — “{_description(sb, v6)}”"
    )

    v7, v8 = _faulty_and_failing(sb, steward, say, faulty)

    monitoring = _monitoring(sb, say)

    say.step("An operator rolls churn-prod back to the version served before")
    cli = _run_cli(
        steward,
        ["rollback", "churn-prod", "--reason", "tenure drift after the release", "--api-url", sb.api_url],
    )
    say.say(f"$ steward rollback churn-prod --reason … → {cli.strip()}")
    return {"v5": v5, "v6": v6, "v7": v7, "v8": v8, "run": run, "monitoring": monitoring}


def _faulty_and_failing(sb: Sandbox, steward: Any, say: Narrator, faulty: set[str]) -> tuple[str, str]:
    """v7 deploys but fails staging's integration test; v8's staging deployment itself fails."""
    say.step(
        "A version with a packaging bug passes the gate and deploys, but staging's integration test fails"
    )
    v7 = _register(sb, _nightly(sb, None, quiet=True), auc=0.938, description="new tenure features")
    faulty.add(v7)
    _decide_as(sb, steward, say, v7, "carol@example.com", "numbers look good")
    for d in _ours(sb, "churn-staging"):
        if d["modelPackageArn"] == v7:
            say.say(_deployment_line("churn-staging", d))
    say.say(f"churn-prod still serves {_serving_version(sb)} (a failed integration test stops the promotion)")

    say.step("Another version is approved by an operator, and its staging deployment fails (requested)")
    v8 = _register(sb, _nightly(sb, None, quiet=True), auc=0.941, description="retrained with October data")
    sb.endpoint_outcome("churn-staging", "fail")
    _decide_as(sb, steward, say, v8, "bob@example.com", "approved on the phone with Alice")
    for d in _ours(sb, "churn-staging"):
        if d["modelPackageArn"] == v8:
            say.say(_deployment_line("churn-staging", d))
    say.say(f"churn-prod still serves {_serving_version(sb)} (a failed stage stops the promotion)")
    return v7, v8


def _decide_as(sb: Sandbox, steward: Any, say: Narrator, package: str, who: str, comment: str) -> None:
    """An operator records an approver's decision (`steward approve --as`)."""
    argv = [
        "approve",
        _request_for(sb, package)["id"],
        "--as",
        who,
        "--comment",
        comment,
        "--api-url",
        sb.api_url,
    ]
    say.say(f"$ steward approve … --as {who} → {_run_cli(steward, argv).strip()}")


def _nightly(sb: Sandbox, say: Narrator | None, quiet: bool = False) -> tuple[str, str, str]:
    """Today's run of the churn pipeline: the recorded run's events with new names and times. Returns the
    run's id, today's date and the model artifact its training job wrote (what RegisterModel packages)."""
    from sandbox.story import STORY, describe_event

    run = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    recorded = [e for e in load_events([STORY]) if OLD_RUN in json.dumps(e)]
    recorded = [e for e in recorded if e["detail-type"] != "SageMaker Model Package State Change"]
    last = _when(recorded[-1]["time"])
    now = datetime.now(UTC) - timedelta(seconds=5)
    jobs = {old: secrets.token_hex(5) for old in OLD_JOBS}
    events = []
    for event in recorded:
        text = json.dumps(event).replace(OLD_RUN, run).replace("dt=2026-11-01", f"dt={today}")
        for old, new in jobs.items():
            text = text.replace(old, new)
        fresh = json.loads(text)
        fresh["id"] = str(uuid.uuid4())
        fresh["time"] = (now - (last - _when(event["time"]))).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append(fresh)
    results = sb.put_events(events)
    if say is not None and not quiet:
        for event, result in zip(events, results, strict=True):
            if event["detail-type"] in (
                "SageMaker Processing Job State Change",
                "SageMaker Training Job State Change",
            ) and (
                event["detail"].get("ProcessingJobStatus") == "Completed"
                or event["detail"].get("TrainingJobStatus") == "Completed"
            ):
                ok = all(t["ok"] for t in result["targets"])
                say.say(f"{'✔' if ok else '✘'} {describe_event(event)}")
        say.say(f"pipeline execution {run}: {len(events)} events recorded as lineage")
    (artifact,) = {
        e["detail"]["ModelArtifacts"]["S3ModelArtifacts"]
        for e in events
        if e["detail-type"] == "SageMaker Training Job State Change" and e["detail"].get("ModelArtifacts")
    }
    return run, today, artifact


def _register(sb: Sandbox, nightly: tuple[str, str, str], auc: float, description: str) -> str:
    """What the pipeline's RegisterModel step does: its evaluation report in S3, a version in the registry
    of the artifact the run's training job wrote (`nightly`: what `_nightly` returned)."""
    run, _, artifact = nightly
    s3, sm = sb.client("s3"), sb.client("sagemaker")
    prefix = f"s3://{BUCKET}/churn-train/{run}/EvaluateChurnModel/output/evaluation"
    put_json(
        s3,
        f"{prefix}/evaluation.json",
        {"metrics": {"auc": {"value": auc}, "f1": {"value": round(auc - 0.14, 3)}}},
    )
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=description,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=inference_spec(artifact),
        ModelMetrics=metric_reports(prefix),
        MetadataProperties={"GeneratedBy": f"{ARN}:pipeline/churn-train/execution/{run}"},
    )["ModelPackageArn"]
    sb.drain()  # SageMaker's registration event reaches the gate
    return str(arn)


def _monitoring(sb: Sandbox, say: Narrator) -> dict[str, Any]:
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
    execution["id"], execution["time"] = str(uuid.uuid4()), _now()
    shift = int(now.timestamp() * 1000) - int(base["detail"]["ProcessingEndTime"])
    for field in ("CreationTime", "ProcessingStartTime", "ProcessingEndTime", "LastModifiedTime"):
        if isinstance(execution["detail"].get(field), int | float):
            execution["detail"][field] = int(execution["detail"][field]) + shift
    report = execution["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    violations = json.loads((EVENTS / "monitoring" / "reports" / "violations.json").read_text())
    put_json(s3, f"{report}/constraint_violations.json", violations)
    alarm = json.loads((EVENTS / "cloudwatch_alarm" / "drift_alarm.json").read_text())
    alarm["id"], alarm["time"] = str(uuid.uuid4()), _now()
    if isinstance(alarm.get("detail", {}).get("state"), dict):
        alarm["detail"]["state"]["timestamp"] = _now()
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
    shown = _run_cli(steward, ["monitoring", "churn-prod", "--since", since, "--api-url", sb.api_url])
    say.say("$ steward monitoring churn-prod --since " + since + "\n" + shown.rstrip())
    starts = [c for c in sb.aws_calls if c.endswith("StartPipelineExecution")]
    say.say(
        f"retraining runs started: {sum(sb.aws_calls[c] for c in starts)} "
        "(cooldown and daily limit per policy)"
    )
    return {"execution": execution, "alarm": alarm}


# --- the questions ----------------------------------------------------------------------------------


def _questions(sb: Sandbox, say: Narrator, live: dict[str, Any]) -> None:
    from steward_cli.remote import StewardApi

    api = StewardApi(sb.api_url)
    say.act("The lineage questions, asked of the API as an operator would")
    now = api.serving("churn-prod", _now())
    say.step("What is serving on churn-prod now?")
    say.say(_versions_text(now))
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
        at = (_when(middle) - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        say.step(
            f"What was serving on churn-prod at {at[:23]}Z (before the rollback), trained on what, "
            "approved by whom?"
        )
        then = api.serving("churn-prod", at)
        say.say(_versions_text(then))
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


# --- helpers ----------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _short(arn: str) -> str:
    return arn.split(":model-package/", 1)[-1].replace("/", " v")


def inference_spec(artifact: str) -> dict[str, Any]:
    return {
        "Containers": [
            {
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                "ModelDataUrl": artifact,
            }
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def metric_reports(prefix: str) -> dict[str, Any]:
    return {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"{prefix}/evaluation.json"}
        }
    }


def put_json(s3: Any, uri: str, body: Any) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with contextlib.suppress(Exception):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())


def _request_for(sb: Sandbox, package: str) -> dict[str, Any]:
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


def _status(sb: Sandbox, package: str) -> str:
    return str(sb.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"])


def _description(sb: Sandbox, package: str) -> str:
    described = sb.client("sagemaker").describe_model_package(ModelPackageName=package)
    return clip(described.get("ApprovalDescription", ""), 160)


def _link_from_email(sb: Sandbox, to: str, package: str) -> str:
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


def _redact(link: str) -> str:
    return link.rsplit("/", 1)[0] + "/<token>"


def _open(target: str | urllib.request.Request, timeout: float) -> Any:
    """The sandbox's local API only (http on 127.0.0.1)."""
    url = target.full_url if isinstance(target, urllib.request.Request) else target
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not the sandbox's API: {url[:80]}")
    return urllib.request.urlopen(target, timeout=timeout)  # noqa: S310 (checked above)


def _get(url: str) -> dict[str, Any]:
    with _open(url, 10) as response:
        return {"status": response.status, "body": response.read().decode()}


def _page_facts(page: str, request: dict[str, Any]) -> str:
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


def _post_decision(link: str, page: str, decision: str, comment: str) -> str:
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


def _ours(sb: Sandbox, endpoint: str) -> list[dict[str, Any]]:
    with _open(f"{sb.api_url}/endpoints/{endpoint}/deployments", 10) as response:
        body = json.loads(response.read())
    mine = [e["steward"] for e in body["items"] if e.get("steward")] + body.get("requests", [])
    return sorted(mine, key=lambda d: d["createdAt"])


def _deployment_line(endpoint: str, d: dict[str, Any]) -> str:
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


def _serving_version(sb: Sandbox) -> str:
    from steward_cli.remote import StewardApi

    now = StewardApi(sb.api_url).serving("churn-prod", _now())
    return ", ".join(f"v{v.get('version')}" for v in now.get("versions") or []) or "?"


def _versions_text(answer: dict[str, Any]) -> str:
    versions = answer.get("versions") or []
    names = ", ".join(
        f"{GROUP} v{v.get('version')} ({v.get('status')}, "
        + ("approved by " + ", ".join(v["approvedBy"]) if v.get("approvedBy") else "approved outside Steward")
        + ")"
        for v in versions
    )
    since = str(answer.get("since"))[:19]
    return f"{answer.get('endpointConfigName')} since {since}: {names or 'nothing recorded'}"


def _run_cli(steward: Any, argv: list[str]) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = steward(argv)
    return buffer.getvalue() if code == 0 else f"(exit {code}) {buffer.getvalue()}"


def run_demo(out: TextIO | None = None, interactive: bool = False) -> int:
    """The whole lifecycle on the sandbox; 0 when every delivery succeeded and the story held."""
    from sandbox.story import _show_outbox

    say = Narrator(out or sys.stdout)
    say.out.write(
        "Steward demo: the churn model's lifecycle on the embedded sandbox (moto; no AWS account, nothing to "
        "set up).\n"
    )
    with Sandbox() as sb:
        say.say(f"local API: {sb.api_url}/health")
        _setup(sb, say)
        history = _act_one(sb, say)
        live = _act_two(sb, say, interactive)
        _questions(sb, say, live)
        say.act("What people were told")
        _show_outbox(sb, say.out)
        report = _estate_and_audit(sb, say, live["v5"])
        failed = sum(1 for r in history for t in r["targets"] if not t["ok"])
        dead = sum(len(sb.dlq_messages(f)) for f in sb.function_names())
        checks = {
            f"{_short(live['v5'])} Approved in the registry": _status(sb, live["v5"]) == "Approved",
            f"{_short(live['v6'])} rejected by the gate": _status(sb, live["v6"]) == "Rejected",
            "churn-prod rolled back to v3": _serving_version(sb) == "v3",
            "nothing in a dead-letter queue": dead == 0,
            "every delivery succeeded": failed == 0,
            f"audit report of {_short(live['v5'])} written": report.is_file()
            and "<svg" in report.read_text(),
        }
        elapsed = time.perf_counter() - say.started
        say.act("Summary")
        for name, ok in checks.items():
            say.say(f"{'✔' if ok else '✘'} {name}")
        say.say(f"{len(sb.outbox)} notifications delivered; {elapsed:.1f} s")
        if interactive:
            _stay_up(sb, say)
    return 0 if all(checks.values()) else 1


def _estate_and_audit(sb: Sandbox, say: Narrator, package: str) -> Path:
    """`steward status` over the whole estate, then the audit report of the version approved live."""
    from sandbox.story import OUTBOX_DIR
    from steward_cli import main as steward

    say.act("The estate, and the audit trail of the version approved today")
    say.step(f"steward status --api-url {sb.api_url}")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = steward(["status", "--api-url", sb.api_url])
    say.say(buffer.getvalue().rstrip())
    say.say(
        f"exit status {code}: "
        + ("nothing needs attention" if code == 0 else "something needs attention (the lines marked !)")
    )
    target = OUTBOX_DIR / f"audit-report-{_short(package).replace(' ', '-')}.html"
    say.step(f"steward report {_short(package)} --html {target}")  # the package ARN works as well
    argv = ["report", *_short(package).split(" "), "--html", str(target), "--api-url", sb.api_url]
    say.say(_run_cli(steward, argv).rstrip())
    return target


def _stay_up(sb: Sandbox, say: Narrator) -> None:
    """--interactive: the story is told; the sandbox and its API stay up for you until Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):  # from here on, Ctrl-C is the way out
        say.say(
            f"\nThe local API stays up: {sb.api_url}  (try: steward approvals --api-url {sb.api_url};"
            f" steward deployments churn-prod --api-url {sb.api_url})\nCtrl-C to stop."
        )
        say.out.flush()
        while True:
            time.sleep(3600)
