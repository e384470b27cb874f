"""The demo's story for the reliability suite: what is replayed, and what of the end state is compared.

The story is the recorded churn events (events/story_churn.jsonl, then model_package/rejected.json and
training_job/failed.json) on top of the SageMaker resources they name (events/sagemaker_resources.json)
and the registry as it was (versions 1-4, churn-prod serving v3), followed by a live part like
sandbox/demo/lifecycle.py's act 2: the approval gate and the promotion stages are published, three versions are
registered in the embedded registry (its Model Package State Change events are SageMaker's), v5 is
approved by an operator through `POST /approval-requests/{id}/decisions` and promoted to staging then
prod (endpoint lifecycle emulated), v6 fails the gate, and v7 is approved and fails on staging.

`observe(sb)` reads the end state the invariants are about; `compare(a, b)` lists what differs.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.demo.account import (  # the demo's account and model group: the scenario replays its story
    ACCOUNT,
    ARN,
    BUCKET,
    GROUP,
    inference_spec,
    metric_reports,
    put_json,
    setup_account,
)
from sandbox.demo.lifecycle import demo_policy
from sandbox.demo.replay import load_events

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
ENDPOINTS = ("churn-staging", "churn-prod")

# --- what is volatile ---------------------------------------------------------------------------------
# Two clean runs of the story differ in exactly these node attributes, and only where they hold a
# wall-clock time of the run itself: the live part happens "now" (the emulated endpoint lifecycle stamps
# its events with the clock, deployments start and end now, approval requests expire 72 h after they
# open) and `updatedAt` is when the store wrote the node. A time of the recorded story (November 2026's
# events) is not volatile: it is compared, so a late event moving a node's `statusTime` back is caught.
# Everything else of a node, and every edge, must be equal (test_two_clean_runs_agree pins this list).
VOLATILE_TIMES = frozenset({"createdAt", "endedAt", "expiresAt", "startedAt", "statusTime", "updatedAt"})
NOW = "<time of the run>"

# What react_to_monitoring attributes to a monitoring result: the version serving at the result's time,
# read from the endpoint history *recorded when the reaction runs* (README "Monitoring reactions": "a
# result replayed before the deployment that preceded it is attributed to what was recorded then").
# So do the alerts' version and route: a result that arrives before the endpoint's history is "version
# unknown" and goes to the default route. Where the order of delivery changes (disorder; faults, whose
# redrives deliver late), these attributes and alerts are compared only when the monitoring results and
# the endpoint history arrived in the baseline's relative order.
REACTION_ATTRIBUTES = frozenset(
    {
        "result", "violationCount", "violations", "reportUri", "problem", "endpointName", "servedConfig",
        "modelPackages", "dataWindowStart", "dataWindowEnd", "retraining",
        "monitoring",  # the endpoint's latest result: with the versions serving when it was reacted to
    }
)  # fmt: skip


REACTION_DEDUPE_KEYS = ("monitor-violation:", "monitor-report-error:", "alarm:")
REACTION_SUBJECTS = ("Model Monitor:", "Alarm ")


def story_events() -> list[dict[str, Any]]:
    return load_events(
        [
            EVENTS / "story_churn.jsonl",
            EVENTS / "model_package" / "rejected.json",
            EVENTS / "training_job" / "failed.json",
        ]
    )


def live_policy(stages: bool = True) -> dict[str, Any]:
    """The demo's policy (sandbox.demo.demo_policy: churn-models' gate, approvers and stages), without the
    parts this scenario does not exercise: reminders, the staging integration test, retraining."""
    document = demo_policy()
    churn = document["groups"][GROUP]
    churn["approval"].pop("reminder_hours_before_expiry", None)
    for stage in churn["stages"]:
        stage.pop("integration_test", None)
    retraining = (churn.get("monitoring") or {}).get("retraining")
    if isinstance(retraining, dict):
        retraining["enabled"] = False  # the shipped policy's
    if not stages:
        del churn["stages"]
    return document


# --- setting the scene --------------------------------------------------------------------------------


def setup(sb: Sandbox) -> None:
    """What SageMaker held before Steward was deployed (the demo's), with the test's own clients made
    before any fault block (they never fail)."""
    for service in ("sagemaker", "s3", "sqs", "ssm", "secretsmanager", "sesv2", "dynamodb"):
        sb.client(service)
    setup_account(sb)


# --- the live part ------------------------------------------------------------------------------------


def http(sb: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{sb.api_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


class Live:
    """How the live part reaches Steward. Each step (a registration, an operator's decision) runs inside
    `during(sb)` (e.g. injected faults), then `after(sb)` runs (e.g. delivering SageMaker's held-back
    events, or redriving dead letters as an operator would). `posts` sends each decision that many
    times (a client repeating itself); `retry_5xx` retries a decision answered with a 5xx."""

    def __init__(
        self,
        during: Callable[[Sandbox], contextlib.AbstractContextManager[Any]] | None = None,
        after: Callable[[Sandbox], Any] | None = None,
        posts: int = 1,
        retry_5xx: int = 0,
        stages: bool = True,
    ) -> None:
        self.stages = stages
        self.during = during or (lambda sb: contextlib.nullcontext())
        self.after = after or (lambda sb: None)
        self.posts = posts
        self.retry_5xx = retry_5xx
        self.answers: list[tuple[int, Any]] = []

    def register(self, sb: Sandbox, run: str, auc: float) -> str:
        """What a pipeline's RegisterModel step does: its evaluation in S3, a version in the registry."""
        prefix = f"s3://{BUCKET}/churn-train/{run}/EvaluateChurnModel/output/evaluation"
        put_json(sb.client("s3"), f"{prefix}/evaluation.json", {"metrics": {"auc": {"value": auc}}})
        with self.during(sb):
            arn = sb.client("sagemaker").create_model_package(
                ModelPackageGroupName=GROUP,
                ModelPackageDescription=f"XGBoost churn classifier ({run})",
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification=inference_spec(
                    f"s3://{BUCKET}/churn-train/{run}/TrainChurnModel/model.tar.gz"
                ),
                ModelMetrics=metric_reports(prefix),
                MetadataProperties={"GeneratedBy": f"{ARN}:pipeline/churn-train/execution/{run}"},
            )["ModelPackageArn"]
            sb.drain()
        self.after(sb)
        return str(arn)

    def decide(self, sb: Sandbox, package: str, who: str) -> None:
        from steward.approvals.models import ApprovalRequest

        path = f"/approval-requests/{ApprovalRequest.id_for(package)}/decisions"
        body = {"decision": "approve", "as": who, "comment": "holdout AUC up; drift checks clean"}
        for _ in range(self.posts):
            with self.during(sb):
                for _attempt in range(1 + self.retry_5xx):
                    answer = http(sb, "POST", path, body)
                    if answer[0] < 500:
                        break
            self.answers.append(answer)
            self.after(sb)

    def run(self, sb: Sandbox) -> dict[str, str]:
        sb.set_policy(live_policy(self.stages))
        v5 = self.register(sb, "live5run", 0.934)
        self.decide(sb, v5, "bob@example.com")
        v6 = self.register(sb, "live6run", 0.842)  # below the gate: rejected by its numbers
        v7 = self.register(sb, "live7run", 0.941)
        sb.endpoint_outcome("churn-staging", "fail")
        self.decide(sb, v7, "alice@example.com")
        return {"v5": v5, "v6": v6, "v7": v7}


@contextlib.contextmanager
def hold_sagemaker_events(sb: Sandbox) -> Iterator[list[dict[str, Any]]]:
    """What SageMaker emits (registry events, the endpoint lifecycle) is kept in the yielded list instead
    of being delivered; the test delivers it itself (e.g. shuffled), as EventBridge might."""
    held: list[dict[str, Any]] = []

    def hold(event: dict[str, Any]) -> None:
        held.append(dict(event, id=event.get("id") or str(uuid.uuid4())))

    sb.emit = hold  # type: ignore[method-assign]
    try:
        yield held
    finally:
        del sb.emit


@contextlib.contextmanager
def tripled_sagemaker_events(sb: Sandbox) -> Iterator[None]:
    """Every event SageMaker emits is delivered three times (the same event id: an at-least-once redelivery)."""
    original = sb.emit

    def three_times(event: dict[str, Any]) -> None:
        event = dict(event, id=event.get("id") or str(uuid.uuid4()))
        for _ in range(3):
            original(copy.deepcopy(event))

    sb.emit = three_times  # type: ignore[method-assign]
    try:
        yield
    finally:
        del sb.emit


# --- the moto DynamoDB tables: snapshot and restore ---------------------------------------------------


def tables_snapshot(sb: Sandbox) -> dict[str, Any]:
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[ACCOUNT][sb.region].tables
    return {name: copy.deepcopy(table.items) for name, table in tables.items()}


def tables_restore(sb: Sandbox, snapshot: dict[str, Any]) -> None:
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[ACCOUNT][sb.region].tables
    for name, items in snapshot.items():
        tables[name].items = copy.deepcopy(items)


# --- what is observed -----------------------------------------------------------------------------------


def _volatile(value: Any, since: datetime) -> bool:
    from steward.events.normalize import parse_timestamp

    try:
        stamp = parse_timestamp(value)
    except ValueError:
        return False
    # Times are stored at SageMaker's precision (often whole seconds): a write in the run's first second
    # reads as earlier than `since` itself, so compare from the start of that second.
    return stamp is not None and stamp >= since.replace(microsecond=0)


# Inside the summaries Steward keeps on a node (an endpoint's `serving`, `lastDeployment`), `at` is the
# time of the deployment it summarises: volatile like the deployment's own times.
NESTED_TIMES = VOLATILE_TIMES | {"at"}


def _masked(value: Any, since: datetime) -> Any:
    if isinstance(value, dict):
        return {
            k: NOW if k in NESTED_TIMES and _volatile(v, since) else _masked(v, since)
            for k, v in value.items()
        }
    return value


def lineage_view(graph: dict[str, Any], since: datetime | None) -> dict[str, Any]:
    """Nodes by id (a time of the run itself replaced by NOW, in summaries too) and the set of edges."""
    nodes = {}
    for node in graph["nodes"]:
        nodes[node["id"]] = {
            k: NOW
            if since is not None and k in VOLATILE_TIMES and _volatile(v, since)
            else (_masked(v, since) if since is not None else v)
            for k, v in node.items()
        }
    edges = sorted({(e["from"], e["to"], e["relation"]) for e in graph["edges"]})
    return {"nodes": nodes, "edges": edges}


def _without_reactions(view: dict[str, Any]) -> dict[str, Any]:
    """The lineage without what monitoring reactions attribute (order-dependent by design, see above)."""
    alarms = {i for i, n in view["nodes"].items() if n.get("source") == "cloudwatch-alarm"}
    nodes = {
        i: {k: v for k, v in n.items() if k not in REACTION_ATTRIBUTES}
        for i, n in view["nodes"].items()
        if i not in alarms
    }
    edges = [
        e
        for e in view["edges"]
        if e[1] not in alarms and not (e[2] == "monitored-by" and ":model-package/" in e[0])
    ]
    return {"nodes": nodes, "edges": edges}


def delivery_log(sb: Sandbox) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    from steward.notify.adapters.store import NotificationStore

    store = NotificationStore(sb.output("NotificationsTableName"))
    return store.attempts(datetime.now(UTC) - timedelta(days=1), limit=100_000)


def outbox(sb: Sandbox) -> Counter[tuple[str, str, str]]:
    """What was delivered: (channel, recipient, subject) → how many times."""
    return Counter((m["channel"], m["to"], str(m.get("subject"))) for m in sb.outbox)


def observe(
    sb: Sandbox, since: datetime, outbox_before: Counter[Any] | None = None, sagemaker: bool = True
) -> dict[str, Any]:
    """The end state the invariants are about (plain data, comparable across sandboxes). `since` is when
    the run started: node times from then on are the run's own clock (volatile). `outbox_before`: what
    was delivered before the part being observed. `sagemaker=False` skips reading the registry and the
    endpoints back (replays of recorded events only read SageMaker)."""
    from steward.promotion.adapters.store import DeploymentStore

    graph = sb.lineage()
    view = lineage_view(graph, since)
    approvals: Counter[str] = Counter()
    for source, target, relation in view["edges"]:
        if relation == "gated-by" and view["nodes"].get(target, {}).get("kind") == "approval":
            approvals[source] += 1
    deployments = []
    store = DeploymentStore(sb.output("LineageTableName"))
    for name in ENDPOINTS:
        for d in store.for_endpoint(f"{ARN}:endpoint/{name}"):
            deployments.append((d.package_arn, name, d.stage, d.kind, d.status))
    sent = Counter(
        (a["dedupeKey"], a["channel"], a["recipient"]) for a in delivery_log(sb) if a.get("status") == "sent"
    )
    delivered = outbox(sb) - (outbox_before or Counter())
    dead = {f: len(sb.dlq_messages(f)) for f in sb.function_names()}
    observed = {
        "lineage": view,
        "raw_lineage": lineage_view(graph, None),
        "approvals_per_version": dict(approvals),
        "deployments": sorted(deployments),
        "models": None,
        "endpoint_configs": None,
        "endpoints": None,
        "packages": None,
        "sent": dict(sent),
        "outbox": dict(delivered),
        "dead_letters": {f: n for f, n in dead.items() if n},
    }
    if sagemaker:
        sm = sb.client("sagemaker")
        observed["endpoints"] = {
            e["EndpointName"]: (
                e["EndpointStatus"],
                sm.describe_endpoint(EndpointName=e["EndpointName"])["EndpointConfigName"],
            )
            for e in sm.list_endpoints()["Endpoints"]
        }
        summaries = sm.list_model_packages(ModelPackageGroupName=GROUP, MaxResults=100)
        observed["packages"] = {
            p["ModelPackageArn"]: p["ModelApprovalStatus"] for p in summaries["ModelPackageSummaryList"]
        }
        observed["models"] = sorted(m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"])
        configs = sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
        observed["endpoint_configs"] = sorted(c["EndpointConfigName"] for c in configs)
    return observed


def compare(got: dict[str, Any], want: dict[str, Any], order_dependent: bool = False) -> list[str]:
    """What differs between two observations (empty when the invariants hold)."""
    problems = []
    mine, theirs = got["lineage"], want["lineage"]
    if order_dependent:
        mine, theirs = _without_reactions(mine), _without_reactions(theirs)
    for node_id in sorted(set(mine["nodes"]) | set(theirs["nodes"])):
        a, b = mine["nodes"].get(node_id), theirs["nodes"].get(node_id)
        if a != b:
            if a is None or b is None:
                problems.append(f"node {node_id}: {'missing' if a is None else 'extra'}")
            else:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                problems.append(
                    f"node {node_id}: " + "; ".join(f"{k}={a.get(k)!r} (want {b.get(k)!r})" for k in keys)
                )
    for edge in sorted(set(mine["edges"]) ^ set(theirs["edges"])):
        problems.append(f"edge {edge}: {'extra' if edge in mine['edges'] else 'missing'}")
    for key in (
        "approvals_per_version",
        "deployments",
        "models",
        "endpoint_configs",
        "endpoints",
        "packages",
    ):
        if got[key] != want[key]:
            problems.append(f"{key}: {got[key]!r} (want {want[key]!r})")
    for key in ("sent", "outbox"):
        if order_dependent:  # alerts of monitoring reactions name (and route by) the version served then
            got, want = (
                {**o, key: {k: n for k, n in o[key].items() if not _reaction_alert(key, k)}}
                for o in (got, want)
            )
        if got[key] != want[key]:
            extra = {k: v for k, v in got[key].items() if want[key].get(k) != v}
            missing = {k: v for k, v in want[key].items() if k not in got[key]}
            problems.append(f"{key}: differs {extra!r}; missing {missing!r}")
    if got["dead_letters"]:
        problems.append(f"dead letters left: {got['dead_letters']}")
    return problems


def _reaction_alert(kind: str, key: tuple[str, ...]) -> bool:
    if kind == "sent":
        return key[0].startswith(REACTION_DEDUPE_KEYS)
    return any(marker in key[2] for marker in REACTION_SUBJECTS)


def invariants(observed: dict[str, Any]) -> list[str]:
    """What must hold of any run on its own: one request per version, one deployment per (version,
    endpoint), each notification delivered once per target, nothing dead-lettered."""
    problems = [
        f"{v} has {n} approval requests" for v, n in observed["approvals_per_version"].items() if n != 1
    ]
    per_target = Counter((d[0], d[1]) for d in observed["deployments"])
    problems += [f"{k} deployed {n} times" for k, n in per_target.items() if n != 1]
    problems += [f"{k} delivered {n} times" for k, n in observed["sent"].items() if n != 1]
    problems += [f"{k} received {n} times" for k, n in observed["outbox"].items() if n != 1]
    if observed["dead_letters"]:
        problems.append(f"dead letters: {observed['dead_letters']}")
    return problems


def redrive_until_empty(sb: Sandbox, rounds: int = 10) -> list[dict[str, Any]]:
    """`steward redrive` for every function whose DLQ holds messages, until every DLQ is empty."""
    reports = []
    for _ in range(rounds):
        waiting = [f for f in sb.function_names() if sb.dlq_messages(f)]
        if not waiting:
            return reports
        for function in waiting:
            reports.append({"function": function, **sb.redrive(function)})
    return reports


def clean_run(live: Live | None = None) -> tuple[dict[str, Any], dict[str, str], float]:
    started, since = time.perf_counter(), datetime.now(UTC)
    with Sandbox() as sb:
        setup(sb)
        sb.put_events(story_events())
        versions = (live or Live()).run(sb)
        observed = observe(sb, since)
    return observed, versions, time.perf_counter() - started
