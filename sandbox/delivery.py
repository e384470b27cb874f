"""Follow-up work and when it runs: the pending events and SageMaker's later steps, the SQS event
sources, drained one at a time in order or, in a parallel sandbox, in rounds of threads (README
"Concurrency"); the reactor that drains by itself (`Sandbox(react=True)`)."""

from __future__ import annotations

import contextvars
import logging
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from sandbox.errors import SandboxError

if TYPE_CHECKING:
    from sandbox.facade import Sandbox

log = logging.getLogger("sandbox")


class Delivery:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.pool: Any = None
        self.drain_lock = threading.RLock()  # HTTP requests drain too, from the server's threads
        self._reactor: threading.Thread | None = None
        self._reacting = threading.Event()

    def drain(self, max_rounds: int, parallel: bool | None) -> int:
        with self.drain_lock:
            if self.sb.parallel if parallel is None else parallel:
                return self._drain_parallel(max_rounds)
            with self.sb._lambdas.lock:
                return self._drain(max_rounds)

    def _mappings(self) -> list[Any]:
        inventory = self.sb.inventory
        return inventory.queue_mappings if inventory else []

    def _drain(self, max_rounds: int) -> int:
        sb, done = self.sb, 0
        for _ in range(max_rounds):
            progressed = False
            while sb._pending:
                item = sb._pending.pop(0)
                if callable(item):  # SageMaker finishing something it started (endpoint lifecycle)
                    item()
                else:
                    sb._bus.route(item)
                done += 1
                progressed = True
            for mapping in self._mappings():
                if sb._poller.poll(mapping):
                    progressed = True
                    done += 1
            if not progressed:
                return done
        raise SandboxError("follow-up work did not settle (a loop between functions?)")

    def _drain_parallel(self, max_rounds: int) -> int:
        sb, done = self.sb, 0
        for _ in range(max_rounds):
            items = []
            while sb._pending:  # appended to by handlers' threads (SageMaker's events) as this runs
                items.append(sb._pending.pop(0))
            work: list[Any] = []
            for item in items:
                if callable(item):  # SageMaker finishing something it started: it changes moto's state
                    work.append(partial(self._under_moto_lock, item))
                else:
                    work += [partial(sb._bus.deliver, rule, item) for rule in sb._bus.matching(item)]
            polls = [partial(sb._poller.poll_scaling, mapping) for mapping in self._mappings()]
            outcomes = self.concurrently(work + polls)
            polled = sum(outcomes[len(work) :])
            done += len(items) + polled
            if not items and not polled:
                return done
        raise SandboxError("follow-up work did not settle (a loop between functions?)")

    def _under_moto_lock(self, step: Any) -> None:
        with self.sb._moto_lock:
            step()

    def concurrently(self, calls: list[Any]) -> list[Any]:
        """Run each call in its own thread (each in a fresh context, as a new invocation), all at once."""
        if not calls:
            return []
        with self.sb._lambdas.environments_lock:
            if self.pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self.pool = ThreadPoolExecutor(self.sb.PARALLEL_WORKERS, thread_name_prefix="sandbox-invoke")
        futures = [self.pool.submit(contextvars.Context().run, call) for call in calls]
        return [future.result() for future in futures]

    def backend_lock(self) -> Any:
        """What makes a direct change to moto's state atomic: the invocation lock, or moto's own in a
        parallel sandbox (where invocations do not take the other)."""
        return self.sb._moto_lock if self.sb.parallel else self.sb._lambdas.lock

    def start_reactor(self, interval: float) -> None:
        def react() -> None:
            while not self._reacting.wait(interval):
                try:
                    self.sb.drain()
                except Exception:  # a bad event must not stop the sandbox reacting to the next ones
                    log.exception("the sandbox failed to deliver follow-up work")

        self._reacting.clear()
        self._reactor = threading.Thread(target=react, name="sandbox-reactor", daemon=True)
        self._reactor.start()

    def stop(self) -> None:
        if self._reactor is not None:
            self._reacting.set()
            self._reactor.join(10)
            self._reactor = None

    def shutdown_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
