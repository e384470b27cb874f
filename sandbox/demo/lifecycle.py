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
import io
import json
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sandbox.demo.account import (
    ARN,
    BUCKET,
    GROUP,
    OLD_JOBS,
    OLD_RUN,
    inference_spec,
    metric_reports,
    put_json,
    setup_account,
    short,
    when,
)
from sandbox.demo.drift import run_monitoring
from sandbox.demo.public import (
    deployment_line,
    description,
    get,
    link_from_email,
    ours,
    page_facts,
    post_decision,
    redact,
    request_for,
    run_cli,
    serving_version,
    status,
)
from sandbox.demo.questions import questions
from sandbox.demo.replay import load_events
from sandbox.facade import Sandbox

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


def _setup(sb: Sandbox, say: Narrator) -> None:
    created = setup_account(sb)
    say.say(
        f"SageMaker already holds {len(created)} resources (models, endpoint configs, the training pipeline, "
        "a Model Monitor report), registry versions 1 to 4 of churn-models, and churn-prod serving version 3."
    )


def _act_one(sb: Sandbox, say: Narrator) -> list[dict[str, Any]]:
    from sandbox.demo.story import CANDIDATE, JOB_FAILURE, STORY, replay

    say.act("Act 1 — early November, replayed: the events Steward saw, in the order they happened")
    # The recorded monitoring findings are left for act 2, where they happen live on today's version.
    live_later = ("CloudWatch Alarm State Change",)
    events = [
        e
        for e in load_events([STORY, CANDIDATE, JOB_FAILURE])
        if e["detail-type"] not in live_later and "model-monitoring-" not in json.dumps(e.get("resources"))
    ]
    events.sort(key=lambda e: when(e["time"]))  # stable: the story's same-second events keep their order
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
    request = request_for(sb, v5)
    say.say(f"{short(v5)} registered → quality gate: {request['gate']}")
    say.say(f"approval request {request['id']} sent to {', '.join(request['approvers'])} (email and Slack)")

    link = link_from_email(sb, "alice@example.com", v5)
    say.step("Alice opens the link from her email (a GET shows a confirmation page; it decides nothing)")
    page = get(link)
    say.say(f"GET {redact(link)} → {page['status']}; the page shows {page_facts(page['body'], request)}")
    say.say(
        f"registry status after the GET: {status(sb, v5)} (mail scanners that fetch links approve nothing)"
    )
    if interactive:
        say.say(f"\nOpen this link in your browser and decide:\n   {link}\n   (waiting for a decision…)")
        while request_for(sb, v5)["status"] == "pending":
            time.sleep(1)
        # The request is decided before the registry is written: read the registry once it has followed.
        deadline = time.monotonic() + 30
        while status(sb, v5) == "PendingManualApproval" and time.monotonic() < deadline:
            time.sleep(0.2)
    else:
        outcome = post_decision(link, page["body"], "approve", "Holdout AUC up 2 points; drift checks clean.")
        say.say(f"POST Approve (with the page's anti-forgery value) → {outcome}")
    say.say(f"registry: {short(v5)} is {status(sb, v5)} — “{description(sb, v5)}”")

    say.step(
        "Promotion: exactly that version, to staging, integration-tested there, then prod "
        "(endpoint lifecycle emulated)"
    )
    for endpoint in ("churn-staging", "churn-prod"):
        for d in ours(sb, endpoint):
            if d["modelPackageArn"] == v5:
                say.say(deployment_line(endpoint, d))

    say.step("A weaker candidate is registered: it fails the gate by its numbers")
    v6 = _register(sb, _nightly(sb, None, quiet=True), auc=0.842, description="candidate with fewer features")
    say.say(f"{short(v6)}: gate {request_for(sb, v6)['gate']} → {status(sb, v6)} — “{description(sb, v6)}”")

    v7, v8 = _faulty_and_failing(sb, steward, say, faulty)

    monitoring = run_monitoring(sb, say)

    say.step("An operator rolls churn-prod back to the version served before")
    cli = run_cli(
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
    for d in ours(sb, "churn-staging"):
        if d["modelPackageArn"] == v7:
            say.say(deployment_line("churn-staging", d))
    say.say(f"churn-prod still serves {serving_version(sb)} (a failed integration test stops the promotion)")

    say.step("Another version is approved by an operator, and its staging deployment fails (requested)")
    v8 = _register(sb, _nightly(sb, None, quiet=True), auc=0.941, description="retrained with October data")
    sb.endpoint_outcome("churn-staging", "fail")
    _decide_as(sb, steward, say, v8, "bob@example.com", "approved on the phone with Alice")
    for d in ours(sb, "churn-staging"):
        if d["modelPackageArn"] == v8:
            say.say(deployment_line("churn-staging", d))
    say.say(f"churn-prod still serves {serving_version(sb)} (a failed stage stops the promotion)")
    return v7, v8


def _decide_as(sb: Sandbox, steward: Any, say: Narrator, package: str, who: str, comment: str) -> None:
    """An operator records an approver's decision (`steward approve --as`)."""
    argv = [
        "approve",
        request_for(sb, package)["id"],
        "--as",
        who,
        "--comment",
        comment,
        "--api-url",
        sb.api_url,
    ]
    say.say(f"$ steward approve … --as {who} → {run_cli(steward, argv).strip()}")


def _nightly(sb: Sandbox, say: Narrator | None, quiet: bool = False) -> tuple[str, str, str]:
    """Today's run of the churn pipeline: the recorded run's events with new names and times. Returns the
    run's id, today's date and the model artifact its training job wrote (what RegisterModel packages)."""
    from sandbox.demo.story import STORY, describe_event

    run = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    recorded = [e for e in load_events([STORY]) if OLD_RUN in json.dumps(e)]
    recorded = [e for e in recorded if e["detail-type"] != "SageMaker Model Package State Change"]
    last = when(recorded[-1]["time"])
    now = datetime.now(UTC) - timedelta(seconds=5)
    jobs = {old: secrets.token_hex(5) for old in OLD_JOBS}
    events = []
    for event in recorded:
        text = json.dumps(event).replace(OLD_RUN, run).replace("dt=2026-11-01", f"dt={today}")
        for old, new in jobs.items():
            text = text.replace(old, new)
        fresh = json.loads(text)
        fresh["id"] = str(uuid.uuid4())
        fresh["time"] = (now - (last - when(event["time"]))).strftime("%Y-%m-%dT%H:%M:%SZ")
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


def run_demo(out: TextIO | None = None, interactive: bool = False) -> int:
    """The whole lifecycle on the sandbox; 0 when every delivery succeeded and the story held."""
    from sandbox.demo.story import show_outbox

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
        questions(sb, say, live)
        say.act("What people were told")
        show_outbox(sb, say.out)
        report = _estate_and_audit(sb, say, live["v5"])
        failed = sum(1 for r in history for t in r["targets"] if not t["ok"])
        dead = sum(len(sb.dlq_messages(f)) for f in sb.function_names())
        checks = {
            f"{short(live['v5'])} Approved in the registry": status(sb, live["v5"]) == "Approved",
            f"{short(live['v6'])} rejected by the gate": status(sb, live["v6"]) == "Rejected",
            "churn-prod rolled back to v3": serving_version(sb) == "v3",
            "nothing in a dead-letter queue": dead == 0,
            "every delivery succeeded": failed == 0,
            f"audit report of {short(live['v5'])} written": report.is_file() and "<svg" in report.read_text(),
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
    from sandbox.demo.story import OUTBOX_DIR
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
    target = OUTBOX_DIR / f"audit-report-{short(package).replace(' ', '-')}.html"
    say.step(f"steward report {short(package)} --html {target}")  # the package ARN works as well
    argv = ["report", *short(package).split(" "), "--html", str(target), "--api-url", sb.api_url]
    say.say(run_cli(steward, argv).rstrip())
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
