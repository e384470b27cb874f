"""Operator commands: they talk to a Steward API — a deployed stack's, a running sandbox's, or a
one-shot sandbox loaded with events — so the CLI and the API answer every question the same way."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from steward_cli import render
from steward_cli.remote import ApiError, StewardApi
from steward_cli.render import clip


def add_target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to ask (default: $STEWARD_API_URL)")
    group.add_argument(
        "--stack", metavar="NAME", help="a deployed stack (its ApiUrl output; SigV4 with your credentials)"
    )
    group.add_argument("--region", help="the stack's region")
    group.add_argument(
        "--api-url", metavar="URL", help="a Steward API, e.g. the one `steward local serve` prints"
    )
    group.add_argument(
        "--replay", nargs="+", metavar="FILE", help="a one-shot sandbox loaded with these events"
    )
    group.add_argument("--setup", metavar="FILE", help="with --replay: SageMaker resources to create first")


@contextlib.contextmanager
def api_for(args: argparse.Namespace) -> Iterator[StewardApi]:
    if args.stack:
        yield StewardApi.for_stack(args.stack, args.region)
    elif args.api_url or (os.environ.get("STEWARD_API_URL") and not args.replay):
        yield StewardApi(args.api_url or os.environ["STEWARD_API_URL"])
    elif args.replay:
        from sandbox.demo.story import loaded_sandbox

        with loaded_sandbox(args.replay, args.setup) as sb:
            yield StewardApi(sb.api_url)
    else:
        raise ApiError(
            400, "say where to ask: --stack NAME, --api-url URL, --replay FILE... or STEWARD_API_URL"
        )


def lineage(args: argparse.Namespace) -> int:
    direction = "upstream" if args.upstream else "downstream"
    with api_for(args) as api:
        graph = api.lineage(args.id, direction, args.depth)
    if args.format == "json":
        print(json.dumps(graph, indent=2))
    elif args.format == "dot":
        print(render.dot(graph))
    elif args.format == "mermaid":
        print(render.mermaid(graph))
    else:
        root = args.id.rstrip("/") if args.id.startswith("s3://") else args.id
        known = {n["id"] for n in graph["nodes"]}
        roots = [root] if root in known else None
        print(render.tree(graph, roots=roots, direction=direction))
    return 0


def deployments(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        where = {"account": args.account, "region": args.endpoint_region}
        if args.at:
            answer: Any = api.serving(args.endpoint, args.at, **where)
        else:
            answer = api.deployments(args.endpoint, **where)
    if args.json:
        print(json.dumps(answer, indent=2))
    elif args.at:
        print(_serving_text(answer))
    else:
        print(_history_text(answer))
    return 0


def rollback(args: argparse.Namespace) -> int:
    """Ask for the rollback, then follow it in the endpoint's history until it ends (or --wait runs out)."""
    import time

    where = {"account": args.account, "region": args.endpoint_region}
    with api_for(args) as api:
        asked = api.rollback(args.endpoint, args.to_version, args.reason, **where)
        found: dict[str, Any] | None = None
        deadline = time.monotonic() + max(args.wait, 0)
        while True:
            history = api.deployments(args.endpoint, **where)
            mine = [e["steward"] for e in history["items"] if e.get("steward")] + history.get("requests", [])
            found = next((d for d in mine if d.get("rollbackRequest") == asked["request_id"]), None)
            if (found and found["status"] not in ("queued", "started")) or time.monotonic() >= deadline:
                break
            time.sleep(2)
    if args.json:
        print(json.dumps({"request": asked, "deployment": found}, indent=2))
    elif found is None:
        print(f"rollback of {args.endpoint} requested ({asked['request_id']}); not started yet")
    else:
        print(
            f"rollback of {args.endpoint} to v{found.get('version')} (from v{found.get('previousVersion')}): "
            f"{found['status']}" + (f" — {found['failureReason']}" if found.get("failureReason") else "")
        )
        print(f"  requested by {found['requestedBy']}: {found.get('reason') or ''}")
    return 1 if found and found["status"] in ("refused", "failed", "rolled-back") else 0


def compare(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        answer = api.compare(args.a, args.b)
    print(json.dumps(answer, indent=2) if args.json else compare_text(answer))
    return 0


def approvals(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        answer = api.approvals()
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    for item in answer["items"]:
        done = sorted({d["approver"] for d in item["decisions"] if d["decision"] == "approve"})
        print(
            f"  {item['id']}  {item['group']} v{item['version']}  {len(done)}/{item['quorum']} approvals  "
            f"expires {item['expires_at']}  approvers: {', '.join(item['approvers'])}"
        )
    if not answer["items"]:
        print("  (no pending approval requests)")
    return 0


def decide(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        answer = api.decide(args.request, args.command, args.as_, args.comment)
    print(f"{answer['id']}: {answer['status']} ({len(answer['approvals'])}/{answer['quorum']} approvals)")
    return 0


def validate_policy(path: str) -> int:
    """0 and a summary for a valid policy; 1 and one line per bad field otherwise."""
    from pathlib import Path

    from steward.policy import PolicyError, parse_policy

    try:
        policy = parse_policy(Path(path).read_text())
    except OSError as exc:
        print(f"steward: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"{path}: invalid policy", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    groups = ", ".join(policy.groups) or "none"
    gated = [name for name, entry in [("default", policy.default), *policy.groups.items()] if entry.approval]
    print(f"{path}: valid (groups: {groups}; approval in: {', '.join(gated) or 'none'})")
    return 0


def notifications(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        answer = api.notifications(args.since, args.failed)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(f"  {'time':<32} {'status':<13} {'channel':<8} {'recipient':<30} subject")
    for item in answer["items"]:
        print(
            f"  {item.get('time', ''):<32} {item.get('status', ''):<13} {item.get('channel', ''):<8} "
            f"{clip(item.get('recipient', ''), 30):<30} {clip(item.get('subject', ''), 60)}"
        )
        if item.get("error"):
            print(f"      error: {item['error']}")
    if not answer["items"]:
        print("  (no delivery attempts in that window)")
    return 0


def monitoring(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        answer = api.monitoring(args.endpoint, args.since)
    print(json.dumps(answer, indent=2) if args.json else monitoring_text(answer))
    return 0


def status(args: argparse.Namespace) -> int:
    """Exit 1 when something needs attention (a failed change or deployment not yet followed by a
    success, a non-empty DLQ, an alarm in ALARM), 0 otherwise; errors exit 2 (main)."""
    with api_for(args) as api:
        answer = api.status(args.endpoint)
    print(json.dumps(answer, indent=2) if args.json else status_text(answer))
    return 0 if answer.get("ok") else 1


def status_text(answer: dict[str, Any]) -> str:
    rows = [f"Steward status at {answer['at']}"]
    rows.append(f"  {'endpoint':<24} {'status':<14} {'serving':<22} {'since':<20} last change")
    for e in answer["endpoints"]:
        last, serving = e["lastChange"], e.get("serving") or {}
        if serving.get("version") is not None:
            what = f"{serving.get('group')}/v{serving['version']}"
        else:
            what = serving.get("endpointConfigName") or "-"
        since = serving.get("since") or e["statusSince"] or "-"
        rows.append(
            f"  {clip(e['name'] or '', 24):<24} {e['status'] or '-':<14} {clip(what, 22):<22} "
            f"{since[:19]:<20} {last['outcome']}"
            + (f": {clip(last['failureReason'], 60)}" if last.get("failureReason") else "")
        )
        if serving.get("kind") == "rollback":
            rows.append(f"      rolled back to it by {serving.get('requestedBy') or 'an alarm'}")
        elif serving.get("approvedBy"):
            rows.append(f"      approved by {', '.join(serving['approvedBy'])}")
        elif serving.get("deployedBy") == "not Steward":
            rows.append("      serving a config Steward did not deploy")
        deployed = e.get("lastDeployment")
        if deployed:
            rows.append(
                f"      last deployment: {deployed.get('kind')} of v{deployed.get('version')} "
                f"{deployed.get('outcome')} at {str(deployed.get('at'))[:19]}"
            )
        for d in e["deployments"]:
            rows.append(
                f"      deployment {d['status']}: {d.get('kind')} of v{d.get('version')} ({d.get('stage')})"
            )
        for r in e["approvalRequests"]:
            rows.append(f"      approval open: {r['group']}/{r['version']} for {r.get('ageSeconds')} s")
        monitored = e.get("monitoring")
        if monitored:
            rows.append(
                f"      monitoring: {monitored.get('result') or monitored.get('status')} "
                f"at {str(monitored.get('at'))[:19]}"
            )
        for a in e.get("alarms") or []:
            rows.append(f"      alarm {clip(a['name'], 40)}: {a['state']}")
    if not answer["endpoints"]:
        rows.append("  (no endpoint recorded)")
    listed = {r["requestId"] for e in answer["endpoints"] for r in e["approvalRequests"]}
    for r in answer["approvalRequests"]:
        if r["requestId"] not in listed:  # for no endpoint, or one not recorded yet (its first deployment)
            rows.append(
                f"  approval open: {r['group']}/{r['version']} for {r.get('ageSeconds')} s ({r['requestId']})"
                + (f", for {r['endpointName']}" if r.get("endpointName") else "")
            )
    for q in answer["dlqs"]:
        age = f", oldest {q['oldestAgeSeconds']} s" if q.get("oldestAgeSeconds") is not None else ""
        rows.append(f"  DLQ {q['name']:<14} {q['depth']} message(s){age}")
    rows += [f"  ! {why}" for why in answer["attention"]] or ["  ✔ nothing needs attention"]
    return "\n".join(rows)


def report(args: argparse.Namespace) -> int:
    """The audit report: HTML to a file (the API renders it), JSON, or a short text summary. The version is
    its ARN, or a group's name and a version number (in the stack's own registry)."""
    which: dict[str, Any] = (
        {"group": args.package, "version": args.version} if args.version else {"package": args.package}
    )
    with api_for(args) as api:
        answer = api.report(**which)
        html = api.report_html(**which) if args.html else None
    if html is not None:
        path = os.path.abspath(args.html)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(html)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(report_text(answer) + (f"\n  report written to {args.html}" if html is not None else ""))
    return 0


def report_text(answer: dict[str, Any]) -> str:
    p = answer["package"]
    rows = [
        f"Audit report of {p.get('group')}/{p.get('version')} ({p.get('status') or 'status not recorded'})"
    ]
    training = answer.get("training") or {}
    rows.append(f"  trained on: {', '.join(training.get('data') or []) or 'not recorded'}")
    gate = answer.get("gate")
    rows.append(
        f"  gate: {'passed' if gate and gate.get('passed') else 'failed' if gate else 'not recorded'}"
    )
    for r in answer.get("approvals") or []:
        who = ", ".join(f"{d['who']} ({d['decision']}, {d['channel']})" for d in r.get("decisions") or [])
        rows.append(
            f"  approval{' of ' + r['stage'] if r.get('stage') else ''}: {r['status']}"
            f" — {who or 'no decision'}"
        )
        if r.get("refusals"):
            rows.append(f"      {len(r['refusals'])} refused attempt(s)")
    for d in answer.get("deployments") or []:
        rows.append(f"  deployment {d.get('kind')} to {d.get('endpoint')}: {d.get('status')}")
    rows.append(f"  monitoring results and alarms: {len(answer.get('monitoring') or [])}")
    rows += [f"  not recorded: {m}" for m in answer.get("missing") or []]
    return "\n".join(rows)


def monitoring_text(answer: dict[str, Any]) -> str:
    """One line per result or alarm transition, the violations under it."""
    rows = [f"Monitoring of {answer['endpoint']} since {answer['since']} (newest first)"]
    for item in answer["items"]:
        versions = ", ".join(_short(p) for p in item.get("modelPackages") or []) or "version unknown"
        if item.get("type") == "alarm":
            what = f"alarm {item['name']} → {item['status']} ({item.get('nature')})"
        else:
            count = item.get("violationCount") or 0
            what = f"{item['name']} {item['status']}: {item.get('result')}" + (
                f", {count} violation{'s' if count != 1 else ''}" if count else ""
            )
        rows.append(f"  {item['time']:<28} {versions:<18} {what}")
        for violation in (item.get("violations") or [])[:5]:
            rows.append(
                f"      {violation['feature']} — {violation['check']}: {clip(violation['description'], 80)}"
            )
        if item.get("problem") and item.get("result") != "clean":
            rows.append(f"      {clip(item['problem'], 160)}")
        retraining = item.get("retraining")
        if retraining:
            rows.append(
                f"      retraining {retraining['status']}: "
                f"{retraining.get('pipelineExecutionArn') or retraining.get('reason')}"
            )
    if not answer["items"]:
        rows.append("  (nothing recorded in that window)")
    return "\n".join(rows)


def redrive(args: argparse.Namespace) -> int:
    """Redrive a deployed stack's DLQ (`<Function>DLQUrl` and `<Function>FunctionName` outputs)."""
    import boto3

    from steward_cli.queues import LambdaInvoker, SqsDeadLetters
    from steward_cli.redrive import redrive as redrive_letters

    cfn = boto3.client("cloudformation", region_name=args.region)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
    }
    region = cfn.meta.region_name
    queue = outputs.get(f"{args.function}DLQUrl")
    source = outputs.get(f"{args.function}QueueUrl") or (
        outputs.get("NotificationQueueUrl") if args.function == "Notify" else None
    )
    if queue and source:
        # A queue's dead letters go back onto the queue (the notifier skips targets already served;
        # promotion commands are idempotent by their request id).
        sqs = boto3.client("sqs", region_name=region)

        def forward(body: Any, _arn: str | None) -> tuple[bool, str | None]:
            sqs.send_message(QueueUrl=source, MessageBody=json.dumps(body))
            return True, None

        report = redrive_letters(SqsDeadLetters(queue, region), forward, args.limit).as_dict()
    else:
        function = outputs.get(f"{args.function}FunctionName")
        if not queue or not function:
            raise ApiError(404, f"stack {args.stack} has no {args.function}DLQUrl / FunctionName outputs")
        invoker = LambdaInvoker(function, region)
        report = redrive_letters(SqsDeadLetters(queue, region), invoker, args.limit).as_dict()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"redriven: {len(report['redriven'])}, still failing: {len(report['failed'])}, "
            f"unreadable: {report['unreadable']}"
        )
        for item in report["failed"]:
            print(f"  {item['eventId']}: {item['error']}")
    return 1 if report["failed"] else 0


def backfill(args: argparse.Namespace) -> int:
    """Backfill a deployed stack (its function, invoked until the run is done) or a served sandbox."""
    from steward_cli.backfill import run

    return run(args)


def _short(value: str) -> str:
    return value.rsplit("model-package/", maxsplit=1)[-1]


def compare_text(answer: dict[str, Any]) -> str:
    a, b = _short(answer["a"]["id"]), _short(answer["b"]["id"])
    rows = [f"{a} vs {b}: {len(answer['differences'])} differences"]
    for diff in answer["differences"]:
        if "onlyA" in diff:
            for item in diff["onlyA"]:
                rows.append(f"  {diff['field']:<20} only {a}: {item}")
            for item in diff["onlyB"]:
                rows.append(f"  {diff['field']:<20} only {b}: {item}")
        else:
            rows.append(f"  {diff['field']:<20} {a}: {clip(diff['a'], 80):<40} {b}: {clip(diff['b'], 80)}")
    return "\n".join(rows)


def serving_text(answer: dict[str, Any]) -> str:
    return _serving_text(answer)


def _serving_text(answer: dict[str, Any]) -> str:
    name = answer["endpoint"].rsplit("/", 1)[-1]
    if not answer.get("endpointConfigName"):
        first = answer.get("firstRecordedAt")
        if first and answer["at"] < first:
            return f"{name}: nothing recorded before {first} (the first event Steward saw)"
        return f"{name} served nothing at {answer['at']}"
    versions = (
        ", ".join(
            f"{v['modelPackageArn'].split('model-package/')[-1]} ({v.get('status') or 'status not recorded'})"
            for v in answer.get("versions", [])
        )
        or ", ".join(answer.get("models", []))
        or "unknown models"
    )
    return (
        f"At {answer['at']} {answer['endpoint'].rsplit('/', 1)[-1]} "
        f"served config {answer['endpointConfigName']} "
        f"(since {answer['since']}): {versions}"
    )


def _history_text(answer: dict[str, Any]) -> str:
    rows = [f"Deployments of {answer['endpoint']} (newest first)"]
    rows.append(f"  {'started':<28} {'ended':<28} {'outcome':<14} {'config':<28} previous")
    for d in answer["items"]:
        rows.append(
            f"  {d.get('startedAt') or '?':<28} {d.get('endedAt') or '-':<28} {d['outcome']:<14} "
            f"{d['endpointConfigName']:<28} {d.get('previousEndpointConfigName') or '-'}"
        )
        versions = ", ".join(f"v{v.get('version')}" for v in d.get("versions") or [])
        ours = d.get("steward")
        if ours:
            who = ", ".join(ours.get("approvedBy") or []) or "no approval record"
            rows.append(
                f"      {versions or '?'} by Steward: {ours['kind']} ({ours.get('strategy') or 'create'}), "
                f"requested by {ours['requestedBy']}, approved by {who}"
            )
            if ours.get("integrationTest"):
                from steward.promotion.integration import summary

                rows.append(f"      {summary(ours['integrationTest'])}")
        elif versions:
            rows.append(f"      {versions}")
    for r in answer.get("requests") or []:
        rows.append(
            f"  {r['createdAt'][:19]:<28} {'-':<28} {r['status']:<14} v{r.get('version')} {r['kind']}: "
            f"{r.get('failureReason') or 'waiting for the endpoint'}"
        )
    if not answer["items"]:
        rows.append("  (none recorded)")
    return "\n".join(rows)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fail(message: str) -> int:
    print(f"steward: {message}", file=sys.stderr)
    return 2 if "HTTP 4" in message or "say where" in message else 1
