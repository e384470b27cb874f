"""The embedded sandbox: the whole of Steward on one machine, no AWS account.

moto provides the AWS APIs in-process (sandbox/aws.py); resources come from the translated
template.yaml (sandbox/provisioning/); events are routed by the template's own rule patterns
(sandbox/bus.py); each matched function's real handler runs in its template environment with a Lambda
context (sandbox/lambdas/); SQS event sources are drained (sandbox/delivery.py); API routes are served
over HTTP on 127.0.0.1 (sandbox/apigw/, the stage in stage.py). `Sandbox` is the façade over those
parts: its methods and attributes are the public API of README "The sandbox".
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sandbox import accounts, faults, operate
from sandbox.accounts import DeployedWorkload, Workload
from sandbox.aws import EmbeddedAws
from sandbox.bus import Bus
from sandbox.delivery import Delivery
from sandbox.dynamodb import FastDynamoDB
from sandbox.endpoint_models import EndpointModels
from sandbox.errors import SandboxError
from sandbox.iam import Enforcer, mode_from
from sandbox.isolation import Isolation
from sandbox.lambdas import DeadLetters, Lambdas, QueuePoller
from sandbox.lambdas.logs import HandlerLogs
from sandbox.provisioning import provision
from sandbox.sagemaker import SageMakerEmulation
from sandbox.sagemaker_controls import SageMakerControls
from sandbox.template import ACCOUNT, FunctionSpec, Inventory

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

__all__ = ["DEFAULT_TEMPLATE", "REPO_ROOT", "Sandbox", "SandboxError"]


class Sandbox(SageMakerControls):
    """Steward on the embedded AWS. Use as a context manager; README "The sandbox" is its public API."""

    PARALLEL_WORKERS = 16  # invocations a parallel sandbox runs at once (Lambda's default limit is 1,000)
    PARALLEL_POLLERS = 5  # batches per SQS event source at once, at most (Lambda starts with five pollers)
    PARALLEL_VISIBILITY = 300  # seconds a batch in flight stays invisible to the other pollers
    REACT_INTERVAL = 0.2  # seconds between two looks for follow-up work

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
        try:
            self.workloads: dict[str, DeployedWorkload] = accounts.deploy_all(
                workloads or {}, self.parameters, parameters or {}, self.account, self.region, self.stack
            )
        except ValueError as exc:
            raise SandboxError(str(exc)) from None
        self.forwarding: list[dict[str, Any]] = []  # what each workload event met on its way to Steward
        self.serve_api = serve_api
        self.serve_aws = serve_aws
        # react: deliver follow-up work by itself (a background drain), as AWS would, so code that only
        # talks to the served endpoint (the SageMaker SDK, the CLI) sees Steward react and endpoints
        # reach InService without anyone calling drain(). Off by default: tests stay synchronous.
        self.react = react
        self.api_port = api_port
        self.verbose = verbose
        # IAM: "enforce" (default; STEWARD_SANDBOX_IAM), "soft" or "off" (README "IAM in the sandbox").
        self.iam = Enforcer(mode_from(iam), self.account, self.region)
        # parallel: invocations run at the same moment, as on Lambda (README "Concurrency"): API requests,
        # SQS batches, event targets and schedules each in their own thread, interleaving at AWS calls.
        # Off by default: one invocation at a time, so tests stay deterministic. May be switched between
        # calls (not while invocations run).
        self.parallel = parallel
        # Execution environments made per function: one per invocation that found none idle (a cold start).
        self.cold_starts: Counter[str] = Counter()
        self.logs: list[str] = []
        self.metrics: list[dict[str, Any]] = []
        self.receiver: Any = None
        self.invocations: list[dict[str, Any]] = []
        self.aws_calls: Counter[str] = Counter()
        self.inventory: Inventory | None = None
        self.aws_endpoint_url: str | None = None
        self._pending: list[Any] = []  # events to route, or steps SageMaker takes later
        # The parts (each holds this façade, to reach the others and the hooks a test may wrap).
        self._aws = EmbeddedAws(self.aws_calls)
        self._isolation = Isolation()
        self._lambdas = Lambdas(self)
        self._poller = QueuePoller(self)
        self._dead_letters = DeadLetters(self)
        self._bus = Bus(self)
        self._delivery = Delivery(self)
        self._logs = HandlerLogs(self.logs, self.metrics, verbose)
        self._api: Any = None
        self._saved_env: dict[str, str] = {}
        self._started = False

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
        self._aws.start()
        for account in {self.account, *(w.account for w in self.workloads.values())}:
            accounts.register(account)
        # mock_aws puts its own fake keys in the environment (moto's default account): Steward's go after.
        os.environ.update(accounts.credentials(self.account))
        self._aws.serialize_moto()
        self._isolation.install()
        # Looked up on each call, so a test that wraps `sb.emit` (to duplicate, hold back or reorder what
        # SageMaker sends) sees every emulated event, the endpoint lifecycle's and pipeline starts' too.
        self._sagemaker = SageMakerEmulation(emit=lambda event: self.emit(event), later=self._pending.append)  # noqa: PLW0108
        self._sagemaker.install()
        self._transactions = FastDynamoDB()
        self._transactions.install()
        self._models = EndpointModels(self.account)
        self._models.install()
        self._aws.install_call_counter()
        self.iam = Enforcer(self.iam.mode, self.account, self.region)
        self.iam.install()
        from steward.kernel.aws import clients

        clients.reset()
        operate.fresh_providers()
        self._started = True
        try:
            self._provision()
            self._logs = HandlerLogs(self.logs, self.metrics, self.verbose)
            self._logs.capture(self.inventory)  # type: ignore[arg-type]
            operate.configure_notifications(self)
            if self.serve_api:
                from sandbox.apigw.stage import start_stage

                self._api = start_stage(self)
            if self.serve_aws:
                self.aws_endpoint_url = self._aws.serve()
            if self.react:
                self._delivery.start_reactor(self.REACT_INTERVAL)
        except Exception:
            self.stop()
            raise
        return self

    def _provision(self) -> None:
        cfn, resolver, self.inventory = provision(
            self.template_path,
            self.parameters,
            stack=self.stack,
            account=self.account,
            region=self.region,
            client=self.client,
        )
        self.iam.load(cfn, resolver, self.inventory.functions)
        self._bus.policy = accounts.bus_policy_statements(cfn, resolver)
        for workload in self.workloads.values():
            self.iam.add_workload(workload.account, workload.roles)

    def stop(self) -> None:
        if not self._started:
            return
        self._delivery.stop()
        self.__dict__.pop("_clients", None)
        if self.receiver is not None:
            self.receiver.stop()
        if self._api is not None:
            self._api.stop()
            self._api = None
        self._aws.stop_serving()
        self._delivery.shutdown_pool()
        self._aws.uninstall_call_counter()
        self.iam.uninstall()
        self.iam.finish()
        self._aws.restore_moto()
        self._logs.release()
        if getattr(self, "_sagemaker", None) is not None:
            self._sagemaker.uninstall()
            self._transactions.uninstall()
            self._models.uninstall()
        self._aws.stop()
        self._isolation.uninstall()
        from steward.kernel.aws import clients

        clients.reset()
        os.environ.clear()
        os.environ.update(self._saved_env)
        self._started = False
        Sandbox._active = None

    @property
    def _moto_lock(self) -> Any:
        return self._aws.lock

    # --- AWS -------------------------------------------------------------------------------------

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
        keep theirs) stop failing when it ends. Yields the faults injected, per operation.
        """
        with faults.inject(operation, rate, code, status, seed) as injected:
            yield injected

    # --- the stack -------------------------------------------------------------------------------

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

    def set_policy(self, policy: Any) -> None:
        """Publish another policy (a dict, YAML/JSON text, a file or a Policy), as an operator updating the
        SSM parameter would; the next invocation reads it. A bad policy raises and changes nothing."""
        previous = self.policy
        self.policy = policy
        try:
            operate.publish_policy(self)
        except Exception:
            self.policy = previous
            raise

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

    # --- events and invocations ------------------------------------------------------------------

    def put_events(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Route each event by the template's rules, run every matched handler, then drain follow-up work.

        Returns one dict per event: {"event_id", "targets": [{"function", "ok", "error", ...}]}. An entry
        PutEvents refuses (over 256 KB, or nested deeper than 1100 levels) reaches no rule: its dict has no
        targets and an "error" {"code", "message"}.
        """
        return self._bus.put_events(events)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event as if an AWS service had sent it (delivered on the next drain). An event of a
        workload account reaches Steward's bus only as that account's forwarding rules send it."""
        full = self._envelope(event)
        if self._bus.forwarded(full):
            self._pending.append(full)

    def run_schedules(self, match: str | None = None) -> list[dict[str, Any]]:
        """Fire each scheduled rule (those whose name contains `match`) once, as its timer would."""
        return self._bus.run_schedules(match)

    def invoke(self, function: str, event: Any) -> dict[str, Any]:
        """Run one function's handler once (synchronously, no retries). `function` is its folder name."""
        return self._invoke(self._function(function), event)

    def drain(self, max_rounds: int = 1000, *, parallel: bool | None = None) -> int:
        """Deliver follow-up work until quiet: events SageMaker emits, messages on mapped SQS queues.

        In a parallel sandbox what is pending is delivered at once, in rounds (every event's targets, a few
        batches per queue, each in its own thread); `parallel=False` delivers it one at a time in order
        (what an interleaving test wants after the interleaving it chose)."""
        return self._delivery.drain(max_rounds, parallel)

    def dlq_messages(self, function: str) -> list[dict[str, Any]]:
        """Messages waiting in a function's DLQ (peeked: they stay on the queue)."""
        return self._dead_letters.messages(self._function(function))

    def redrive(self, function: str) -> dict[str, Any]:
        """Send what sits in a function's DLQ back to the function that failed it (steward redrive)."""
        return self._dead_letters.redrive(self._function(function))

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

    # The hooks the parts call back through (a test may wrap `_invoke`, or read `_envelope`/`_function`).

    def _invoke(self, spec: FunctionSpec, event: Any) -> dict[str, Any]:
        return self._lambdas.invoke(spec, event)

    def _envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._bus.envelope(event)

    def _function(self, name: str) -> FunctionSpec:
        assert self.inventory is not None
        for spec in self.inventory.functions.values():
            if name in (spec.name, spec.logical_id):
                return spec
        raise SandboxError(f"no function {name!r} in the template (have: {', '.join(self.function_names())})")
