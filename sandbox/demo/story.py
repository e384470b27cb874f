"""`steward local replay` / `serve`: the recorded churn story on the sandbox (the demo: lifecycle.py)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sandbox.demo.replay import create_sagemaker_resources, load_events
from sandbox.facade import REPO_ROOT, Sandbox

EVENTS_DIR = REPO_ROOT / "events"
STORY = EVENTS_DIR / "story_churn.jsonl"
RESOURCES = EVENTS_DIR / "sagemaker_resources.json"
CANDIDATE = EVENTS_DIR / "model_package" / "rejected.json"  # version 4, registered days later: a candidate
JOB_FAILURE = EVENTS_DIR / "training_job" / "failed.json"  # the 2026-11-04 nightly ran out of memory
OUTBOX_DIR = Path("demo-output")
ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"

_SHORT_TYPES = {
    "SageMaker Training Job State Change": "training job",
    "SageMaker Processing Job State Change": "processing job",
    "SageMaker Transform Job State Change": "transform job",
    "SageMaker HyperParameter Tuning Job State Change": "tuning job",
    "SageMaker Model Building Pipeline Execution Status Change": "pipeline",
    "SageMaker Model Building Pipeline Execution Step Status Change": "pipeline step",
    "SageMaker Model Package State Change": "model package",
    "SageMaker Endpoint State Change": "endpoint",
    "SageMaker Endpoint Deployment State Change": "deployment",
    "CloudWatch Alarm State Change": "alarm",
}


def describe_event(event: dict[str, Any], width: int | None = None) -> str:
    """`<kind> <name> → <status>` from the raw event, for the narrative; within `width` by shortening
    the name in the middle (marked "…"), never the status."""
    d = event.get("detail") or {}
    kind = _SHORT_TYPES.get(str(event.get("detail-type")), str(event.get("detail-type")))
    name = (
        d.get("TrainingJobName")
        or d.get("ProcessingJobName")
        or d.get("TransformJobName")
        or d.get("HyperParameterTuningJobName")
        or d.get("stepName")
        or d.get("EndpointName")
        or d.get("alarmName")
        or (d.get("ModelPackageArn", "").split("model-package/")[-1] or None)
        or str(d.get("pipelineExecutionArn", "")).rsplit("/", 1)[-1]
    )
    status = (
        d.get("TrainingJobStatus")
        or d.get("ProcessingJobStatus")
        or d.get("TransformJobStatus")
        or d.get("HyperParameterTuningJobStatus")
        or d.get("currentStepStatus")
        or d.get("currentPipelineExecutionStatus")
        or d.get("ModelApprovalStatus")
        or d.get("EndpointStatus")
        or (d.get("state") or {}).get("value")
    )
    text = f"{kind} {name} → {status}"
    if width is not None and len(text) > width:
        from steward_cli.render import clip_middle

        room = max(width - len(f"{kind}  → {status}"), 8)
        text = f"{kind} {clip_middle(name, room)} → {status}"
    return text


def outcome_text(result: dict[str, Any]) -> str:
    if not result["targets"]:
        return "no rule matched"
    parts = []
    for target in result["targets"]:
        if target["ok"]:
            res = target.get("result") or {}
            parts.append(f"{target['function']}: {res.get('outcome', 'ok')}")
        else:
            parts.append(f"{target['function']}: FAILED ({target.get('error')})")
    return "; ".join(parts)


def replay(
    sb: Sandbox, events: list[dict[str, Any]], out: TextIO | None, step: bool = True
) -> list[dict[str, Any]]:
    results = []
    for i, event in enumerate(events, 1):
        result = sb.put_events([event])[0]
        results.append(result)
        if out is not None:
            when = str(event.get("time", ""))[:19].replace("T", " ")
            ok = all(t["ok"] for t in result["targets"])
            mark = "✔" if ok and result["targets"] else ("·" if ok else "✘")
            out.write(f"{i:3d} {mark} {when}  {describe_event(event, 70):<70} {outcome_text(result)}\n")
    return results


def sandbox_location(
    events: list[dict[str, Any]], account: str | None = None, region: str | None = None
) -> dict[str, str]:
    """Where to replay: the account and region asked for, else the events' own when they all name one
    (a story recorded in another account replays as that account's, nothing of it "forwarded"), else
    the default sandbox's."""
    found = {
        (str(e.get("account")), str(e.get("region"))) for e in events if e.get("account") and e.get("region")
    }
    (own_account, own_region) = found.pop() if len(found) == 1 else (None, None)
    location = {"account": account or own_account, "region": region or own_region}
    return {k: v for k, v in location.items() if v}


def run_replay(
    paths: list[str],
    as_json: bool,
    setup: str | None,
    out: TextIO | None = None,
    account: str | None = None,
    region: str | None = None,
) -> int:
    out = out or sys.stdout
    events = load_events(paths)
    with Sandbox(serve_api=False, **sandbox_location(events, account, region)) as sb:
        if setup:
            create_sagemaker_resources(sb.client("sagemaker"), json.loads(Path(setup).read_text()))
        results = replay(sb, events, None if as_json else out)
        graph = sb.lineage()
    failed = sum(1 for r in results for t in r["targets"] if not t["ok"])
    if as_json:
        json.dump({"results": results, "lineage": graph}, out, indent=2, default=str)
        out.write("\n")
    else:
        from steward_cli.render import tree

        out.write("\nLineage\n")
        out.write(tree(graph) + "\n")
        out.write(
            f"\n{len(events)} events, {failed} failed deliveries, {len(graph['nodes'])} nodes, "
            f"{len(graph['edges'])} edges\n"
        )
    return 1 if failed else 0


@contextlib.contextmanager
def loaded_sandbox(
    paths: list[str],
    setup: str | None,
    api_port: int = 0,
    out: TextIO | None = None,
    serve_aws: bool = False,
    policy: str | None = None,
    account: str | None = None,
    region: str | None = None,
    parallel: bool = False,
) -> Iterator[Sandbox]:
    """A sandbox with its API up, after replaying `paths` (and creating `setup`'s SageMaker resources),
    in the events' account and region (see `sandbox_location`). Deliveries that failed are reported on
    `out` (stderr by default): an answer built on a partial replay says so instead of looking complete."""
    events = load_events(list(paths))
    where = sandbox_location(events, account, region)
    with Sandbox(
        policy=policy, api_port=api_port, serve_aws=serve_aws, react=serve_aws, parallel=parallel, **where
    ) as sb:
        if setup:
            create_sagemaker_resources(sb.client("sagemaker"), json.loads(Path(setup).read_text()))
        results = [result for wave in _waves(events, parallel) for result in sb.put_events(wave)]
        _report_failures(events, results, out or sys.stderr)
        yield sb


WAVE_GAP = timedelta(hours=1)  # events this far apart were delivered one after the other on AWS


def _waves(events: list[dict[str, Any]], parallel: bool) -> list[list[dict[str, Any]]]:
    """The puts to replay `events` with: one of them all, in order; in a parallel sandbox, one per run of
    events less than WAVE_GAP apart (their targets all at once), after the runs before it settled. A story
    recorded over days has causes hours before their effects (a deployment the day before the monitoring
    job that reports on it): delivered at the same moment, the job could be attributed to the version
    serving before."""
    if not parallel:
        return [events]
    waves: list[list[dict[str, Any]]] = []
    last: datetime | None = None
    for event in events:
        at = _time_of(event)
        if not waves or (at is not None and last is not None and at - last >= WAVE_GAP):
            waves.append([])
        waves[-1].append(event)
        last = at or last
    return waves


def _time_of(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def _report_failures(events: list[dict[str, Any]], results: list[dict[str, Any]], out: TextIO) -> int:
    failed = [
        (event, target)
        for event, result in zip(events, results, strict=True)
        for target in result["targets"]
        if not target["ok"]
    ]
    refused = [(event, result) for event, result in zip(events, results, strict=True) if result.get("error")]
    for event, target in failed:
        out.write(
            f"replay: {describe_event(event, 70)}: {target['function']} failed: {target.get('error')}\n"
        )
    for event, result in refused:
        out.write(
            f"replay: {describe_event(event, 70)}: refused by PutEvents: {result['error']['message']}\n"
        )
    if failed or refused:
        out.write(
            f"replay: {len(failed)} failed deliveries and {len(refused)} refused events of {len(events)}; "
            "answers below lack what they would have recorded\n"
        )
    return len(failed) + len(refused)


def run_serve(
    paths: list[str],
    setup: str | None,
    port: int,
    out: TextIO | None = None,
    serve_aws: bool = False,
    policy: str | None = None,
    outbox: str | None = None,
    account: str | None = None,
    region: str | None = None,
    parallel: bool = False,
) -> int:
    out = out or sys.stdout
    with loaded_sandbox(paths, setup, port, out, serve_aws, policy, account, region, parallel) as sb:
        nodes = sb.lineage()["nodes"]
        out.write(f"Steward sandbox API: {sb.api_url}   ({len(paths)} files replayed, {len(nodes)} nodes)\n")
        out.write(f"  account {sb.account}, region {sb.region}\n")
        out.write(f"  export STEWARD_API_URL={sb.api_url}\n")
        endpoint = next((n for n in nodes if n["kind"] == "endpoint"), None)
        packages = sorted(
            (n for n in nodes if n["kind"] == "model-package"),
            key=lambda n: (n.get("status") == "Approved", len(n["id"]), n["id"]),  # the newest approved
        )
        package = packages[-1] if packages else None
        start = endpoint or package or (nodes[0] if nodes else None)
        if start is not None:
            out.write(f"  steward lineage {start['id']} --upstream\n")
        if endpoint is not None:
            out.write(f"  steward deployments {endpoint['name']}\n")
        if package is not None and package is not start:
            out.write(f"  steward lineage {package['id']}\n")
        if start is None:
            out.write("  (nothing recorded yet: replay event files, e.g. events/story_churn.jsonl)\n")
        if serve_aws:
            keys = sb.credentials()  # the served AWS answers a key from the account that holds it
            out.write(
                f"Embedded AWS (SageMaker, S3, ...): {sb.aws_endpoint_url}\n"
                "  Steward reacts to what you do there, by itself.\n"
                f"  export AWS_ENDPOINT_URL={sb.aws_endpoint_url} "
                f"AWS_ACCESS_KEY_ID={keys['AWS_ACCESS_KEY_ID']} "
                f"AWS_SECRET_ACCESS_KEY={keys['AWS_SECRET_ACCESS_KEY']} AWS_DEFAULT_REGION={sb.region}\n"
                "  (fake credentials: the SDK and the AWS CLI sign every request; never use real ones here)\n"
            )
        if outbox:
            out.write(f"Notifications are written to {outbox}/ as they are delivered (emails as .eml).\n")
        with contextlib.suppress(KeyboardInterrupt):  # from here on, Ctrl-C is the way out
            out.write("Ctrl-C to stop.\n")
            out.flush()
            written = 0
            while True:
                if outbox:
                    written = _write_outbox(sb.outbox, Path(outbox), written)
                time.sleep(0.5 if outbox else 3600)
    return 0


def _write_outbox(messages: list[dict[str, Any]], folder: Path, written: int) -> int:
    """Each message delivered since the last call as a file (an inbox for scripts and people alike)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, message in enumerate(messages[written:], written + 1):
        stem = folder / f"{i:03d}-{message['channel']}"
        if message["channel"] == "email" and message.get("raw"):
            stem.with_suffix(".eml").write_text(message["raw"])
        else:
            stem.with_suffix(".json").write_text(json.dumps(message.get("raw"), indent=2))
    return len(messages)


def show_outbox(sb: Sandbox, out: TextIO) -> None:
    """What people were told, and the messages written out to read (emails as .eml and .html)."""
    from steward_cli.render import clip

    outbox = sb.outbox
    out.write(f"\nNotifications delivered ({len(outbox)}), written to {OUTBOX_DIR}/:\n")
    OUTBOX_DIR.mkdir(exist_ok=True)
    for old in OUTBOX_DIR.iterdir():
        if old.is_file():
            old.unlink()
    for i, message in enumerate(outbox, 1):
        out.write(f"   {message['channel']:<7} → {message['to']:<28} {clip(message.get('subject'), 90)}\n")
        stem = OUTBOX_DIR / f"{i:02d}-{message['channel']}"
        if message["channel"] == "email" and message.get("raw"):
            stem.with_suffix(".eml").write_text(message["raw"])
            if message.get("html"):
                stem.with_suffix(".html").write_text(message["html"])
        else:
            stem.with_suffix(".json").write_text(json.dumps(message.get("raw"), indent=2))
