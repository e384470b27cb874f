"""The embedded sandbox: the whole of Steward on one machine, no AWS account.

moto provides the AWS APIs in-process; resources come from the translated template.yaml; events are
routed by the template's own rule patterns; each matched function's real handler runs in its
template environment with a Lambda context; SQS event sources are drained; API routes are served over
HTTP on 127.0.0.1. See README "The sandbox".
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sandbox import accounts
from sandbox.accounts import DeployedWorkload, Workload
from sandbox.dynamodb import FastDynamoDB
from sandbox.endpoint_models import EndpointModels
from sandbox.iam import Enforcer, mode_from
from sandbox.isolation import Isolation
from sandbox.patterns import matches, validate_pattern
from sandbox.runtime import Environment, load_handler, make_context
from sandbox.sagemaker import SageMakerEmulation
from sandbox.template import (
    ACCOUNT,
    CODE_BUCKET,
    FunctionSpec,
    Inventory,
    QueueMappingSpec,
    Resolver,
    RouteSpec,
    RuleSpec,
    TemplateError,
    translate,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
_SANDBOX_FUNCTION_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
}
log = logging.getLogger("sandbox")


class SandboxError(RuntimeError):
    pass


# PutEvents' limits (EventBridge API reference): an entry of at most 256 KB, counted as Time (14 bytes),
# Source, DetailType, Detail and each Resource in UTF-8; JSON nested at most 1100 levels deep.
MAX_ENTRY_BYTES = 256 * 1024
MAX_NESTING = 1100


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:  # iterative: the value may be nested deeper than Python's recursion limit
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _put_events_refusal(event: dict[str, Any]) -> dict[str, str] | None:
    """What PutEvents answers for an entry it refuses (None when it takes it)."""
    detail = event.get("detail")
    if _depth(detail) > MAX_NESTING:
        return {"code": "MalformedDetail", "message": f"Detail is nested deeper than {MAX_NESTING} levels"}
    try:
        size = (
            14
            + len(str(event.get("source", "")).encode())
            + len(str(event.get("detail-type", "")).encode())
            + len(json.dumps(detail).encode())
            + sum(len(str(r).encode()) for r in event.get("resources") or [])
        )
    except (TypeError, ValueError) as exc:
        return {"code": "MalformedDetail", "message": f"Detail is not JSON: {exc}"[:300]}
    if size > MAX_ENTRY_BYTES:
        return {"code": "ValidationException", "message": f"entry is {size} bytes, over {MAX_ENTRY_BYTES}"}
    return None


class _UnmarshalError(Exception):
    """What Lambda's runtime reports for a payload it cannot read (Runtime.UnmarshalError)."""


def _unmarshal(event: Any) -> Any:
    """The payload as the handler receives it: serialised and parsed again, as Lambda does."""
    try:
        return json.loads(json.dumps(event))
    except (RecursionError, TypeError, ValueError) as exc:
        raise _UnmarshalError(f"Unable to unmarshal input: {str(exc)[:200]}") from None


class _Tee(io.TextIOBase):
    """Where handler logs go: kept in memory (sb.logs) and echoed when verbose."""

    def __init__(self, sink: list[str], echo: bool) -> None:
        self.sink, self.echo, self._lock = sink, echo, threading.Lock()

    def write(self, text: str) -> int:
        if text.strip():
            with self._lock:
                self.sink.append(text.rstrip("\n"))
            if self.echo:
                import sys

                sys.stderr.write(text)
        return len(text)


class _CurrentStdout(io.TextIOBase):
    def write(self, text: str) -> int:
        import sys

        return sys.stdout.write(text)


def _generate_secret_string(gen: dict[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString (Secrets Manager's GetRandomPassword) produces for
    these properties: PasswordLength (default 32) characters from the included classes (lowercase,
    uppercase, digits, punctuation, space when IncludeSpace), minus ExcludeCharacters, at least one of
    each included class unless RequireEachIncludedType is false."""
    import secrets
    import string

    excluded = set(str(gen.get("ExcludeCharacters", "")))
    classes = [
        chars
        for flag, chars in (
            ("ExcludeLowercase", string.ascii_lowercase),
            ("ExcludeUppercase", string.ascii_uppercase),
            ("ExcludeNumbers", string.digits),
            ("ExcludePunctuation", string.punctuation),
        )
        if not gen.get(flag)
    ] + ([" "] if gen.get("IncludeSpace") else [])
    classes = [c for c in ("".join(ch for ch in chars if ch not in excluded) for chars in classes) if c]
    alphabet, length = "".join(classes), int(gen.get("PasswordLength", 32))
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if not gen.get("RequireEachIncludedType", True) or all(any(ch in c for ch in value) for c in classes):
            return value


def _share_botocore_loader() -> None:
    """Every boto3 session the process creates reads service models through one botocore Loader.

    A new Session otherwise parses the JSON service models again (~0.2 s per service per session), and
    the sandbox, Steward's adapters and the tests create many sessions. The models are read-only data, so
    sharing the Loader changes nothing but time. Event handlers stay per session (the call counter and
    fault injection rely on that).
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session, "_steward_shared_loader", False):
        return
    loaders: dict[Any, Any] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared  # type: ignore[assignment]
    botocore.session._steward_shared_loader = True  # type: ignore[attr-defined]


class Sandbox:
    """Steward on the embedded AWS. Use as a context manager; README "The sandbox" is its public API."""

    def __init__(
        self,
        policy: Any = None,
        template: str | Path | None = None,
        *,
        account: str = ACCOUNT,
        region: str = "us-east-1",
        workloads: Mapping[str, str | Workload | Mapping[str, Any]] | None = None,
        stage: str = "local",
        parameters: dict[str, str] | None = None,
        serve_api: bool = True,
        serve_aws: bool = False,
        react: bool = False,
        api_port: int = 0,
        verbose: bool = False,
        iam: str | None = None,
        parallel: bool = False,
    ) -> None:
        self.policy = policy
        self.template_path = Path(template) if template else DEFAULT_TEMPLATE
        try:  # everything (ARNs, queues, tables, policies, events, the API) is in this account and region
            self.account = accounts.check_account(account)
            self.region = accounts.check_region(region)
        except ValueError as exc:
            raise SandboxError(str(exc)) from None
        self.stage = stage
        self.stack = f"steward-{stage}"
        # What a deployer passes to `sam deploy`: the role promotion hands to CreateModel.
        self.parameters = {
            "Stage": stage,
            "ModelExecutionRoleArn": f"arn:aws:iam::{self.account}:role/steward-sandbox-sagemaker-execution",
            **(parameters or {}),
        }
        # Workload accounts beside Steward's (README "Multi-account"): each runs workload-account.yaml,
        # and Steward's stack is deployed with their accounts and roles, unless `parameters` say otherwise.
        self.workloads: dict[str, DeployedWorkload] = self._deploy_workloads(
            workloads or {}, parameters or {}
        )
        self.forwarding: list[dict[str, Any]] = []  # what each workload event met on its way to Steward
        self.serve_api = serve_api
        self.serve_aws = serve_aws
        # react: deliver follow-up work by itself (a background drain), as AWS would, so code that only
        # talks to the served endpoint (the SageMaker SDK, the CLI) sees Steward react and endpoints
        # reach InService without anyone calling drain(). Off by default: tests stay synchronous.
        self.react = react
        self._reactor: threading.Thread | None = None
        self._reacting = threading.Event()
        self.api_port = api_port
        self.verbose = verbose
        # IAM: "enforce" (default; STEWARD_SANDBOX_IAM), "soft" or "off" (README "IAM in the sandbox").
        self.iam = Enforcer(mode_from(iam), self.account, self.region)
        # parallel: invocations run at the same moment, as on Lambda (README "Concurrency"): API requests,
        # SQS batches, event targets and schedules each in their own thread, interleaving at AWS calls.
        # Off by default: one invocation at a time, so tests stay deterministic. May be switched between
        # calls (not while invocations run).
        self.parallel = parallel
        self._isolation = Isolation()
        self._pool: Any = None
        self._environments: dict[str, list[Any]] = {}  # function -> idle execution environments
        # Execution environments made per function: one per invocation that found none idle (a cold start).
        self.cold_starts: Counter[str] = Counter()
        self._environments_lock = threading.Lock()
        self._calls_lock = threading.Lock()
        self._drain_lock = threading.RLock()
        self._moto_lock: Any = None
        self.logs: list[str] = []
        self.metrics: list[dict[str, Any]] = []
        self.receiver: Any = None
        self.invocations: list[dict[str, Any]] = []
        self.aws_calls: Counter[str] = Counter()
        self.inventory: Inventory | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str] = {}
        self._invoke_lock = threading.RLock()
        self._pending: list[Any] = []  # events to route, or steps SageMaker takes later
        self._api: Any = None
        self._aws_server: Any = None
        self.aws_endpoint_url: str | None = None
        self._started = False

    def _deploy_workloads(
        self, specs: Mapping[str, Any], given: Mapping[str, str]
    ) -> dict[str, DeployedWorkload]:
        if not specs:
            return {}
        role = str(self.parameters.get("ModelExecutionRoleArn") or "")
        steward = {
            "StewardAccountId": self.account,
            "StewardRegion": self.region,
            "StewardStackName": self.stack,
            "ManagedNamePrefix": str(self.parameters.get("ManagedNamePrefix", "")),
            "ModelExecutionRoleName": role.split(":role/", 1)[1] if ":role/" in role else "",
        }
        deployed: dict[str, DeployedWorkload] = {}
        seen = {self.account}
        for name, spec in specs.items():
            try:
                workload = Workload.of(spec)
                accounts.check_account(workload.account, f"workload {name}'s account")
                region = accounts.check_region(workload.region or self.region)
            except (TypeError, ValueError) as exc:
                raise SandboxError(str(exc)) from None
            if workload.account in seen:
                raise SandboxError(f"workload {name}: account {workload.account} is already in this sandbox")
            seen.add(workload.account)
            try:
                deployed[name] = accounts.deploy(name, workload, region, steward)
            except ValueError as exc:
                raise SandboxError(str(exc)) from None
        wired = {
            "WorkloadAccountIds": [w.account for w in deployed.values()],
            "WorkloadReadRoleArns": [w.read_role_arn for w in deployed.values() if w.read_role_arn],
            "WorkloadPromotionRoleArns": [
                w.promotion_role_arn for w in deployed.values() if w.promotion_role_arn
            ],
        }
        for key, values in wired.items():
            if key not in given:
                self.parameters[key] = ",".join(str(v) for v in values)
        return deployed

    def workload(self, name_or_account: str) -> DeployedWorkload:
        """A workload account of this sandbox, by its name or account id."""
        for name, workload in self.workloads.items():
            if name_or_account in (name, workload.account):
                return workload
        raise SandboxError(
            f"no workload {name_or_account!r} in this sandbox (have: {', '.join(self.workloads) or 'none'})"
        )

    def _account_of(self, account: str | None) -> tuple[str, str]:
        """(account id, region) for `account`: None or Steward's id is Steward's; a workload's name or id."""
        if account is None or account == self.account:
            return self.account, self.region
        workload = self.workload(account)
        return workload.account, workload.region

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if exc[0] is None:  # a denial the handler swallowed still fails the run
            self.iam.raise_if_denied()

    _active: Sandbox | None = None  # moto's backends are process-wide: one sandbox at a time

    def start(self) -> Sandbox:
        if self._started:
            return self
        if Sandbox._active is not None:
            raise SandboxError(
                "another Sandbox is running in this process; stop it first (moto state is global)"
            )
        Sandbox._active = self
        self._saved_env = dict(os.environ)
        os.environ.update(accounts.credentials(self.account))  # Steward's functions call as its account
        os.environ["AWS_DEFAULT_REGION"] = self.region
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("MOTO_ACCOUNT_ID", None)  # it would put every call in one account
        from moto import mock_aws

        _share_botocore_loader()
        self._mock = mock_aws()
        self._mock.start()
        for account in {self.account, *(w.account for w in self.workloads.values())}:
            accounts.register(account)
        # mock_aws puts its own fake keys in the environment (moto's default account): Steward's go after.
        os.environ.update(accounts.credentials(self.account))
        self._serialize_moto()
        self._isolation.install()
        # Looked up on each call, so a test that wraps `sb.emit` (to duplicate, hold back or reorder what
        # SageMaker sends) sees every emulated event, the endpoint lifecycle's and pipeline starts' too.
        self._sagemaker = SageMakerEmulation(emit=lambda event: self.emit(event), later=self._later)  # noqa: PLW0108
        self._sagemaker.install()
        self._transactions = FastDynamoDB()
        self._transactions.install()
        self._models = EndpointModels(self.account)
        self._models.install()
        self._install_call_counter()
        self.iam = Enforcer(self.iam.mode, self.account, self.region)
        self.iam.install()
        from steward.kernel.aws import clients

        clients.reset()
        self._fresh_providers()
        self._started = True
        try:
            self._provision()
            self._capture_logs()
            self._configure_notifications()
            if self.serve_api:
                self._start_api()
            if self.serve_aws:
                self._start_aws_server()
            if self.react:
                self._start_reactor()
        except Exception:
            self.stop()
            raise
        return self

    def _configure_notifications(self) -> None:
        """Point the Slack secret at the local receiver and publish the policy, as an operator would."""
        from sandbox.receiver import Receiver

        assert self.inventory is not None
        outputs = self.inventory.outputs
        self.receiver = Receiver()
        self.receiver.start()
        if "SlackSecretName" in outputs:
            import secrets

            self.client("secretsmanager").put_secret_value(
                SecretId=outputs["SlackSecretName"],
                SecretString=json.dumps(
                    {
                        "bot_token": "xoxb-sandbox",
                        "api_base_url": f"{self.receiver.url}/slack/api",
                        "signing_secret": secrets.token_hex(16),
                    }
                ),
            )
        if self.policy is not None:
            self._publish_policy()

    def _publish_policy(self) -> None:
        from steward.policy import parse_policy

        assert self.inventory is not None and self.receiver is not None
        if "PolicyParameterName" not in self.inventory.outputs:
            return
        # Webhooks in a sandbox policy may point at the local receiver: ${sandbox.receiver}/webhooks/NAME
        document = self._policy_json().replace("${sandbox.receiver}", self.receiver.url)
        parse_policy(document)  # a bad policy fails here, naming the field, before anything runs
        self.client("ssm").put_parameter(
            Name=self.inventory.outputs["PolicyParameterName"],
            Value=document,
            Type="String",
            Overwrite=True,
            Tier="Advanced",
        )
        # Invocations read it afresh (their Parameters cache is their own); code outside them too.
        from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

        for provider in list(DEFAULT_PROVIDERS.values()):
            provider.clear_cache()

    def set_policy(self, policy: Any) -> None:
        """Publish another policy (a dict, YAML/JSON text, a file or a Policy), as an operator updating the
        SSM parameter would; the next invocation reads it. A bad policy raises and changes nothing."""
        previous = self.policy
        self.policy = policy
        try:
            self._publish_policy()
        except Exception:
            self.policy = previous
            raise

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """SageMaker calls made inside emit no events and skip the endpoint lifecycle: state that existed
        before Steward was deployed (an endpoint already InService, versions registered long ago)."""
        self._sagemaker.silent = True
        try:
            yield
        finally:
            self._sagemaker.silent = False

    def stop(self) -> None:
        if not self._started:
            return
        if self._reactor is not None:
            self._reacting.set()
            self._reactor.join(10)
            self._reactor = None
        self.__dict__.pop("_clients", None)
        if self.receiver is not None:
            self.receiver.stop()
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._aws_server is not None:
            self._aws_server.stop()
            self._aws_server = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._uninstall_call_counter()
        self.iam.uninstall()
        self.iam.finish()
        unserialize = self.__dict__.pop("_unserialize", None)
        if unserialize is not None:
            unserialize()
        self._release_logs()
        if getattr(self, "_sagemaker", None) is not None:
            self._sagemaker.uninstall()
            self._transactions.uninstall()
            self._models.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._isolation.uninstall()
        from steward.kernel.aws import clients

        clients.reset()
        os.environ.clear()
        os.environ.update(self._saved_env)
        self._started = False
        Sandbox._active = None

    # --- public API ------------------------------------------------------------------------------

    def client(self, service: str, account: str | None = None) -> Any:
        """A boto3 client bound to the embedded AWS (one per service and account for the sandbox's
        lifetime): of Steward's account, or with `account` (a workload's name or id) as someone of that
        workload account, in its region."""
        import boto3

        account_id, region = self._account_of(account)
        cache = self.__dict__.setdefault("_clients", {})
        key = service if account_id == self.account else (service, account_id)
        if key not in cache:
            keys = accounts.credentials(account_id)
            session = (
                boto3.session.Session()
                if account_id == self.account
                else boto3.session.Session(
                    aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                )
            )
            cache[key] = session.client(service, region_name=region)
            self.iam.exempt_client(cache[key])  # the sandbox's (and tests') own calls are not a handler's
        return cache[key]

    def credentials(self, account: str | None = None) -> dict[str, str]:
        """The environment an SDK outside the sandbox uses to call the served AWS (`serve_aws`) as
        Steward's account or a workload's: fake keys, the region."""
        account_id, region = self._account_of(account)
        return {**accounts.credentials(account_id), "AWS_DEFAULT_REGION": region}

    @property
    def api_url(self) -> str:
        if self._api is None:
            raise SandboxError("the local API is not served (Sandbox(serve_api=True))")
        return str(self._api.url)

    @property
    def outbox(self) -> list[dict[str, Any]]:
        """Every notification delivered: Slack messages and webhooks (received over HTTP) and emails
        (read back from the embedded SES), oldest first, as {"channel", "to", "subject", "text", ...}."""
        from sandbox.outbox import emails_sent

        received = list(self.receiver.records) if self.receiver else []
        return received + emails_sent(self.region, self.account)

    def output(self, name: str) -> Any:
        """A stack output of the translated template (e.g. "LineageTableName")."""
        assert self.inventory is not None
        return self.inventory.outputs[name]

    def function_names(self) -> list[str]:
        assert self.inventory is not None
        return sorted(f.name for f in self.inventory.functions.values())

    def put_events(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Route each event by the template's rules, run every matched handler, then drain follow-up work.

        Returns one dict per event: {"event_id", "targets": [{"function", "ok", "error", ...}]}. An entry
        PutEvents refuses (over 256 KB, or nested deeper than 1100 levels) reaches no rule: its dict has no
        targets and an "error" {"code", "message"}.
        """
        results: list[dict[str, Any]] = []
        deliveries: list[tuple[int, RuleSpec, dict[str, Any]]] = []  # parallel: all at once, after routing
        for event in events:
            full = self._envelope(event)
            refused = _put_events_refusal(full)
            if refused:  # EventBridge refuses the entry: no rule sees it
                results.append(
                    {
                        "event_id": None,
                        "detail_type": full.get("detail-type"),
                        "targets": [],
                        "error": refused,
                    }
                )
            elif self.parallel:
                results.append(self._routed(full))
                deliveries += [(len(results) - 1, rule, full) for rule in self._matching(full)]
            else:
                results.append(self._route(full))
        delivered = self._concurrently([partial(self._deliver_to_targets, r, e) for _, r, e in deliveries])
        for (index, _, _), outcome in zip(deliveries, delivered, strict=True):
            results[index]["targets"].extend(outcome["targets"])
        self.drain()
        return results

    def invoke(self, function: str, event: Any) -> dict[str, Any]:
        """Run one function's handler once (synchronously, no retries). `function` is its folder name."""
        spec = self._function(function)
        return self._invoke(spec, event)

    def drain(self, max_rounds: int = 1000, *, parallel: bool | None = None) -> int:
        """Deliver follow-up work until quiet: events SageMaker emits, messages on mapped SQS queues.

        In a parallel sandbox what is pending is delivered at once, in rounds (every event's targets, a few
        batches per queue, each in its own thread); `parallel=False` delivers it one at a time in order
        (what an interleaving test wants after the interleaving it chose)."""
        with self._drain_lock:  # HTTP requests drain too, from the server's threads
            if self.parallel if parallel is None else parallel:
                return self._drain_parallel(max_rounds)
            with self._invoke_lock:
                return self._drain(max_rounds)

    def _drain(self, max_rounds: int) -> int:
        done = 0
        for _ in range(max_rounds):
            progressed = False
            while self._pending:
                item = self._pending.pop(0)
                if callable(item):  # SageMaker finishing something it started (endpoint lifecycle)
                    item()
                else:
                    self._route(item)
                done += 1
                progressed = True
            for mapping in self.inventory.queue_mappings if self.inventory else []:
                if self._deliver_queue(mapping):
                    progressed = True
                    done += 1
            if not progressed:
                return done
        raise SandboxError("follow-up work did not settle (a loop between functions?)")

    PARALLEL_WORKERS = 16  # invocations a parallel sandbox runs at once (Lambda's default limit is 1,000)
    PARALLEL_POLLERS = 5  # batches per SQS event source at once, at most (Lambda starts with five pollers)
    PARALLEL_VISIBILITY = 300  # seconds a batch in flight stays invisible to the other pollers

    def _drain_parallel(self, max_rounds: int) -> int:
        done = 0
        for _ in range(max_rounds):
            items = []
            while self._pending:  # appended to by handlers' threads (SageMaker's events) as this runs
                items.append(self._pending.pop(0))
            work: list[Any] = []
            for item in items:
                if callable(item):  # SageMaker finishing something it started: it changes moto's state
                    work.append(partial(self._under_moto_lock, item))
                else:
                    work += [partial(self._deliver_to_targets, rule, item) for rule in self._matching(item)]
            polls = [
                partial(self._poll_scaling, mapping)
                for mapping in (self.inventory.queue_mappings if self.inventory else [])
            ]
            outcomes = self._concurrently(work + polls)
            polled = sum(outcomes[len(work) :])
            done += len(items) + polled
            if not items and not polled:
                return done
        raise SandboxError("follow-up work did not settle (a loop between functions?)")

    def _poll_scaling(self, mapping: QueueMappingSpec) -> int:
        """Batches delivered by one poller, and by more at once while its batch is full (a backlog): up to
        PARALLEL_POLLERS, as Lambda scales the pollers of an event source with what waits in the queue."""
        assert self._pool is not None
        more: list[Any] = []

        def backlog() -> None:
            more.extend(
                self._pool.submit(contextvars.Context().run, self._deliver_queue, mapping)
                for _ in range(self.PARALLEL_POLLERS - 1)
            )

        delivered = int(self._deliver_queue(mapping, on_full=backlog))
        return delivered + sum(int(future.result()) for future in more)

    def _under_moto_lock(self, step: Any) -> None:
        with self._moto_lock:
            step()

    def _concurrently(self, calls: list[Any]) -> list[Any]:
        """Run each call in its own thread (each in a fresh context, as a new invocation), all at once."""
        if not calls:
            return []
        with self._environments_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.PARALLEL_WORKERS, thread_name_prefix="sandbox-invoke")
        futures = [self._pool.submit(contextvars.Context().run, call) for call in calls]
        return [future.result() for future in futures]

    def _backend_lock(self) -> Any:
        """What makes a direct change to moto's state atomic: the invocation lock, or moto's own in a
        parallel sandbox (where invocations do not take the other)."""
        return self._moto_lock if self.parallel else self._invoke_lock

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event as if an AWS service had sent it (delivered on the next drain). An event of a
        workload account reaches Steward's bus only as that account's forwarding rules send it."""
        full = self._envelope(event)
        if self._forwarded(full):
            self._pending.append(full)

    def _forwarded(self, event: dict[str, Any]) -> bool:
        workload = next((w for w in self.workloads.values() if w.account == event.get("account")), None)
        if workload is None:
            return True  # Steward's own account's events are on its bus already
        assert self.inventory is not None
        rule, why = accounts.forwarded_by(
            workload,
            event,
            f"arn:aws:events:{self.region}:{self.account}:event-bus/default",
            self._bus_policy,
        )
        self.forwarding.append(
            {
                "event_id": event.get("id"),
                "detail_type": event.get("detail-type"),
                "account": event.get("account"),
                "region": event.get("region"),
                "workload": workload.name,
                "forwarded": rule is not None,
                "rule": rule,
                "reason": why,
            }
        )
        if rule is None:
            log.info("event %s of workload %s not forwarded: %s", event.get("id"), workload.name, why)
        return rule is not None

    def _later(self, step: Any) -> None:
        self._pending.append(step)

    def endpoint_outcome(self, name: str, outcome: str, account: str | None = None) -> None:
        """How the next CreateEndpoint/UpdateEndpoint of `name` ends: "succeed" (default), "fail",
        "rollback" (ROLLING_BACK, then InService on the old config), "silent-rollback" (InService on the
        old config, nothing else said) or "hold" (stays Updating until `complete_endpoint`). Calls queue up.
        `account` (a workload's name or id) names the endpoint of that account; without it, any account's.
        """
        assert self._sagemaker.endpoints is not None
        self._sagemaker.endpoints.ask(name, outcome, self._account_of(account)[0] if account else None)

    def endpoint_model(self, name: str, fn: Any) -> None:
        """What endpoint `name` answers to InvokeEndpoint: `fn(Invocation)` returns a ModelReply (status,
        body, content type, latency) or a JSON value, or raises Throttled (sandbox.endpoint_models).
        Without it the model echoes the request."""
        self._models.models[name] = fn

    def complete_endpoint(self, name: str, outcome: str = "succeed", account: str | None = None) -> None:
        """End a held endpoint update (see `endpoint_outcome`) of Steward's account, or of `account` (a
        workload's name or id), and deliver what follows."""
        from moto.sagemaker.models import sagemaker_backends

        assert self._sagemaker.endpoints is not None
        account_id, region = self._account_of(account)
        with self._backend_lock():
            self._sagemaker.endpoints.complete(sagemaker_backends[account_id][region], name, outcome)
        self.drain()

    def finish_pipeline_execution(
        self,
        arn: str,
        status: str = "Succeeded",
        steps: Iterable[dict[str, Any]] = (),
        failure_reason: str | None = None,
    ) -> None:
        """End a pipeline execution (started with StartPipelineExecution, which leaves it Executing) as
        SageMaker would after running `steps`, in ListPipelineExecutionSteps' shape (e.g. {"StepName":
        "Train", "StepStatus": "Succeeded", "Metadata": {"TrainingJob": {"Arn": ...}}}; a "StepType" is
        said only in the step's event). The steps are what ListPipelineExecutionSteps answers; each
        step's status change, then the execution's, is delivered on the next drain (none inside
        `quietly()`)."""
        from moto.sagemaker.models import sagemaker_backends

        from sandbox.sagemaker import finish_pipeline_execution

        emit = None if self._sagemaker.silent else self.emit
        parts = arn.split(":")  # the execution's own account and region
        account, region = (parts[4], parts[3]) if len(parts) > 5 else (self.account, self.region)
        with self._backend_lock():
            finish_pipeline_execution(
                sagemaker_backends[account][region], arn, status, list(steps), emit, failure_reason
            )

    def finish_training_rules(
        self, job_name: str, statuses: dict[str, str], details: dict[str, str] | None = None
    ) -> None:
        """End Debugger/Profiler rules of a training job created with DebugRuleConfigurations or
        ProfilerRuleConfigurations (which DescribeTrainingJob reports InProgress until then): e.g.
        {"Overfit": "IssuesFound"}, with optional StatusDetails per rule. No event follows (SageMaker
        sends none when a rule ends after its job): the reconciler reads them from DescribeTrainingJob."""
        from moto.sagemaker.models import sagemaker_backends

        from sandbox.sagemaker import finish_training_rules

        with self._backend_lock():
            finish_training_rules(sagemaker_backends[self.account][self.region], job_name, statuses, details)

    def training_job_event(self, job_name: str) -> dict[str, Any]:
        """The Training Job State Change SageMaker sends for `job_name` as DescribeTrainingJob answers it
        now (with its rule evaluations): deliver it with `put_events` (change it first to tell a story)."""
        from sandbox.sagemaker import training_job_event

        return training_job_event(self.client("sagemaker").describe_training_job(TrainingJobName=job_name))

    def backfill(
        self,
        since: str | None = None,
        *,
        budget: int | None = None,
        run: str | None = None,
        until_done: bool = True,
    ) -> dict[str, Any]:
        """Run the backfill function (README "Backfill") as `steward backfill` does on AWS: invoke it, and
        while it answers `"done": false`, invoke it again with its run id (each invocation spends at most
        about `budget` SageMaker calls). `until_done=False` stops after one invocation; `run` resumes a
        run. Returns the last answer: the run's summary, cumulative over its invocations."""
        event: dict[str, Any] = {"since": since, "budget": budget, "run": run}
        while True:
            outcome = self.invoke("backfill", {k: v for k, v in event.items() if v is not None})
            if not outcome["ok"]:
                raise SandboxError(f"backfill failed: {outcome.get('error')}")
            answer: dict[str, Any] = outcome["result"]
            if answer.get("done") or answer.get("error") or not until_done:
                return answer
            event = {"run": answer["run"], "budget": budget}

    def lineage(self, id: str | None = None, direction: str = "downstream", depth: int = 5) -> dict[str, Any]:
        """The lineage graph (the graph JSON of README "Lineage store"): everything, or a walk from `id`."""
        from steward.lineage import query

        store = self.lineage_store()
        if id is None:
            return query.whole_graph(store)
        return query.walk(store, id, direction=direction, depth=depth)

    def lineage_store(self) -> Any:
        from steward.lineage.adapters.store import LineageStore

        return LineageStore(self.output("LineageTableName"), self.output("IdempotencyTableName"))

    def dlq_messages(self, function: str) -> list[dict[str, Any]]:
        """Messages waiting in a function's DLQ (peeked: they stay on the queue)."""
        spec = self._function(function)
        urls = self._dlq_urls(spec)
        sqs = self.client("sqs")
        found = []
        for url in urls:
            response = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
            )
            for message in response.get("Messages", []):
                found.append(
                    {
                        "queue": url,
                        "body": json.loads(message["Body"]),
                        "attributes": message.get("MessageAttributes", {}),
                    }
                )
        return found

    def redrive(self, function: str) -> dict[str, Any]:
        """Send what sits in a function's DLQ back to the function that failed it (steward redrive)."""
        from steward_cli.queues import SqsDeadLetters
        from steward_cli.redrive import redrive

        assert self.inventory is not None
        spec = self._function(function)
        by_arn = {f.arn: f for f in self.inventory.functions.values()}

        def invoke(event: Any, function_arn: str | None) -> tuple[bool, str | None]:
            target = by_arn.get((function_arn or "").removesuffix(":$LATEST"), spec)
            outcome = self._invoke(target, event)
            return bool(outcome["ok"]), outcome.get("error")

        sqs = self.client("sqs")
        reports = []
        queue_dlqs = self._queue_dlqs(spec)
        for source, dlq in queue_dlqs:  # a queue's DLQ: move the messages back onto the queue

            def forward(body: Any, _arn: str | None, source: str = source) -> tuple[bool, str | None]:
                sqs.send_message(QueueUrl=source, MessageBody=json.dumps(body))
                return True, None

            reports.append(redrive(SqsDeadLetters(dlq, self.region, visibility_timeout=0), forward).as_dict())
        skip = {dlq for _, dlq in queue_dlqs}
        for url in self._dlq_urls(spec):
            if url in skip:
                continue
            # Each message once per redrive, as with `steward redrive` (a message that fails again stays
            # hidden for the rest of the run); then what failed is visible again at once, for the next
            # redrive and dlq_messages (AWS would wait out the visibility timeout).
            try:
                reports.append(
                    redrive(SqsDeadLetters(url, self.region, visibility_timeout=300), invoke).as_dict()
                )
            finally:
                self._make_visible(url)
        self.drain()
        merged: dict[str, Any] = {"redriven": [], "failed": [], "unreadable": 0}
        for report in reports:
            merged["redriven"] += report["redriven"]
            merged["failed"] += report["failed"]
            merged["unreadable"] += report["unreadable"]
        return merged

    def _make_visible(self, queue_url: str) -> None:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.account][self.region].get_queue(queue_url.rsplit("/", 1)[-1])
        with self._backend_lock():
            for message in queue._messages:
                message.visible_at = 0.0

    def run_schedules(self, match: str | None = None) -> list[dict[str, Any]]:
        """Fire each scheduled rule (those whose name contains `match`) once, as its timer would."""
        assert self.inventory is not None
        fired = [
            partial(
                self._deliver_to_targets,
                rule,
                self._envelope(
                    {
                        "source": "aws.events",
                        "detail-type": "Scheduled Event",
                        "detail": {},
                        "resources": [f"arn:aws:events:{self.region}:{self.account}:rule/{rule.name}"],
                    }
                ),
            )
            for rule in self.inventory.rules
            if rule.schedule and rule.enabled and (match is None or match in rule.name)
        ]
        results = self._concurrently(fired) if self.parallel else [deliver() for deliver in fired]
        self.drain()
        return results

    # --- provisioning ----------------------------------------------------------------------------

    def _provision(self) -> None:
        cfn = translate(self.template_path, self.parameters, self.region)
        resolver = Resolver(cfn, self.parameters, self.region, self.stack, self.account)
        inventory = Inventory(cfn=cfn)
        resources = cfn.get("Resources", {})
        included = {
            k: v for k, v in resources.items() if "Condition" not in v or resolver.condition(v["Condition"])
        }
        # Physical ids first (everything can Ref everything), then create what moto can hold.
        for logical, resource in included.items():
            resolver.physical[logical] = self._physical(logical, resource, resolver)
        # Dead-letter queues before the queues whose redrive policy names them.
        for logical, resource in sorted(
            included.items(), key=lambda kv: "RedrivePolicy" in (kv[1].get("Properties") or {})
        ):
            self._create(logical, resource, resolver)
        # Functions first: invoke configs, rules and event sources refer to them.
        ordered = sorted(included.items(), key=lambda kv: kv[1]["Type"] != "AWS::Lambda::Function")
        for logical, resource in ordered:
            self._wire(logical, resource, resolver, inventory)
        for name, output in (cfn.get("Outputs") or {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            inventory.outputs[name] = resolver.resolve(output["Value"])
        inventory.physical = resolver.physical
        self.inventory = inventory
        self.iam.load(cfn, resolver, inventory.functions)
        self._bus_policy = accounts.bus_policy_statements(cfn, resolver)
        for workload in self.workloads.values():
            self.iam.add_workload(workload.account, workload.roles)

    def _physical(self, logical: str, resource: dict[str, Any], r: Resolver) -> dict[str, Any]:
        kind, props = resource["Type"], resource.get("Properties") or {}
        region, arn_base, account = self.region, f"{self.region}:{self.account}", self.account

        def name(key: str) -> str:
            value = props.get(key)
            return str(r.resolve(value)) if value else f"{self.stack}-{logical}"

        if kind == "AWS::DynamoDB::Table":
            table = name("TableName")
            return {
                "Ref": table,
                "Arn": f"arn:aws:dynamodb:{arn_base}:table/{table}",
                "StreamArn": f"arn:aws:dynamodb:{arn_base}:table/{table}/stream/sandbox",
            }
        if kind == "AWS::SQS::Queue":
            queue = name("QueueName")
            return {
                "Ref": f"https://sqs.{region}.amazonaws.com/{account}/{queue}",
                "QueueName": queue,
                "Arn": f"arn:aws:sqs:{arn_base}:{queue}",
                "QueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{queue}",
            }
        if kind == "AWS::SNS::Topic":
            topic = name("TopicName")
            return {
                "Ref": f"arn:aws:sns:{arn_base}:{topic}",
                "TopicName": topic,
                "TopicArn": f"arn:aws:sns:{arn_base}:{topic}",
            }
        if kind == "AWS::Lambda::Function":
            code = props.get("Code", {})
            fname = (
                str(code.get("S3Key", logical)).rstrip("/").rsplit("/", 1)[-1]
                if code.get("S3Bucket") == CODE_BUCKET
                else logical
            )
            fname = name("FunctionName") if props.get("FunctionName") else fname
            return {"Ref": fname, "Arn": f"arn:aws:lambda:{arn_base}:function:{fname}"}
        if kind == "AWS::SecretsManager::Secret":
            secret = name("Name")
            return {
                "Ref": f"arn:aws:secretsmanager:{arn_base}:secret:{secret}-sandbx",
                "Name": secret,
                "Id": f"arn:aws:secretsmanager:{arn_base}:secret:{secret}-sandbx",
            }
        if kind == "AWS::SSM::Parameter":
            return {"Ref": name("Name"), "Type": props.get("Type", "String"), "Value": props.get("Value")}
        if kind == "AWS::S3::Bucket":
            bucket = name("BucketName").lower()
            return {
                "Ref": bucket,
                "Arn": f"arn:aws:s3:::{bucket}",
                "DomainName": f"{bucket}.s3.amazonaws.com",
            }
        if kind == "AWS::IAM::Role":
            return {
                "Ref": f"{self.stack}-{logical}",
                "Arn": f"arn:aws:iam::{account}:role/{self.stack}-{logical}",
            }
        if kind == "AWS::Logs::LogGroup":
            group = name("LogGroupName")
            return {"Ref": group, "Arn": f"arn:aws:logs:{arn_base}:log-group:{group}:*"}
        if kind == "AWS::Lambda::LayerVersion":
            return {"Ref": f"arn:aws:lambda:{arn_base}:layer:{logical}:1"}
        if kind == "AWS::Events::Rule":
            rule = name("Name")
            return {"Ref": rule, "Arn": f"arn:aws:events:{arn_base}:rule/{rule}"}
        if kind == "AWS::ApiGateway::RestApi":
            return {"Ref": "sandboxapi", "RootResourceId": "root"}
        if kind == "AWS::CloudWatch::Alarm":
            alarm = name("AlarmName")
            return {"Ref": alarm, "Arn": f"arn:aws:cloudwatch:{arn_base}:alarm:{alarm}"}
        return {"Ref": f"{self.stack}-{logical}", "Arn": f"arn:aws:sandbox:{arn_base}:{logical}"}

    def _create(self, logical: str, resource: dict[str, Any], r: Resolver) -> None:
        kind = resource["Type"]
        props = r.resolve(resource.get("Properties") or {})
        phys = r.physical[logical]
        if kind == "AWS::DynamoDB::Table":
            ddb = self.client("dynamodb")
            args: dict[str, Any] = {
                "TableName": phys["Ref"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if args["BillingMode"] == "PROVISIONED":
                args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
            ddb.create_table(**args)
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                ddb.update_time_to_live(TableName=phys["Ref"], TimeToLiveSpecification=ttl)
        elif kind == "AWS::SQS::Queue":
            attributes = {
                k: str(v)
                for k, v in props.items()
                if k
                in (
                    "DelaySeconds",
                    "MessageRetentionPeriod",
                    "VisibilityTimeout",
                    "FifoQueue",
                    "ContentBasedDeduplication",
                    "ReceiveMessageWaitTimeSeconds",
                )
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            self.client("sqs").create_queue(QueueName=phys["QueueName"], Attributes=attributes)
        elif kind == "AWS::SNS::Topic":
            self.client("sns").create_topic(Name=phys["TopicName"])
        elif kind == "AWS::S3::Bucket":
            from sandbox.replay import create_bucket

            create_bucket(self.client("s3"), phys["Ref"])
        elif kind == "AWS::SecretsManager::Secret":
            value = props.get("SecretString")
            if value is None:
                gen = props.get("GenerateSecretString") or {}
                generated = _generate_secret_string(gen)
                key = gen.get("GenerateStringKey")
                template = json.loads(gen.get("SecretStringTemplate", "{}")) if key else None
                value = json.dumps({**(template or {}), key: generated}) if key else generated
            created = self.client("secretsmanager").create_secret(Name=phys["Name"], SecretString=value)
            phys["Ref"] = phys["Id"] = created["ARN"]  # what Ref returns, now that the ARN exists
        elif kind == "AWS::SES::EmailIdentity":
            identity = str(props["EmailIdentity"])
            self.client("sesv2").create_email_identity(EmailIdentity=identity)
            self.client("ses").verify_email_identity(
                EmailAddress=identity
            )  # as if the owner clicked the link
        elif kind == "AWS::SSM::Parameter":
            self.client("ssm").put_parameter(
                Name=phys["Ref"],
                Value=str(props.get("Value", "")),
                Type=props.get("Type", "String"),
                Overwrite=True,
            )

    def _wire(self, logical: str, resource: dict[str, Any], r: Resolver, inv: Inventory) -> None:
        kind = resource["Type"]
        props = resource.get("Properties") or {}
        if kind == "AWS::Lambda::Function":
            resolved = r.resolve(
                {
                    k: v
                    for k, v in props.items()
                    if k in ("Environment", "Timeout", "MemorySize", "Handler", "Code")
                }
            )
            code = resolved.get("Code", {})
            if code.get("S3Bucket") != CODE_BUCKET:
                raise TemplateError(f"{logical}: the sandbox runs functions whose CodeUri is a local folder")
            env = {k: str(v) for k, v in (resolved.get("Environment") or {}).get("Variables", {}).items()}
            phys = r.physical[logical]
            inv.functions[logical] = FunctionSpec(
                logical_id=logical,
                name=phys["Ref"],
                code_dir=(self.template_path.parent / code["S3Key"]).resolve(),
                handler=resolved["Handler"],
                environment=env,
                timeout=int(resolved.get("Timeout", 3)),
                memory=int(resolved.get("MemorySize", 128)),
                arn=phys["Arn"],
            )
        elif kind == "AWS::Lambda::EventInvokeConfig":
            resolved = r.resolve(props)
            target = self._function_by_ref(inv, resolved["FunctionName"])
            target.retries = int(resolved.get("MaximumRetryAttempts", 2))
            destination = ((resolved.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination"
            )
            target.on_failure = self._queue_url_for_arn(r, destination) if destination else None
        elif kind == "AWS::Events::Rule":
            resolved = r.resolve(props)
            pattern = resolved.get("EventPattern")
            if isinstance(pattern, str):  # CloudFormation accepts the pattern as a JSON string too
                pattern = json.loads(pattern)
            if pattern is not None:
                validate_pattern(pattern)
            targets = []
            for target in resolved.get("Targets", []):
                fn = self._function_logical_by_arn(r, target["Arn"])
                if fn is None:
                    continue  # only Lambda targets run in the sandbox
                dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
                targets.append(
                    {
                        "function": fn,
                        "dlq": self._queue_url_for_arn(r, dlq) if dlq else None,
                        "input": target.get("Input"),
                        "retry": target.get("RetryPolicy"),
                    }
                )
            inv.rules.append(
                RuleSpec(
                    logical,
                    r.physical[logical]["Ref"],
                    pattern,
                    resolved.get("ScheduleExpression"),
                    targets,
                    resolved.get("State", "ENABLED") == "ENABLED",
                )
            )
        elif kind == "AWS::Lambda::EventSourceMapping":
            resolved = r.resolve(props)
            source = str(resolved.get("EventSourceArn", ""))
            if source.startswith("arn:aws:sqs:"):
                fn = self._function_by_ref(inv, resolved["FunctionName"])
                inv.queue_mappings.append(
                    QueueMappingSpec(
                        function=fn.logical_id,
                        queue_url=self._queue_url_for_arn(r, source) or "",
                        batch_size=int(resolved.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (resolved.get("FunctionResponseTypes") or []),
                    )
                )
        elif kind == "AWS::ApiGateway::RestApi":
            body = props.get("Body") or {}
            for path, methods in (body.get("paths") or {}).items():
                for method, spec in methods.items():
                    integration = spec.get("x-amazon-apigateway-integration") or {}
                    uri = integration.get("uri", {})
                    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
                    text = text[0] if isinstance(text, list) else text
                    function = text.split("${", 2)[-1].split(".Arn}", 1)[0] if ".Arn}" in text else None
                    if not function:
                        continue
                    security = spec.get("security") or body.get("security") or []
                    auth = "AWS_IAM" if any("AWS_IAM" in s for s in security) else "NONE"
                    method_name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                    inv.routes.append(RouteSpec(method_name, path, function, auth))

    def _function_by_ref(self, inv: Inventory, ref: str) -> FunctionSpec:
        for spec in inv.functions.values():
            if ref in (spec.name, spec.arn, spec.logical_id):
                return spec
        raise TemplateError(f"no function {ref}")

    def _function_logical_by_arn(self, r: Resolver, arn: str) -> str | None:
        return next((k for k, v in r.physical.items() if v.get("Arn") == arn and ":function:" in arn), None)

    def _queue_url_for_arn(self, r: Resolver, arn: str | None) -> str | None:
        return next(
            (v["QueueUrl"] for v in r.physical.values() if v.get("Arn") == arn and "QueueUrl" in v), None
        )

    def _function(self, name: str) -> FunctionSpec:
        assert self.inventory is not None
        for spec in self.inventory.functions.values():
            if name in (spec.name, spec.logical_id):
                return spec
        raise SandboxError(f"no function {name!r} in the template (have: {', '.join(self.function_names())})")

    def _queue_dlqs(self, spec: FunctionSpec) -> list[tuple[str, str]]:
        """(source queue URL, its dead-letter queue URL) for each SQS event source of the function."""
        assert self.inventory is not None
        sqs, pairs = self.client("sqs"), []
        for mapping in self.inventory.queue_mappings:
            if mapping.function != spec.logical_id:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=mapping.queue_url, AttributeNames=["RedrivePolicy"]
            )
            policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy") or "{}")
            target = str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
            if target:
                pairs.append((mapping.queue_url, sqs.get_queue_url(QueueName=target)["QueueUrl"]))
        return pairs

    def _dlq_urls(self, spec: FunctionSpec) -> list[str]:
        assert self.inventory is not None
        urls = [spec.on_failure] if spec.on_failure else []
        urls += [dlq for _, dlq in self._queue_dlqs(spec)]
        for rule in self.inventory.rules:
            urls += [t["dlq"] for t in rule.targets if t["function"] == spec.logical_id and t["dlq"]]
        return list(dict.fromkeys(urls))

    # --- routing and invocation ------------------------------------------------------------------

    def _envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        """What EventBridge adds on PutEvents: id, time, account, region, version."""
        if not isinstance(event, dict):
            raise SandboxError("an event is a JSON object")
        full = dict(event)
        full.setdefault("version", "0")
        full.setdefault("id", str(uuid.uuid4()))
        full.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        full.setdefault("account", self.account)
        full.setdefault("region", self.region)
        full.setdefault("resources", [])
        return full

    def _route(self, event: dict[str, Any]) -> dict[str, Any]:
        result = self._routed(event)
        for rule in self._matching(event):
            result["targets"].extend(self._deliver_to_targets(rule, event)["targets"])
        return result

    @staticmethod
    def _routed(event: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": event.get("id"), "detail_type": event.get("detail-type"), "targets": []}

    def _matching(self, event: dict[str, Any]) -> list[RuleSpec]:
        assert self.inventory is not None
        return [
            rule
            for rule in self.inventory.rules
            if rule.enabled and rule.pattern is not None and matches(rule.pattern, event)
        ]

    def _deliver_to_targets(self, rule: RuleSpec, event: dict[str, Any]) -> dict[str, Any]:
        """Asynchronous invocation as Lambda does it: 1 + MaximumRetryAttempts tries, then the DLQ."""
        assert self.inventory is not None
        outcomes = []
        for target in rule.targets:
            spec = self.inventory.functions[target["function"]]
            payload = json.loads(target["input"]) if target.get("input") else event
            attempts, outcome = 0, None
            for attempts in range(1, spec.retries + 2):  # noqa: B007
                outcome = self._invoke(spec, payload)
                if outcome["ok"]:
                    break
            assert outcome is not None
            entry = {
                "function": spec.name,
                "rule": rule.name,
                "ok": outcome["ok"],
                "error": outcome.get("error"),
                "attempts": attempts,
                "result": outcome.get("result"),
            }
            if not outcome["ok"]:
                entry["dead_letter"] = self._dead_letter(spec, target, payload, outcome, attempts, rule)
            outcomes.append(entry)
        return {"rule": rule.name, "targets": outcomes}

    def _dead_letter(
        self,
        spec: FunctionSpec,
        target: dict[str, Any],
        payload: Any,
        outcome: dict[str, Any],
        attempts: int,
        rule: RuleSpec | None = None,
    ) -> str | None:
        """The Lambda on-failure destination record (or, without one, the rule target's DLQ message)."""
        sqs = self.client("sqs")
        if spec.on_failure:
            if not self.iam.on_failure(spec.logical_id, spec.on_failure):
                return None  # Lambda could not send it: the record is lost, as on AWS
            record = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": f"{spec.arn}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": payload,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": {
                    "errorType": outcome.get("error_type"),
                    "errorMessage": outcome.get("error"),
                },
            }
            sqs.send_message(QueueUrl=spec.on_failure, MessageBody=json.dumps(record, default=str))
            return spec.on_failure
        if target.get("dlq"):
            if rule is not None and not self.iam.dead_letter(target["dlq"], rule.name):
                return None
            sqs.send_message(
                QueueUrl=target["dlq"],
                MessageBody=json.dumps(payload, default=str),
                MessageAttributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": str(outcome.get("error_type"))},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(outcome.get("error"))[:1000]},
                },
            )
            return str(target["dlq"])
        return None

    def _deliver_queue(self, mapping: QueueMappingSpec, on_full: Any = None) -> bool:
        """One poll of an SQS event source: a batch to the function; failed items go back to the queue.
        `on_full()` is called when the batch is full (more may wait), before the function runs."""
        if not self.iam.poll(mapping.function, mapping.queue_url):
            return False  # the event source cannot read its queue: the messages stay there
        sqs = self.client("sqs")
        response = sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(10, mapping.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            # One poller at a time sees every message again at once; pollers at the same moment must not
            # take the same messages (SQS hides a batch in flight for the visibility timeout).
            VisibilityTimeout=self.PARALLEL_VISIBILITY if self.parallel else 0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return False
        if on_full is not None and len(messages) >= min(10, mapping.batch_size):
            on_full()
        spec = self.inventory.functions[mapping.function] if self.inventory else None
        assert spec is not None
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{mapping.queue_url.rsplit('/', 1)[-1]}"
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": self.region,
            }
            for m in messages
        ]
        outcome = self._invoke(spec, {"Records": records})
        failed: set[str] = set()
        if not outcome["ok"]:
            failed = {r["messageId"] for r in records}
        elif mapping.report_batch_item_failures and isinstance(outcome.get("result"), dict):
            failed = {f.get("itemIdentifier") for f in outcome["result"].get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif self.parallel:  # visible again at once, as a failed message is without a timeout here
                sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        # moto re-delivers a failed message immediately; its queue's redrive policy moves it to the DLQ.
        return True

    def _invoke(self, spec: FunctionSpec, event: Any) -> dict[str, Any]:
        if self.parallel:
            return self._run(spec, event)
        with self._invoke_lock:  # one invocation at a time
            return self._run(spec, event)

    def _run(self, spec: FunctionSpec, event: Any) -> dict[str, Any]:
        """One invocation in an execution environment of the function (sandbox/isolation.py: its own
        environment, output and Powertools state, whatever else runs at the same moment)."""
        env = {
            **spec.environment,
            **_SANDBOX_FUNCTION_ENV,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        }
        started = time.perf_counter()
        record: dict[str, Any] = {"function": spec.name}
        handler, crashed = None, False
        with self._isolation.invocation(env) as scope:
            try:
                handler = self._environment(spec)
                context = make_context(spec.name, spec.arn, spec.memory, spec.timeout)
                with self.iam.running(spec.logical_id):
                    result = handler(_unmarshal(event), context)
                record.update(ok=True, result=result)
            except _UnmarshalError as exc:
                record.update(ok=False, error=str(exc), error_type="Runtime.UnmarshalError")
            except Exception as exc:  # a handler failure is an outcome, as in Lambda
                record.update(ok=False, error=str(exc)[:2000], error_type=type(exc).__name__)
                if self.verbose:
                    traceback.print_exc()
            except BaseException as exc:  # the invocation died (a timeout, a crash a test injects)
                record.update(ok=False, error=str(exc)[:2000], error_type=type(exc).__name__, crashed=True)
                crashed = True
                raise
            finally:
                # Lambda reuses an environment for the next invocation, not one whose runtime died.
                if handler is not None and not crashed:
                    with self._environments_lock:
                        self._environments[spec.logical_id].append(handler)
                record["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
                self._collect_metrics(scope.stdout.getvalue())
                self.invocations.append(record)
        return record

    def _environment(self, spec: FunctionSpec) -> Any:
        """An idle execution environment of the function (its loaded handler), or a new one: a cold
        start, its own module globals (an event handler app, a batch processor), as Lambda makes one
        for each invocation that finds none free."""
        with self._environments_lock:
            idle = self._environments.setdefault(spec.logical_id, [])
            if idle:
                return idle.pop()
            self.cold_starts[spec.name] += 1
            made = self.cold_starts[spec.name]
        unique = spec.logical_id if made == 1 else f"{spec.logical_id}_{made}"
        return load_handler(spec.code_dir, spec.handler, unique)

    def _policy_json(self) -> str:
        policy = self.policy
        if isinstance(policy, str | Path) and Path(policy).is_file():
            return Path(policy).read_text()
        if hasattr(policy, "model_dump_json"):
            return str(policy.model_dump_json())
        return json.dumps(policy)

    def _fresh_providers(self) -> None:
        # Powertools' providers keep the boto3 clients they made (of the previous sandbox's moto): new ones
        # for this sandbox. Their cached values are per invocation (sandbox/isolation.py): a test may
        # change the policy between two invocations.
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()

    def _capture_logs(self) -> None:
        """Handler logs (Powertools writes JSON lines to its stream) go to sb.logs while the sandbox runs."""
        assert self.inventory is not None
        shared = next(iter(self.inventory.functions.values())).environment if self.inventory.functions else {}
        # Powertools reads its settings (metrics namespace, log level) when the module is first imported,
        # as in Lambda, where that happens inside the function's environment.
        with Environment(
            {k: v for k, v in shared.items() if k.startswith("POWERTOOLS_") and "SERVICE" not in k}
        ):
            from steward.kernel.observability import logger

        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            self._saved_log_stream = handler.setStream(_Tee(self.logs, self.verbose))

    def _release_logs(self) -> None:
        from steward.kernel.observability import logger

        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            # Whatever stdout is then (pytest swaps it per test), not the stream of the day it was imported.
            handler.setStream(_CurrentStdout())

    def _collect_metrics(self, printed: str) -> None:
        for raw in printed.splitlines():
            line = raw.strip()
            if line.startswith("{") and '"_aws"' in line:
                with contextlib.suppress(ValueError):
                    self.metrics.append(json.loads(line))
            elif line:
                self.logs.append(line)

    # --- AWS call accounting ---------------------------------------------------------------------

    def _serialize_moto(self) -> None:
        """moto's in-process backends are not thread-safe, and Steward reads in parallel (BatchGetItem
        chunks) while the API server answers on its own threads: one AWS call at a time, as on AWS each
        call is atomic. (Seen: "dictionary changed size during iteration" in a concurrent read.)"""
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        lock = self._moto_lock = threading.RLock()

        def serialized(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(stubber, *args, **kwargs)

        BotocoreStubber.__call__ = serialized  # type: ignore[method-assign]
        self._unserialize = lambda: setattr(BotocoreStubber, "__call__", original)

    def _install_call_counter(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        def count(model: Any, **kwargs: Any) -> None:
            with self._calls_lock:
                self.aws_calls[f"{model.service_model.service_name}.{model.name}"] += 1

        self._counter = ("before-call.*.*", count)
        BUILTIN_HANDLERS.append(self._counter)

    @contextlib.contextmanager
    def faults(
        self,
        operation: str = "*.*",
        rate: float = 1.0,
        code: str = "ThrottlingException",
        status: int = 400,
        seed: int = 0,
    ) -> Any:
        """Make a share of AWS calls fail like AWS does (throttling, 5xx) while the block runs.

        `operation` is "service.Operation" with `*` wildcards (e.g. "dynamodb.TransactWriteItems").
        The error is returned at botocore's `before-call`, so the caller sees a real ClientError as if
        botocore's own retries were already spent: each injected fault reaches the code (and Lambda's
        retries), which is what this is for. Clients created inside the block (Powertools providers
        keep theirs) stop failing when it ends.
        """
        import fnmatch
        import random

        from botocore.awsrequest import AWSResponse
        from botocore.handlers import BUILTIN_HANDLERS

        rng = random.Random(seed)  # noqa: S311 (reproducible fault schedules, not security)
        injected = Counter()

        active = [True]  # a client created in the block keeps the hook: it must go quiet after it

        def fail(model: Any, **kwargs: Any) -> Any:
            name = f"{model.service_model.service_name}.{model.name}"
            if not active[0] or not fnmatch.fnmatch(name, operation) or rng.random() >= rate:
                return None
            injected[name] += 1
            body = {
                "Error": {"Code": code, "Message": "injected by the sandbox"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://sandbox.invalid", status, {}, None), body

        hook = ("before-call.*.*", fail)
        BUILTIN_HANDLERS.append(hook)
        from steward.kernel.aws import clients

        clients.reset()  # clients made before the block do not see new built-in handlers
        try:
            yield injected
        finally:
            active[0] = False
            BUILTIN_HANDLERS.remove(hook)
            clients.reset()

    def _uninstall_call_counter(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        if getattr(self, "_counter", None) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(self._counter)

    # --- HTTP ------------------------------------------------------------------------------------

    def _start_api(self) -> None:
        from sandbox.apigw import LocalApi, Route

        assert self.inventory is not None
        routes = [
            Route(method=r.method, path=r.path, function=r.function, auth=r.auth)
            for r in self.inventory.routes
        ]
        self._api = LocalApi(
            routes, self._invoke_api, stage=self.stage, port=self.api_port, account=self.account
        )
        self._api.start()
        # Links the functions build point at the API Gateway URL; here that is the local server.
        deployed = f"https://sandboxapi.execute-api.{self.region}.amazonaws.com/{self.stage}"
        for spec in self.inventory.functions.values():
            for key, value in spec.environment.items():
                if deployed in value:
                    spec.environment[key] = value.replace(deployed, self.api_url)

    def _invoke_api(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        assert self.inventory is not None
        outcome = self._invoke(self.inventory.functions[function], event)
        self.drain()  # what the request set off (a registry update's event, notifications) happens now
        if not outcome["ok"]:
            raise SandboxError(outcome.get("error", "handler failed"))
        return outcome["result"]  # type: ignore[no-any-return]

    REACT_INTERVAL = 0.2  # seconds between two looks for follow-up work

    def _start_reactor(self) -> None:
        def react() -> None:
            while not self._reacting.wait(self.REACT_INTERVAL):
                try:
                    self.drain()
                except Exception:  # a bad event must not stop the sandbox reacting to the next ones
                    log.exception("the sandbox failed to deliver follow-up work")

        self._reacting.clear()
        self._reactor = threading.Thread(target=react, name="sandbox-reactor", daemon=True)
        self._reactor.start()

    def _start_aws_server(self) -> None:
        from moto.server import ThreadedMotoServer

        self._aws_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._aws_server.start()
        host, port = self._aws_server.get_host_and_port()
        self.aws_endpoint_url = f"http://{host}:{port}"
