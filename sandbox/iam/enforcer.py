"""Enforcement: the botocore hooks that check each call a handler makes against its function's role."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sandbox.iam.actions import (
    _ACCESS_DENIED,
    _DEFAULT_DENIED,
    IAM_PREFIX,
    Call,
    _queue_arn,
    requests_for,
    s3_missing_key,
)
from sandbox.iam.policy import Decision, Request, Statement, evaluate, request
from sandbox.iam.roles import QueuePolicy, Role, queue_policies_of, roles_of
from sandbox.iam.settings import _PARAMS, ENV_USAGE, AccessDeniedError, log
from sandbox.iam.usage import (
    _NEEDS_KEPT,
    FunctionUsage,
    Usage,
    _collectors,
    _collectors_lock,
    _dropped,
    stable,
)

# --- enforcement ---------------------------------------------------------------------------------------


class Enforcer:
    """The sandbox's IAM: installed while a sandbox runs, checking the calls of the running handler."""

    def __init__(self, mode: str, account: str, region: str) -> None:
        self.mode = mode
        self.account, self.region = account, region
        self.roles: dict[str, Role] = {}  # function logical id -> Role
        self.queue_policies: list[QueuePolicy] = []
        self.usage = Usage(runs=1)
        self.exempt: set[int] = set()  # request signers of the sandbox's own clients
        # Which function's role the calls of this thread (and the pools it fans out to) are checked
        # against: a context variable, so a test's own calls beside a reacting sandbox are not the
        # running handler's, and parallel invocations each keep their own role.
        self._running: contextvars.ContextVar[tuple[Role, str | None] | None] = contextvars.ContextVar(
            f"steward-iam-{id(self)}", default=None
        )
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self._keys_used: dict[str, frozenset[str]] = {}
        # Roles of workload accounts a function may assume (role ARN -> Role), and those accounts: a call
        # made with such a role's credentials is checked against that role, in its account.
        self.assumable: dict[str, Role] = {}
        self.workload_accounts: set[str] = set()
        self._assumed: dict[str, Role | None] = {}  # access key id -> the assumed role it belongs to
        self._hooks: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.dropped: list[Statement] = []  # what drop() removed

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @property
    def denials(self) -> list[dict[str, Any]]:
        return self.usage.denials

    # -- set-up

    def load(self, cfn: dict[str, Any], resolver: Any, functions: dict[str, Any]) -> None:
        if not self.on:
            return
        self.roles = roles_of(cfn, resolver, functions)
        self.queue_policies = queue_policies_of(cfn, resolver)
        for role in self.roles.values():
            self._index(role)
        for function, sid in _dropped():
            self.drop(function, sid)

    def add_workload(self, account: str, roles: dict[str, Role]) -> None:
        """A workload account's roles (workload-account.yaml): assumable by the functions they trust."""
        self.workload_accounts.add(account)
        if not self.on:
            return
        for arn, role in roles.items():
            self.assumable[arn] = role
            self._index(role)

    def _index(self, role: Role) -> None:
        self._keys_used[role.key] = frozenset(c.key for s in role.statements for c in s.conditions)
        fu = self.usage.functions.setdefault(role.function, FunctionUsage(role=role.name))
        for s in role.statements:
            fu.granted.setdefault(s.key, [(a, stable(r)) for a, r in s.units()])
            fu.effects[s.key] = s.effect

    def drop(self, function: str, sid: str) -> Statement:
        """Remove one statement (by Sid or key) from a function's role: what a test of the policy does."""
        role = self._role(function)
        for s in role.statements:
            if sid in (s.sid, s.key):
                role.statements = [x for x in role.statements if x is not s]
                self.dropped.append(s)
                self._cache.clear()
                self._keys_used[role.key] = frozenset(c.key for x in role.statements for c in x.conditions)
                return s
        raise KeyError(f"{function} has no statement {sid} (has {', '.join(s.sid for s in role.statements)})")

    def _role(self, function: str) -> Role:
        for logical, role in self.roles.items():
            if function in (logical, role.function):
                return role
        for arn, role in self.assumable.items():  # a workload role, by its ARN or label
            if function in (arn, role.function):
                return role
        raise KeyError(f"no function {function}")

    def install(self) -> None:
        if not self.on:
            return
        from botocore.handlers import BUILTIN_HANDLERS

        self._hooks = [("before-parameter-build.*.*", self._remember), ("before-call.*.*", self._check)]
        BUILTIN_HANDLERS.extend(self._hooks)

    def uninstall(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        for hook in self._hooks:
            if hook in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(hook)
        self._hooks = []

    def finish(self) -> None:
        """The run's usage to the collectors, and to STEWARD_SANDBOX_IAM_USAGE's file when set."""
        if not self.on:
            return
        with _collectors_lock:
            for collector in _collectors:
                collector.merge(Usage.from_json(json.loads(json.dumps(self.usage.as_json()))))
        path = os.environ.get(ENV_USAGE)
        if path and not self.dropped:  # a run without some statements is not the template's usage
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(self.usage.as_json()) + "\n")

    def exempt_client(self, client: Any) -> None:
        self.exempt.add(id(client._request_signer))

    # -- checks

    @contextlib.contextmanager
    def running(self, function_logical_id: str) -> Iterator[None]:
        """While a handler runs: its calls are checked against its role. Lambda writes its logs (and
        traces) with the same role."""
        role = self.roles.get(function_logical_id) if self.on else None
        if role is None:
            yield
            return
        self._lambda_writes(role)
        token = self._running.set((role, os.environ.get("AWS_ACCESS_KEY_ID")))
        try:
            yield
        finally:
            self._running.reset(token)

    def _lambda_writes(self, role: Role) -> None:
        group = f"arn:aws:logs:{self.region}:{self.account}:log-group:{role.log_group}"
        needs = [
            request("logs:CreateLogStream", group),
            request("logs:PutLogEvents", f"{group}:log-stream:sandbox"),
        ]
        if role.tracing:
            needs += [request("xray:PutTraceSegments", "*"), request("xray:PutTelemetryRecords", "*")]
        self.lambda_may(role.function, needs, "Lambda (logs, traces)")

    def lambda_may(self, function: str, needs: list[Request], what: str) -> bool:
        """What the Lambda service does with the function's role (its logs, an SQS event source's polls,
        the on-failure destination): checked and recorded as the function's; False when denied."""
        if not self.on:
            return True
        role = self._role(function)
        for req in needs:
            decision = self._decide(role, req)
            if not decision.allowed:
                self._deny(role, req, decision, what)
                if self.mode == "enforce":
                    return False
            else:
                self._record(role, req, decision, lambda_service=True)
        return True

    def poll(self, function: str, queue_url: str) -> bool:
        """An SQS event source polling its queue (Lambda uses the function's role)."""
        arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        needs = [request(f"sqs:{a}", arn) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
        return self.lambda_may(function, needs, "Lambda (SQS event source)")

    def on_failure(self, function: str, queue_url: str) -> bool:
        """Lambda sending a failed invocation's record to the function's on-failure destination."""
        arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        return self.lambda_may(function, [request("sqs:SendMessage", arn)], "Lambda (on-failure destination)")

    def dead_letter(self, queue_url: str, rule_name: str) -> bool:
        """EventBridge sending an event it could not deliver to the rule target's DLQ."""
        queue_arn = _queue_arn(Call("sqs", "", {}, self.region, self.account), queue_url)
        return self.events_may_send(
            queue_url, queue_arn, f"arn:aws:events:{self.region}:{self.account}:rule/{rule_name}"
        )

    def events_may_send(self, queue_url: str, queue_arn: str, rule_arn: str) -> bool:
        """EventBridge delivering a dead letter: the queue's resource policy must allow it."""
        if not self.on:
            return True
        statements = [s for p in self.queue_policies if queue_url in p.queues for s in p.statements]
        statements = [
            s
            for s in statements
            if any(pr in ("service:events.amazonaws.com", "aws:*") for pr in s.principals)
        ]
        req = request(
            "sqs:SendMessage", queue_arn, **{"aws:SourceArn": rule_arn, "aws:SourceAccount": self.account}
        )
        decision = evaluate(statements, req)
        if not decision.allowed:
            self.usage.denials.append(
                {"function": None, "principal": "events.amazonaws.com", "action": req.action,
                 "resource": req.resource, "by": "resource policy", "rule": rule_arn,
                 "message": f"the queue policy of {queue_arn} does not let EventBridge rule {rule_arn} send"}
            )  # fmt: skip
            return self.mode != "enforce"
        return True

    def _remember(self, params: Any, context: Any = None, **_: Any) -> None:
        if self._running.get() is not None and context is not None:
            context[_PARAMS] = params

    def _check(self, model: Any, context: Any = None, request_signer: Any = None, **_: Any) -> Any:
        running = self._running.get()
        if running is None or id(request_signer) in self.exempt:
            return None
        role, own_key = running
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", own_key) if credentials is not None else own_key
        if key != own_key:
            assumed = self._assumed_role(key)
            if assumed is None:
                return None  # another principal (a role the handler assumed, in its own account)
            role = assumed  # a workload account's role: its policies decide, in its account
        service = model.service_model.service_name
        call = Call(
            service,
            model.name,
            (context or {}).get(_PARAMS) or {},
            (context or {}).get("client_region") or self.region,
            role.account or self.account,
        )
        needs = requests_for(call)
        if needs is None:
            self.usage.unmodelled[f"{service}.{model.name}"] += 1
            prefix = IAM_PREFIX.get(service, service)
            needs = [request(f"{prefix}:{model.name}", "*")]
        for req in needs:
            decision = self._decide(role, req)
            if not decision.allowed:
                self._deny(role, req, decision, f"{service}.{model.name}")
                if self.mode == "enforce":
                    return self._answer(service, role, req, decision)
            else:
                self._record(role, req, decision)
        if service == "sts" and model.name == "AssumeRole":
            refused = self._trust(role, str(call.params.get("RoleArn", "")), call)
            if refused is not None:
                return refused
        if s3_missing_key(call):
            # S3 answers 403, not 404, to whoever may not list the bucket: a missing object is not told
            # apart from a forbidden one. The code sees that answer; no permission is missing. The
            # s3:ListBucket that decides it is used when it allows.
            listing = request("s3:ListBucket", f"arn:aws:s3:::{call.params.get('Bucket')}")
            decision = self._decide(role, listing)
            if not decision.allowed:
                message = self.message(role, listing, decision)
                self.usage.s3_refusals.append(
                    {"function": role.function, "call": f"{service}.{model.name}", "action": listing.action,
                     "resource": listing.resource, "key": call.params.get("Key"),
                     "message": f"{message} (so S3 answered the missing object {call.params.get('Key')} "
                                "with 403 Access Denied, not 404 NoSuchKey)"}
                )  # fmt: skip
                log.info("IAM: %s", self.usage.s3_refusals[-1]["message"])
                return self._answer(service, role, None, None)
            self._record(role, listing, decision)
        return None

    def _assumed_role(self, access_key: str) -> Role | None:
        """The workload role whose assumed credentials carry `access_key` (None: not one of theirs)."""
        if access_key in self._assumed:
            return self._assumed[access_key]
        found = None
        with contextlib.suppress(Exception):
            from moto.sts.models import sts_backends

            for account in list(sts_backends):
                for assumed in list(sts_backends[account]["aws"].assumed_roles):
                    if assumed.access_key_id == access_key and assumed.role_arn in self.assumable:
                        found = dataclasses.replace(
                            self.assumable[assumed.role_arn], session=assumed.session_name
                        )
        self._assumed[access_key] = found
        return found

    def _trust(self, caller: Role, role_arn: str, call: Call) -> Any:
        """sts:AssumeRole of a workload account's role: the role must exist there and trust the caller
        (the caller's own policy was checked as for any call). None when allowed."""
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[4] not in self.workload_accounts:
            return None  # a role of Steward's own account (or one the sandbox does not hold): as before
        target = self.assumable.get(role_arn)
        principal = caller.arn(self.account)
        req = request(
            "sts:AssumeRole",
            role_arn,
            **{
                "aws:PrincipalArn": principal,
                "aws:PrincipalAccount": caller.account or self.account,
                "aws:PrincipalType": "AssumedRole",
                "sts:RoleSessionName": call.params.get("RoleSessionName"),
                "sts:ExternalId": call.params.get("ExternalId"),
            },
        )
        from sandbox.accounts import principal_allowed

        statements = (
            principal_allowed(target.trust, principal, caller.account or self.account) if target else []
        )
        decision = evaluate(statements, req)
        if decision.allowed:
            return None
        why = (
            f"{role_arn} is not a role of account {parts[4]} (workload-account.yaml)"
            if target is None
            else f"the trust policy of {role_arn} does not allow {principal}"
        )
        message = (
            f"User: {caller.principal(self.account)} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn} ({why})"
        )
        self.usage.denials.append(
            {"function": caller.function, "call": "sts.AssumeRole", "action": "sts:AssumeRole",
             "resource": role_arn, "by": "trust policy", "message": message}
        )  # fmt: skip
        level = logging.ERROR if self.mode == "enforce" else logging.WARNING
        log.log(level, "IAM (%s): %s", self.mode, message)
        if self.mode != "enforce":
            return None
        from botocore.awsrequest import AWSResponse

        body = {
            "Error": {"Code": "AccessDenied", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())},
        }
        return AWSResponse("https://sandbox.invalid", 403, {}, None), body

    def _decide(self, role: Role, req: Request) -> Decision:
        used = self._keys_used.get(role.key, frozenset())
        key = (role.key, req.action.lower(), req.resource, tuple(kv for kv in req.context if kv[0] in used))
        decision = self._cache.get(key)
        if decision is None:
            decision = evaluate(role.statements, req, self._principal_context(role, used))
            with self._lock:
                if len(self._cache) > 20000:
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _principal_context(self, role: Role, used: frozenset[str]) -> dict[str, tuple[str, ...]]:
        if not used:
            return {}
        now = datetime.now(UTC)
        values = {
            "aws:requestedregion": self.region,
            "aws:principalarn": role.arn(self.account),
            "aws:principalaccount": role.account or self.account,
            "aws:principaltype": "AssumedRole",
            "aws:userid": f"AROASANDBOX:{role.function}",
            "aws:securetransport": "true",
            "aws:viaawsservice": "false",
            "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:epochtime": str(int(now.timestamp())),
        }
        return {k: (v,) for k, v in values.items() if k in used}

    def _record(self, role: Role, req: Request, decision: Decision, lambda_service: bool = False) -> None:
        fu = self.usage.functions[role.function]
        with self._lock:
            for key, action, resource in decision.grants:
                unit = (key, action, stable(resource))
                fu.used[unit] += 1
                examples = fu.examples.setdefault(unit, set())
                if len(examples) < 5:
                    examples.add(
                        f"{req.action} on {req.resource}" + (" (by Lambda)" if lambda_service else "")
                    )
            granting = {key for key, _, _ in decision.grants}
            if len(granting) == 1:  # this statement alone allowed the request
                needed = fu.needs.setdefault(granting.pop(), set())
                if len(needed) < _NEEDS_KEPT:
                    needed.add((req.action, req.resource))

    def _deny(self, role: Role, req: Request, decision: Decision, call: str) -> None:
        message = self.message(role, req, decision)
        self.usage.denials.append(
            {"function": role.function, "call": call, "action": req.action, "resource": req.resource,
             "by": "explicit deny" if decision.denied_by else "no allow", "message": message}
        )  # fmt: skip
        level = logging.ERROR if self.mode == "enforce" else logging.WARNING
        log.log(level, "IAM (%s): %s", self.mode, message)

    def message(self, role: Role, req: Request, decision: Decision) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if decision.denied_by is not None
            else f"because no identity-based policy allows the {req.action} action"
        )
        who = role.principal(self.account)
        return f"User: {who} is not authorized to perform: {req.action} on resource: {req.resource} {why}"

    def _answer(self, service: str, role: Role, req: Request | None, decision: Decision | None) -> Any:
        from botocore.awsrequest import AWSResponse

        code, status = _ACCESS_DENIED.get(service, _DEFAULT_DENIED)
        message = "Access Denied" if req is None or decision is None else self.message(role, req, decision)
        body = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
        }
        return AWSResponse("https://sandbox.invalid", status, {}, None), body

    def raise_if_denied(self) -> None:
        if self.mode == "enforce" and self.usage.denials:
            lines = "\n  ".join(d["message"] for d in self.usage.denials[:20])
            more = f"\n  ... and {len(self.usage.denials) - 20} more" if len(self.usage.denials) > 20 else ""
            raise AccessDeniedError(
                f"IAM denied {len(self.usage.denials)} call(s) during this sandbox's run "
                f'(template.yaml\'s policies; README "IAM in the sandbox"):\n  {lines}{more}'
            )
