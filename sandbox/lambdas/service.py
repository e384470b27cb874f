"""Invocations as Lambda runs them: each in an execution environment of its function (a cold start when
none is idle), the payload serialised as Lambda does, a failure an outcome; asynchronous invocation with
its retries and on-failure destination (or the rule target's DLQ)."""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.runtime import load_handler, make_context
from sandbox.template import FunctionSpec, RuleSpec

if TYPE_CHECKING:
    from sandbox.facade import Sandbox

_SANDBOX_FUNCTION_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
}


class UnmarshalError(Exception):
    """What Lambda's runtime reports for a payload it cannot read (Runtime.UnmarshalError)."""


def unmarshal(event: Any) -> Any:
    """The payload as the handler receives it: serialised and parsed again, as Lambda does."""
    try:
        return json.loads(json.dumps(event))
    except (RecursionError, TypeError, ValueError) as exc:
        raise UnmarshalError(f"Unable to unmarshal input: {str(exc)[:200]}") from None


class Lambdas:
    """The functions of one sandbox. Invocations go through `sb._invoke` (a test may wrap it)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.environments: dict[str, list[Any]] = {}  # function -> idle execution environments
        self.environments_lock = threading.Lock()
        self.lock = threading.RLock()  # one invocation at a time, unless the sandbox is parallel

    def invoke(self, spec: FunctionSpec, event: Any) -> dict[str, Any]:
        if self.sb.parallel:
            return self.run(spec, event)
        with self.lock:
            return self.run(spec, event)

    def run(self, spec: FunctionSpec, event: Any) -> dict[str, Any]:
        """One invocation in an execution environment of the function (sandbox/isolation.py: its own
        environment, output and Powertools state, whatever else runs at the same moment)."""
        sb = self.sb
        env = {
            **spec.environment,
            **_SANDBOX_FUNCTION_ENV,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_REGION": sb.region,
            "AWS_DEFAULT_REGION": sb.region,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        }
        started = time.perf_counter()
        record: dict[str, Any] = {"function": spec.name}
        handler, crashed = None, False
        with sb._isolation.invocation(env) as scope:
            try:
                handler = self.environment(spec)
                context = make_context(spec.name, spec.arn, spec.memory, spec.timeout)
                with sb.iam.running(spec.logical_id):
                    result = handler(unmarshal(event), context)
                record.update(ok=True, result=result)
            except UnmarshalError as exc:
                record.update(ok=False, error=str(exc), error_type="Runtime.UnmarshalError")
            except Exception as exc:  # a handler failure is an outcome, as in Lambda
                record.update(ok=False, error=str(exc)[:2000], error_type=type(exc).__name__)
                if sb.verbose:
                    traceback.print_exc()
            except BaseException as exc:  # the invocation died (a timeout, a crash a test injects)
                record.update(ok=False, error=str(exc)[:2000], error_type=type(exc).__name__, crashed=True)
                crashed = True
                raise
            finally:
                # Lambda reuses an environment for the next invocation, not one whose runtime died.
                if handler is not None and not crashed:
                    with self.environments_lock:
                        self.environments[spec.logical_id].append(handler)
                record["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
                sb._logs.collect(scope.stdout.getvalue())
                sb.invocations.append(record)
        return record

    def environment(self, spec: FunctionSpec) -> Any:
        """An idle execution environment of the function (its loaded handler), or a new one: a cold
        start, its own module globals (an event handler app, a batch processor), as Lambda makes one
        for each invocation that finds none free."""
        cold_starts = self.sb.cold_starts
        with self.environments_lock:
            idle = self.environments.setdefault(spec.logical_id, [])
            if idle:
                return idle.pop()
            cold_starts[spec.name] += 1
            made = cold_starts[spec.name]
        unique = spec.logical_id if made == 1 else f"{spec.logical_id}_{made}"
        return load_handler(spec.code_dir, spec.handler, unique)

    def invoke_async(
        self, spec: FunctionSpec, target: dict[str, Any], payload: Any, rule: RuleSpec
    ) -> dict[str, Any]:
        """Asynchronous invocation as Lambda does it: 1 + MaximumRetryAttempts tries, then the DLQ."""
        attempts, outcome = 0, None
        for attempts in range(1, spec.retries + 2):  # noqa: B007
            outcome = self.sb._invoke(spec, payload)
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
            entry["dead_letter"] = self.dead_letter(spec, target, payload, outcome, attempts, rule)
        return entry

    def dead_letter(
        self,
        spec: FunctionSpec,
        target: dict[str, Any],
        payload: Any,
        outcome: dict[str, Any],
        attempts: int,
        rule: RuleSpec | None = None,
    ) -> str | None:
        """The Lambda on-failure destination record (or, without one, the rule target's DLQ message)."""
        sqs, iam = self.sb.client("sqs"), self.sb.iam
        if spec.on_failure:
            if not iam.on_failure(spec.logical_id, spec.on_failure):
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
            if rule is not None and not iam.dead_letter(target["dlq"], rule.name):
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
