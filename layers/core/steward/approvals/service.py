"""Use cases of the approval gate: open a request for a newly registered version, and decide by link.

A link is a capability bound to one request, one approver and an expiry (tokens.py); GET renders the
confirmation page and changes nothing; only the page's POST (with its anti-forgery value) decides,
once. The registrant and anyone the policy excludes cannot approve; N distinct approvals make the
quorum; one rejection rejects (configurable). Every decision and refusal is kept on the request and
in the version's lineage, and the outcome is written back to the model registry.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from steward.approvals import evidence, tokens
from steward.approvals.gate import evaluate, flatten_metrics
from steward.approvals.models import ApprovalRequest, Decision, Refusal
from steward.approvals.rules_watch import RulesWatch, could_change, gate_with_rules, job_rules, rules_state
from steward.errors import (
    ConfigurationError,
    DuplicateEventError,
    LinkUsedError,
    NotFoundError,
    StaleEventError,
)
from steward.events import models as ev
from steward.lineage.arns import sagemaker_arn
from steward.lineage.graph import EdgeUpdate, LineageChange, NodeKind, NodeUpdate, Relation
from steward.notify.models import Action, Fact, Kind, Link, Notification
from steward.policy import ApprovalPolicy, Policy, Severity

GATE_ACTOR = "steward-gate"


class Store(Protocol):
    def create(self, request: ApprovalRequest) -> bool: ...
    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def save(
        self, request: ApprovalRequest, spend_link: tuple[str, int] | None = None
    ) -> ApprovalRequest: ...
    def use_link(self, nonce: str, expires_at: int) -> bool: ...
    def link_used(self, nonce: str) -> bool: ...


class Registry(Protocol):
    def set_approval(self, package_arn: str, status: str, description: str) -> None: ...


class Reports(Protocol):
    def read_json(self, s3_uri: str) -> Any: ...


class Lineage(Protocol):
    def apply(self, change: LineageChange) -> str: ...
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]: ...


class Outbox(Protocol):
    def send(self, notification: Notification) -> str: ...


class Commands(Protocol):
    def send(self, command: Any) -> str: ...


@dataclass
class Deps:
    store: Store
    registry: Registry
    reports: Reports
    lineage: Lineage
    outbox: Outbox
    keys: dict[str, bytes]
    active_key: str
    api_base_url: str
    promotions: Commands | None = None  # the promotion queue: a stage approved on its own deploys


# --- opening a request ------------------------------------------------------------------------------


def read_metrics(reports: Reports, uris: list[str]) -> tuple[dict[str, float], list[str]]:
    metrics: dict[str, float] = {}
    problems = []
    for uri in uris:
        try:
            metrics.update(flatten_metrics(reports.read_json(uri)))
        except (NotFoundError, ValueError) as exc:
            problems.append(f"{uri}: {exc}")
    return metrics, problems


def read_evidence(reports: Reports, uris: dict[str, str], drift_check_baselines: Any) -> dict[str, Any]:
    """The Bias and Explainability reports of ModelMetrics, and the DriftCheckBaselines (evidence)."""
    found: dict[str, Any] = {"bias": [], "explainability": [], "problems": []}
    for path, uri in sorted(uris.items()):
        reader = evidence.bias_rows if path.startswith("Bias.") else evidence.feature_rows
        if not path.startswith(evidence.REPORT_SECTIONS):
            continue
        try:
            rows = reader(reports.read_json(uri))
        except (NotFoundError, ValueError) as exc:
            found["problems"].append(f"{path} {uri}: {str(exc)[:200]}")
            continue
        key = "bias" if path.startswith("Bias.") else "explainability"
        found[key] = (found[key] + rows)[: evidence.MAX_ROWS] if key == "bias" else rows
    found["driftBaselines"] = evidence.baselines(drift_check_baselines)
    return {k: v for k, v in found.items() if v}


def production_metrics(
    lineage: Lineage,
    reports: Reports,
    group_arn: str,
    exclude: str,
    endpoint: str | None = None,
    now: datetime | None = None,
) -> tuple[str | None, dict[str, float]]:
    """The version in production and its metrics: what the group's last stage endpoint serves now,
    else (no stages, or nothing serving yet) the group's latest Approved version."""
    best_id = None
    if endpoint and now is not None:
        from steward.lineage.deployments import serving_at

        try:
            serving = serving_at(lineage, endpoint, now)  # type: ignore[arg-type]
            best_id = next((p for p in serving.get("modelPackages", []) if p != exclude), None)
        except NotFoundError:
            best_id = None
    if best_id is None:
        _, edges = lineage.node_with_edges(group_arn, "downstream")
        packages = [e["to"] for e in edges if e["relation"] == "contains" and e["to"] != exclude]
        nodes = lineage.get_nodes(packages) if packages else {}
        approved = [
            n for n in nodes.values() if n.get("status") == "Approved" and isinstance(n.get("version"), int)
        ]
        if not approved:
            return None, {}
        best_id = max(approved, key=lambda n: n["version"])["id"]
    _, upstream = lineage.node_with_edges(best_id, "upstream")
    metrics, _ = read_metrics(reports, [e["from"] for e in upstream if e["relation"] == "metrics"])
    return best_id, metrics


def open_request(
    event: ev.ModelPackageStateChange, policy: Policy, deps: Deps, now: datetime
) -> dict[str, Any]:
    """On a newly registered version (PendingManualApproval): gate it, then reject, approve or ask people."""
    d = event.detail
    if d.model_approval_status != "PendingManualApproval":
        return {"outcome": "ignored", "reason": f"status {d.model_approval_status}"}
    approval = policy.approval(d.group_name)
    if approval is None:
        return {"outcome": "ignored", "reason": f"no approval policy for {d.group_name}"}
    package = d.model_package_arn
    request_id = ApprovalRequest.id_for(package)
    existing = deps.store.get(request_id)
    if existing is not None:
        if existing.unsettled:  # an earlier delivery saved it and failed before finishing: finish it
            _settle(existing, deps, now)
            return {"outcome": "resumed", "request": request_id}
        return {"outcome": "duplicate", "request": request_id}
    uris = d.metric_report_uris()
    metrics, problems = read_metrics(
        deps.reports, [u for path, u in uris.items() if not path.startswith(evidence.REPORT_SECTIONS)]
    )
    found = read_evidence(deps.reports, uris, d.drift_check_baselines)
    # Numbers the pipeline put in CustomerMetadataProperties count too (a report's value wins).
    metrics = {**flatten_metrics(d.customer_metadata_properties), **metrics}
    region, account = package.split(":")[3], package.split(":")[4]
    group_arn = sagemaker_arn(region, account, "model-package-group", d.group_name)
    stages = policy.stages(d.group_name)
    production_endpoint = sagemaker_arn(region, account, "endpoint", stages[-1].endpoint) if stages else None
    production_arn, production = production_metrics(
        deps.lineage, deps.reports, group_arn, package.lower(), production_endpoint, now
    )
    lineage, findings, unfinished, jobs = lineage_summary(deps.lineage, d)
    base = evaluate(metrics, production, approval.gate)
    gate = gate_with_rules(base, findings, [], approval.gate, found)
    watch = None
    if unfinished and approval.gate.training_rules != "ignore":
        wait = approval.gate.training_rules_wait_minutes
        watch = RulesWatch(
            mode=approval.gate.training_rules,
            jobs=jobs,
            until=now + timedelta(minutes=wait),
            unfinished=unfinished,
            findings=findings,
            base=base,
            gate=approval.gate,
            production=production_arn,
        )
        if not (wait > 0 and could_change(gate, approval.gate.training_rules)):
            gate = gate_with_rules(base, findings, unfinished, approval.gate, found)
            watch = watch.model_copy(update={"asked": True})
    registrant = d.created_by.identities if d.created_by else []
    containers = d.inference_specification.containers if d.inference_specification else []
    request = ApprovalRequest(
        id=request_id,
        package_arn=package,
        group=d.group_name,
        version=d.version,
        artifact_uri=next((c.model_data_url for c in containers if c.model_data_url), None),
        image_digests=[c.image_digest for c in containers if c.image_digest],
        registered_by=(d.created_by.who if d.created_by else None),
        registrant_identities=registrant,
        description=d.model_package_description,
        lineage=lineage,
        target_stages=[_stage_line(s) for s in stages],
        **_rules(approval, registrant, now),
        gate=gate,
        metrics=metrics,
        production_metrics=production,
        evidence=found,
        rules_watch=watch,
    )
    if request.waiting_for_rules:
        request = request.model_copy(
            update={
                "unsettled": _effects(
                    now, audit={"opened": True, "gate": gate.summary(), "waitingFor": "; ".join(unfinished)}
                )
            }
        )
        if not deps.store.create(request):
            return {"outcome": "duplicate", "request": request_id}
        _settle(request, deps, now)
        return {
            "outcome": "waiting",
            "request": request_id,
            "reason": "training rules not finished: " + "; ".join(unfinished),
            "until": request.rules_watch.until.isoformat() if request.rules_watch else None,
            "problems": problems,
        }
    decided, effects = _gate_decision(request, gate, production_arn, now, audit={"opened": True})
    if not deps.store.create(decided.model_copy(update={"unsettled": effects})):
        return {"outcome": "duplicate", "request": request_id}
    _settle(decided.model_copy(update={"unsettled": effects}), deps, now)
    if decided.status != "pending":
        return {
            "outcome": f"gate-{decided.status}",
            "request": request_id,
            "gate": gate.summary(),
            "problems": problems,
        }
    if len(request.approvers) < request.quorum:
        problems.append(f"only {len(request.approvers)} eligible approvers for a quorum of {request.quorum}")
    return {
        "outcome": "requested",
        "request": request_id,
        "approvers": request.approvers,
        "gate": gate.summary(),
        "problems": problems,
    }


def _gate_decision(
    request: ApprovalRequest,
    gate: Any,
    production_arn: str | None,
    now: datetime,
    audit: dict[str, Any],
) -> tuple[ApprovalRequest, dict[str, Any]]:
    """What the gate's decision makes of a pending request (on opening, or when the training rules it
    waited for have ended): rejected or approved by the gate (written back to the registry), or sent
    to the approvers. Returns the request and the effects to save with it."""
    if gate.decision in ("reject", "approve"):
        status = "rejected" if gate.decision == "reject" else "approved"
        decided = request.model_copy(
            update={
                "gate": gate,
                "status": status,
                "decisions": [
                    *request.decisions,
                    Decision(
                        approver=GATE_ACTOR,
                        decision="reject" if status == "rejected" else "approve",
                        channel="gate",
                        comment=gate.summary()[:1000],
                        at=now,
                    ),
                ],
            }
        )
        verdict = "Rejected" if status == "rejected" else "Approved"
        effects = _effects(
            now,
            audit={"decision": gate.decision, "by": GATE_ACTOR, "gate": gate.summary()},
            registry=(verdict, f"Steward gate {verdict.lower()}: {gate.summary()}"[:1000]),
            outcome=True,
        )
        return decided, effects
    asked = request.model_copy(update={"gate": gate})
    effects = _effects(
        now,
        audit={**audit, "gate": gate.summary(), "production": production_arn},
        ask={"production": production_arn},
    )
    return asked, effects


_LINEAGE_DEPTH = 6  # artifact ← training job ← data ← processing job ← raw data (and code), with room


def lineage_summary(
    lineage: Any, d: ev.ModelPackageDetail
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The lines the approval page shows under "Lineage": the data the version was trained on (the
    upstream datasets nothing recorded produced), the training job, the code those jobs ran, the
    pipeline run, and the repository and commit the registration names (whatever is not recorded is
    said, not invented); the training jobs' Debugger/Profiler rules that found issues, those not
    finished yet, and the training jobs' node ids."""
    from steward.lineage.query import walk

    lines: list[str] = []
    meta = d.metadata_properties
    containers = d.inference_specification.containers if d.inference_specification else []
    artifact = next((c.model_data_url for c in containers if c.model_data_url), None)
    data: list[str] = []
    code: list[str] = []
    jobs: list[str] = []
    job_ids: list[str] = []
    findings: list[str] = []
    unfinished: list[str] = []
    if artifact:
        try:
            graph = walk(lineage, artifact.rstrip("/"), "upstream", _LINEAGE_DEPTH)
        except (NotFoundError, ValueError):  # nothing recorded upstream of the artifact (yet)
            graph = {"nodes": [], "edges": []}
        produced = {e["to"] for e in graph["edges"] if e["relation"] != "contains"}
        for node in graph["nodes"]:
            if node["kind"] == "dataset" and node.get("role") == "code":
                code.append(node["id"])
            elif node["kind"] == "dataset" and node["id"] not in produced:
                data.append(node["id"])
            elif node["kind"] == "training-job":
                jobs.append(f"{node.get('name')} ({node.get('status') or 'status not recorded'})")
                job_ids.append(node["id"])
                found, running = job_rules(node)
                findings += found
                unfinished += running
    lines += [f"trained on {uri}" for uri in sorted(data)] or ["training data: not recorded"]
    lines += [f"training job {job}" for job in sorted(jobs)]
    lines += sorted(findings)
    lines += sorted(unfinished)
    lines += [f"code {uri}" for uri in sorted(code)]
    if meta and meta.generated_by:
        lines.append(f"pipeline run {meta.generated_by}")
    if meta and (meta.repository or meta.commit_id):
        lines.append(
            f"source {meta.repository or 'repository not named'} @ {meta.commit_id or 'commit not named'}"
        )
    return [line[:400] for line in lines[:20]], sorted(findings), sorted(unfinished), sorted(job_ids)


def eligible(approval: ApprovalPolicy, registrant: list[str]) -> list[str]:
    """Approvers who may decide: not excluded, and none of the registrant's identities (separation of
    duties: a Studio profile and an IAM identity reported together are both the registrant)."""
    excluded = {e.lower() for e in approval.excluded}
    return [
        a.email for a in approval.approvers if a.email not in excluded and not a.is_any_identity(registrant)
    ]


def link_for(request: ApprovalRequest, approver: str, deps: Deps) -> str:
    token = tokens.issue_token(
        deps.keys, deps.active_key, request.id, approver, int(request.expires_at.timestamp())
    )
    return f"{deps.api_base_url.rstrip('/')}/approvals/{token}"


def _facts(request: ApprovalRequest) -> list[Fact]:
    facts = [Fact(label="Version", value=f"{request.group} v{request.version}")]
    if request.gate:
        facts.append(Fact(label="Quality gate", value=request.gate.summary()[:1000]))
    if request.registered_by or request.registrant_identities:
        shown = ", ".join(request.registrant_identities) or str(request.registered_by)
        facts.append(Fact(label="Registered by", value=shown))
    facts.append(Fact(label="Decide before", value=request.expires_at.strftime("%Y-%m-%d %H:%M UTC")))
    return facts


def _request_notification(
    request: ApprovalRequest, approver: str, deps: Deps, production: str | None
) -> Notification:
    return Notification(
        kind=Kind.APPROVAL_REQUESTED,
        severity=Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"Approval requested: {request.group} version {request.version}",
        summary=(request.description or "")[:1000]
        + (f"\nCompared with production {production.rsplit('/', 2)[-2:]}." if production else ""),
        facts=_facts(request),
        links=[Link(text="Review and decide", url=link_for(request, approver, deps))],
        dedupe_key=f"approval-requested:{request.id}:{approver}",
        thread_key=request.package_arn.lower(),
        recipients=[approver],
    )


def _outcome_notification(request: ApprovalRequest) -> Notification:
    approved = request.status == "approved"
    who = ", ".join(
        d.approver for d in request.decisions if d.decision == ("approve" if approved else "reject")
    )
    return Notification(
        kind=Kind.APPROVED if approved else Kind.REJECTED,
        severity=Severity.INFO if approved else Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"{request.group} v{request.version} {'approved' if approved else 'rejected'} by {who}"[:250],
        summary="; ".join(f"{d.approver}: {d.comment}" for d in request.decisions if d.comment)[:3000],
        facts=_facts(request),
        dedupe_key=f"approval-{request.status}:{request.id}",
        thread_key=request.package_arn.lower(),
    )


def _audit(
    lineage: Lineage, request: ApprovalRequest, now: datetime, facts: dict[str, Any], key: str | None = None
) -> None:
    """The request as an `approval` node of the version's lineage; each decision/refusal in its history.
    `key` identifies the change (a retry with the same key writes nothing twice)."""
    node_id = f"{request.package_arn.lower()}/approval" + (f"/{request.stage}" if request.stage else "")
    status = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected", "expired": "Expired"}[
        request.status
    ]
    change = LineageChange(
        event_id=key or f"approval:{request.id}:{request.revision}:{len(request.refusals)}:{now.isoformat()}",
        event_time=now,
        detail_type="Steward Approval",
        nodes=[
            NodeUpdate(
                id=node_id,
                kind=NodeKind.APPROVAL,
                name=f"approval of {request.group}/{request.version}"
                + (f" for {request.stage}" if request.stage else ""),
                status=status,
                status_time=now,
                attributes={
                    "requestId": request.id,
                    "approvers": request.approvers,
                    "quorum": request.quorum,
                    "approvedBy": request.approvals(),
                    "expiresAt": request.expires_at.isoformat(),
                    "registeredBy": request.registered_by,
                    "artifact": request.artifact_uri,
                },
                history={k: v for k, v in facts.items() if v is not None},
            )
        ],
        edges=[EdgeUpdate(source=request.package_arn.lower(), target=node_id, relation=Relation.GATED_BY)],
    )
    with contextlib.suppress(DuplicateEventError):  # recorded by an earlier attempt of the same change
        lineage.apply(change)


# --- effects of a saved change, applied until they all succeeded ---------------------------------------


def _effects(
    at: datetime,
    audit: dict[str, Any] | None = None,
    registry: tuple[str, str] | None = None,
    outcome: bool = False,
    ask: dict[str, Any] | None = None,
    promote_stage: str | None = None,
    expired: bool = False,
    remind: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a change implies, saved with it (ApprovalRequest.unsettled) and applied by `_settle`."""
    effects: dict[str, Any] = {"at": at.isoformat()}
    if audit is not None:
        effects["audit"] = {k: v for k, v in audit.items() if v is not None}
    if registry is not None:
        effects["registry"] = {"status": registry[0], "description": registry[1]}
    if outcome:
        effects["outcome"] = True
    if ask is not None:
        effects["ask"] = ask
    if promote_stage is not None:
        effects["promoteStage"] = promote_stage
    if expired:
        effects["expired"] = True
    if remind is not None:
        effects["remind"] = remind
    return effects


def _commit(
    updated: ApprovalRequest,
    effects: dict[str, Any],
    deps: Deps,
    now: datetime,
    spend_link: tuple[str, int] | None = None,
) -> ApprovalRequest:
    """Save a change (optimistically: StaleEventError if the request moved) with its effects, then apply
    them. Callers start from a settled request (`_settle` first), so no pending effect is overwritten.
    `spend_link` is spent in the same write (LinkUsedError if it was spent already)."""
    unsettled = updated.model_copy(update={"unsettled": effects})
    saved = deps.store.save(unsettled, spend_link) if spend_link else deps.store.save(unsettled)
    return _settle(saved, deps, now)


def _settle(request: ApprovalRequest, deps: Deps, now: datetime) -> ApprovalRequest:
    """Apply the effects of the request's last change, then clear them. Each is idempotent: the registry
    is set to the same status, notifications carry dedupe keys, promotion commands derive their
    deployment ids, and the audit's lineage change is keyed by the change's revision. So a delivery
    that fails anywhere in here is completed by its retry (or by the next call on the request, or by
    the sweep) instead of being taken for a duplicate and dropped."""
    effects = request.unsettled
    if not effects:
        return request
    at = datetime.fromisoformat(effects["at"]) if effects.get("at") else now
    registry = effects.get("registry")
    if registry and not request.stage:
        deps.registry.set_approval(request.package_arn, registry["status"], registry["description"])
    if effects.get("promoteStage"):
        _promote_stage(request, str(effects["promoteStage"]), deps, at)
    if effects.get("ask") is not None:
        _ask_approvers(request, deps, effects["ask"].get("production"), effects["ask"].get("stage"))
    if effects.get("remind"):
        _remind(request, deps, effects["remind"]["marker"], effects["remind"]["waiting"])
    if effects.get("tell"):
        _tell_findings(request, deps, list(effects["tell"]["findings"]))
    if effects.get("outcome"):
        deps.outbox.send(_outcome_notification(request))
    if effects.get("expired"):
        deps.outbox.send(_expiry_notification(request))
    if effects.get("audit") is not None:  # last: until it lands, a pending node keeps it on the sweep's list
        _audit(deps.lineage, request, at, effects["audit"], key=f"approval:{request.id}:{request.revision}")
    try:
        return deps.store.save(request.model_copy(update={"unsettled": None}))
    except StaleEventError:  # someone settled it (or moved on from it) meanwhile
        return deps.store.get(request.id) or request


def _ask_approvers(
    request: ApprovalRequest, deps: Deps, production_arn: str | None, stage: str | None = None
) -> None:
    """Each eligible approver's own link (email), and Slack buttons for those with a Slack user id."""
    for approver in request.approvers:
        note = _request_notification(request, approver, deps, production_arn)
        if stage:
            subject = f"Approval requested: {request.group} version {request.version} to {stage}"
            note = note.model_copy(update={"subject": subject[:250]})
        deps.outbox.send(note)
        slack_id = request.slack_ids.get(approver)
        if slack_id and not stage:  # a DM with buttons; the interactivity route checks Slack's signature
            note = _request_notification(request, approver, deps, production_arn)  # its own link
            buttons = [
                Action(action_id="steward_approve", text="Approve", value=request.id, style="primary"),
                Action(action_id="steward_reject", text="Reject", value=request.id, style="danger"),
            ]
            deps.outbox.send(
                note.model_copy(
                    update={
                        "recipients": [slack_id],
                        "dedupe_key": f"approval-requested:{request.id}:{slack_id}",
                        "actions": buttons,
                    }
                )
            )


# --- deciding by link -------------------------------------------------------------------------------


@dataclass
class LinkView:
    """What a link shows: a confirmation page (with its anti-forgery value) or why it cannot."""

    request: ApprovalRequest | None
    claims: tokens.LinkClaims | None
    problem: str | None = None  # forged | expired | used | decided | not-allowed
    csrf: str | None = None


def view_link(token: str, deps: Deps, now: datetime) -> LinkView:
    """GET: check the link and show the page. Changes nothing (mail scanners may fetch it)."""
    try:
        claims = tokens.verify_token(deps.keys, token, int(now.timestamp()))
    except tokens.TokenError as exc:
        if exc.reason == "expired" and exc.claims is not None:  # genuine, too late: a POST is audited
            return LinkView(deps.store.get(exc.claims.request_id), exc.claims, "expired")
        return LinkView(None, None, "forged")
    request = deps.store.get(claims.request_id)
    if request is None:
        return LinkView(None, claims, "forged")
    if request.status != "pending":
        return LinkView(request, claims, "decided")
    if deps.store.link_used(claims.nonce):
        return LinkView(request, claims, "used")
    if claims.approver not in request.approvers:
        return LinkView(request, claims, "not-allowed")
    csrf = tokens.csrf_token(deps.keys[claims.key_id], claims.nonce, tokens.csrf_bucket(int(now.timestamp())))
    return LinkView(request, claims, None, csrf)


def decide_by_link(
    token: str, decision: str, comment: str, csrf: str, source: str | None, deps: Deps, now: datetime
) -> LinkView:
    """POST from the confirmation page: one decision, once, by the link's approver."""
    view = view_link(token, deps, now)
    claims, request = view.claims, view.request
    if request is not None and request.unsettled:  # finish what an earlier call left half done
        request = view.request = _settle(request, deps, now)
    if view.problem or claims is None or request is None:
        if request is not None and claims is not None:
            _refuse(request, claims.approver, view.problem or "refused", "link", source, deps, now)
        return view
    if decision not in ("approve", "reject") or not tokens.verify_csrf(
        deps.keys[claims.key_id], claims.nonce, csrf, tokens.csrf_bucket(int(now.timestamp()))
    ):
        _refuse(request, claims.approver, "forged form (anti-forgery value)", "link", source, deps, now)
        return LinkView(request, claims, "forged")
    # The link is spent in the same write that records its decision: both or neither, so a decision
    # that loses a race with another approver's is retried on the fresh request, and never burns the link.
    spend = (claims.nonce, int(request.expires_at.timestamp()))
    view = record_decision(request, claims.approver, decision, comment, "link", source, deps, now, spend)
    return LinkView(view.request, claims, view.problem, view.csrf) if view.problem == "used" else view


def record_decision(
    request: ApprovalRequest,
    approver: str,
    decision: str,
    comment: str,
    channel: str,
    source: str | None,
    deps: Deps,
    now: datetime,
    spend_link: tuple[str, int] | None = None,
) -> LinkView:
    """Apply one decision: quorum, first rejection, write-back to the registry, audit, notify.

    Optimistic: when another decision was saved meanwhile (two approvers at once on a quorum of 2), the
    request is read again and the decision applied to it, so both count; `spend_link` is spent only by
    the write that records the decision."""
    for _ in range(_DECISION_ATTEMPTS):
        try:
            return _record_decision_once(
                request, approver, decision, comment, channel, source, deps, now, spend_link
            )
        except LinkUsedError:
            return LinkView(deps.store.get(request.id), None, "used")
        except StaleEventError:
            fresh = deps.store.get(request.id)
            if fresh is None or fresh.status != "pending":
                return LinkView(fresh, None, "decided")
            request = _settle(fresh, deps, now) if fresh.unsettled else fresh
    return LinkView(deps.store.get(request.id), None, "retry")


_DECISION_ATTEMPTS = 5


def _record_decision_once(
    request: ApprovalRequest,
    approver: str,
    decision: str,
    comment: str,
    channel: str,
    source: str | None,
    deps: Deps,
    now: datetime,
    spend_link: tuple[str, int] | None,
) -> LinkView:
    if now >= request.expires_at:
        _refuse(request, approver, "expired", channel, source, deps, now)
        return LinkView(request, None, "expired")
    if approver not in request.approvers:
        _refuse(
            request, approver, "not an eligible approver (registrant or excluded)", channel, source, deps, now
        )
        return LinkView(request, None, "not-allowed")
    if any(d.approver == approver for d in request.decisions):
        return LinkView(request, None, "used")
    entry = Decision.model_validate(
        {
            "approver": approver,
            "decision": decision,
            "channel": channel,
            "comment": comment[:1000],
            "at": now,
            "source": source,
        }
    )
    decisions = [*request.decisions, entry]
    status = request.status
    approvals = {d.approver for d in decisions if d.decision == "approve"}
    if decision == "reject" and request.reject_on_first_rejection:
        status = "rejected"
    elif len(approvals) >= request.quorum:
        status = "approved"
    updated = request.model_copy(update={"decisions": decisions, "status": status})
    verdict = "Approved" if status == "approved" else "Rejected"
    names = ", ".join(sorted(approvals)) if status == "approved" else approver
    effects = _effects(
        now,
        audit={
            "decision": decision,
            "by": approver,
            "channel": channel,
            "comment": comment[:1000] or None,
            "source": source,
        },
        registry=(
            verdict,
            f"{verdict} via Steward by {names} (request {updated.id})"
            + (f": {comment}" if comment else "")[:900],
        )
        if status != "pending" and not updated.stage
        else None,
        outcome=status != "pending",
        promote_stage=approver if status == "approved" and updated.stage else None,
    )
    updated = _commit(updated, effects, deps, now, spend_link)  # StaleEventError: the caller retries
    return LinkView(updated, None, None)


def _refuse(
    request: ApprovalRequest,
    who: str,
    reason: str,
    channel: str,
    source: str | None,
    deps: Deps,
    now: datetime,
) -> None:
    """A refused attempt is audited too (who, when, channel, reason, source address)."""
    updated = request.model_copy(
        update={
            "refusals": [
                *request.refusals,
                Refusal(who=who, reason=reason, channel=channel, at=now, source=source),
            ]
        }
    )
    audit = {"refused": who, "reason": reason, "channel": channel, "source": source}
    try:
        _commit(updated, _effects(now, audit=audit), deps, now)
    except StaleEventError:
        return


# --- reminders and expiry (scheduled) -------------------------------------------------------------


class Worklist(Protocol):
    def active_nodes(self, kind: NodeKind, limit: int = 100) -> list[dict[str, Any]]: ...


def sweep(worklist: Worklist, deps: Deps, now: datetime, limit: int = 200) -> dict[str, list[str]]:
    """Remind approvers who have not decided as expiry nears; expire what nobody decided in time."""
    report: dict[str, list[str]] = {"reminded": [], "expired": [], "rules": []}
    for node in worklist.active_nodes(NodeKind.APPROVAL, limit=limit):
        request = deps.store.get(str(node.get("requestId", "")))
        if request is not None and request.unsettled:  # a change whose effects were cut short: finish it
            request = _settle(request, deps, now)
        if request is None or request.status != "pending":
            continue
        if request.rules_watch is not None:
            request = _watch_rules(request, deps, now, report)
            if request.status != "pending" or request.waiting_for_rules:
                continue  # decided by the rules, or still waiting for them (not asked: nothing to remind)
        if now >= request.expires_at:
            _expire(request, deps, now)
            report["expired"].append(request.id)
            continue
        for hours in sorted(request.reminder_hours_before_expiry, reverse=True):
            marker = f"{hours:g}h"
            if marker in request.reminders_sent or now < request.expires_at - timedelta(hours=hours):
                continue
            waiting = [a for a in request.approvers if all(d.approver != a for d in request.decisions)]
            try:
                request = _commit(
                    request.model_copy(update={"reminders_sent": [*request.reminders_sent, marker]}),
                    _effects(now, remind={"marker": marker, "waiting": waiting}),
                    deps,
                    now,
                )
            except StaleEventError:
                break
            report["reminded"].append(request.id)
    return report


def _watch_rules(
    request: ApprovalRequest, deps: Deps, now: datetime, report: dict[str, list[str]]
) -> ApprovalRequest:
    """The training rules a request waits for (or its approvers should hear of), as the lineage now
    has them (the reconciler merges them from DescribeTrainingJob): re-gate a waiting request once they
    ended or the wait is over; tell the approvers of a request already with them of a new finding, and
    reject it if the policy says `reject`. Decided requests are never touched (approvals.rules_watch)."""
    watch = request.rules_watch
    assert watch is not None
    nodes = deps.lineage.get_nodes(watch.jobs) if watch.jobs else {}
    findings, unfinished = rules_state(nodes.values())
    new = [f for f in findings if f not in watch.findings]
    lines = [*request.lineage, *[f for f in new if f not in request.lineage]][:24]
    if not watch.asked:
        if unfinished and now < watch.until:
            return request
        waited = watch.gate.training_rules_wait_minutes if unfinished else None
        gate = gate_with_rules(watch.base, findings, unfinished, watch.gate, request.evidence, waited)
        shifted = now + (request.expires_at - request.created_at)  # the approvers' time starts now
        after = request.model_copy(
            update={
                "lineage": lines,
                "expires_at": max(request.expires_at, shifted),
                "rules_watch": watch.model_copy(
                    update={"asked": True, "unfinished": unfinished, "findings": findings}
                )
                if unfinished
                else None,
            }
        )
        decided, effects = _gate_decision(
            after, gate, watch.production, now, audit={"rules": "; ".join(unfinished) or "finished"}
        )
    elif new:
        gate = gate_with_rules(watch.base, findings, unfinished, watch.gate, request.evidence, None)
        kept = watch.model_copy(update={"unfinished": unfinished, "findings": findings})
        after = request.model_copy(update={"lineage": lines, "rules_watch": kept if unfinished else None})
        if gate.decision == "reject":  # `reject` (and on_fail: reject): the gate decides now
            decided, effects = _gate_decision(after, gate, watch.production, now, audit={})
        else:
            decided = after.model_copy(update={"gate": gate})
            effects = _effects(now, audit={"finding": "; ".join(new), "gate": gate.summary()})
        effects["tell"] = {"findings": new}
    elif not unfinished:
        decided, effects = request.model_copy(update={"rules_watch": None}), _effects(now)
    else:
        return request
    try:
        saved = _commit(decided, effects, deps, now)
    except StaleEventError:  # decided meanwhile: the next sweep looks again
        return deps.store.get(request.id) or request
    report["rules"].append(request.id)
    return saved


def _tell_findings(request: ApprovalRequest, deps: Deps, findings: list[str]) -> None:
    """A finding that arrived after the approvers were asked: each of them hears of it (with their link
    while the request is still theirs to decide)."""
    import hashlib

    digest = hashlib.sha256("\n".join(findings).encode()).hexdigest()[:16]
    rejected = request.status == "rejected"
    for approver in request.approvers:
        base = _request_notification(request, approver, deps, None)
        verb = "rejected by the gate" if rejected else "has a new finding"
        deps.outbox.send(
            base.model_copy(
                update={
                    "kind": Kind.APPROVAL_REMINDER,
                    "subject": f"{request.group} version {request.version} {verb}: training rules"[:250],
                    "summary": (
                        "A SageMaker Debugger/Profiler rule of its training job ended after the request was "
                        + (
                            "sent; the policy rejects such versions: your link no longer decides anything: "
                            if rejected
                            else "sent; review it before deciding: "
                        )
                        + "; ".join(findings)
                    )[:3000],
                    "links": [] if rejected else base.links,
                    "dedupe_key": f"approval-finding:{request.id}:{digest}:{approver}",
                }
            )
        )


def _remind(request: ApprovalRequest, deps: Deps, marker: str, waiting: list[str]) -> None:
    for approver in waiting:
        reminder = _request_notification(request, approver, deps, None)
        deps.outbox.send(
            reminder.model_copy(
                update={
                    "kind": Kind.APPROVAL_REMINDER,
                    "subject": f"Reminder: {reminder.subject}"[:250],
                    "dedupe_key": f"approval-reminder:{request.id}:{marker}:{approver}",
                }
            )
        )


def _expire(request: ApprovalRequest, deps: Deps, now: datetime) -> None:
    registry = (
        ("Rejected", f"Expired without a decision via Steward (request {request.id})")
        if request.on_expiry == "reject" and not request.stage
        else None
    )
    effects = _effects(
        now, audit={"expired": True, "onExpiry": request.on_expiry}, registry=registry, expired=True
    )
    try:
        _commit(request.model_copy(update={"status": "expired"}), effects, deps, now)
    except StaleEventError:
        return


def _expiry_notification(request: ApprovalRequest) -> Notification:
    return Notification(
        kind=Kind.REJECTED if request.on_expiry == "reject" else Kind.APPROVAL_REMINDER,
        severity=Severity.WARNING,
        model_group=request.group,
        model_version=request.version,
        subject=f"Approval of {request.group} version {request.version} expired"
        + (" (rejected)" if request.on_expiry == "reject" else " (left pending)"),
        summary=f"{len(request.approvals())} of {request.quorum} approvals by the deadline.",
        facts=_facts(request),
        dedupe_key=f"approval-expired:{request.id}",
        thread_key=request.package_arn.lower(),
    )


# --- operators (IAM-authenticated, through the API) -----------------------------------------------


def pending_requests(worklist: Worklist, deps: Deps, limit: int = 200) -> list[ApprovalRequest]:
    requests = [
        deps.store.get(str(n.get("requestId", ""))) for n in worklist.active_nodes(NodeKind.APPROVAL, limit)
    ]
    return [r for r in requests if r is not None and r.status == "pending"]


def decide_as_operator(
    request_id: str, approver: str, decision: str, comment: str, caller: str | None, deps: Deps, now: datetime
) -> LinkView:
    """An operator records `approver`'s decision (their IAM identity is kept as the source)."""
    request = deps.store.get(request_id)
    if request is None:
        raise NotFoundError(f"no approval request {request_id!r}")
    request = _settle(request, deps, now)  # a retry after a failure finishes the first call's work
    if request.status != "pending":
        return LinkView(request, None, "decided")
    if decision not in ("approve", "reject"):
        raise ValueError("decision is approve or reject")
    return record_decision(
        request, approver.strip().lower(), decision, comment, "operator", caller, deps, now
    )


# --- Slack buttons --------------------------------------------------------------------------------


def decide_by_slack(
    request_id: str, slack_user: str, action_id: str, deps: Deps, now: datetime
) -> tuple[str, str]:
    """A button press, its signature already verified: (outcome, text for the original message)."""
    request = deps.store.get(request_id)
    if request is None:
        return "forged", "This approval request does not exist."
    request = _settle(request, deps, now)
    approver = next((email for email, uid in request.slack_ids.items() if uid == slack_user), None)
    if approver is None:
        _refuse(request, f"slack:{slack_user}", "not an approver of this request", "slack", None, deps, now)
        return "not-allowed", "You are not an approver of this version. Nothing was changed."
    if request.status != "pending":
        return "decided", f"Version {request.version} of {request.group} is already {request.status}."
    decision = "approve" if action_id == "steward_approve" else "reject"
    view = record_decision(request, approver, decision, "", "slack", f"slack:{slack_user}", deps, now)
    if view.problem or view.request is None:
        return view.problem or "refused", f"Refused: {view.problem}. Nothing was changed."
    done = view.request
    return "recorded", (
        f"{approver} chose {decision}: version {done.version} of {done.group} is now {done.status} "
        f"({len(done.approvals())}/{done.quorum} approvals)."
    )


# --- stages that need their own approval ------------------------------------------------------------


def open_stage_request(
    package_arn: str,
    stage: str,
    parent_id: str | None,
    policy: Policy,
    deps: Deps,
    now: datetime,
    evidence: list[str] | None = None,
) -> dict[str, Any]:
    """After a stage succeeds, the next one (marked `requires_approval`) asks the approvers again: same
    version, same gate numbers, its own links; approving it deploys that stage. `evidence`: what the
    stages before found (their integration tests), shown with the lineage."""
    parent = deps.store.get(parent_id) if parent_id else None
    group = parent.group if parent else package_arn.split(":model-package/", 1)[-1].rsplit("/", 1)[0]
    approval = policy.approval(group)
    if approval is None:
        why = f"stage {stage} needs an approval but {group} has no approvers"
        return {"outcome": "waiting", "reason": why}
    registrant = (parent.registrant_identities or [parent.registered_by or ""]) if parent else []
    target = next((s for s in policy.stages(group) if s.name == stage), None)
    request = ApprovalRequest(
        id=ApprovalRequest.id_for(package_arn, stage),
        package_arn=package_arn,
        group=group,
        version=parent.version if parent else None,
        artifact_uri=parent.artifact_uri if parent else None,
        image_digests=parent.image_digests if parent else [],
        registered_by=parent.registered_by if parent else None,
        registrant_identities=[who for who in registrant if who],
        lineage=[*(parent.lineage if parent else []), *[line[:400] for line in (evidence or [])[:5]]],
        description=f"Promote to {stage}: " + ((parent.description or "") if parent else ""),
        target_stages=[_stage_line(target)] if target else [stage],
        **_rules(approval, registrant, now),
        gate=parent.gate if parent else None,
        metrics=parent.metrics if parent else {},
        production_metrics=parent.production_metrics if parent else {},
        evidence=parent.evidence if parent else {},
        stage=stage,
        parent=parent_id,
        unsettled=_effects(now, audit={"opened": True, "stage": stage}, ask={"stage": stage}),
    )
    if not deps.store.create(request):
        existing = deps.store.get(request.id)
        if existing is not None and existing.unsettled:
            _settle(existing, deps, now)
            return {"outcome": "resumed", "request": request.id}
        return {"outcome": "duplicate", "request": request.id}
    _settle(request, deps, now)
    return {"outcome": "requested", "request": request.id, "stage": stage, "approvers": request.approvers}


def _promote_stage(request: ApprovalRequest, approver: str, deps: Deps, now: datetime) -> None:
    from steward.promotion.models import PromoteCommand

    if deps.promotions is None:
        raise ConfigurationError("PROMOTION_QUEUE_URL is empty: an approved stage cannot be promoted")
    deps.promotions.send(
        PromoteCommand(
            package_arn=request.package_arn,
            stage=request.stage or "",
            approval_request=request.id,
            requested_by=f"approval of stage {request.stage} by {', '.join(request.approvals()) or approver}",
            at=now,
        )
    )


def _stage_line(s: Any) -> str:
    """ "staging → churn-staging (ml.m5.large x1, canary)", as the page and messages show a stage."""
    own = ", needs its own approval" if s.requires_approval else ""
    return f"{s.name} → {s.endpoint} ({s.instance_type} x{s.instance_count}, {s.strategy}{own})"


def _rules(approval: ApprovalPolicy, registrant: list[str], now: datetime) -> dict[str, Any]:
    """The policy's rules a request keeps (who may decide, how many, until when), fixed when it opens."""
    return {
        "approvers": eligible(approval, [who for who in registrant if who]),
        "slack_ids": {a.email: a.slack_user_id for a in approval.approvers if a.slack_user_id},
        "quorum": approval.quorum,
        "excluded": approval.excluded,
        "reject_on_first_rejection": approval.reject_on_first_rejection,
        "on_expiry": approval.on_expiry,
        "reminder_hours_before_expiry": approval.reminder_hours_before_expiry,
        "created_at": now,
        "expires_at": now + timedelta(hours=approval.expiry_hours),
    }
