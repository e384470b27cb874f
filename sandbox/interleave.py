"""Deterministic interleavings of concurrent operations at AWS-call granularity.

On Lambda two invocations run at the same moment and only each AWS call is atomic. `explore` runs two
or three operations in threads and lets exactly one of them make its next AWS call at a time, in an
order chosen by a seed: each operation runs freely between calls, and blocks before each call until the
schedule gives it the turn. The same seed gives the same interleaving, so a failure is replayed by its
seed. `schedules` yields the seeds to try: a bounded sample by default, every interleaving of the
recorded call counts on demand (STEWARD_EXPLORE=all).

    from sandbox.interleave import explore

    outcome = explore([lambda: decide("alice"), lambda: decide("bob")], seed=7)
    outcome.results, outcome.errors, outcome.order   # per operation; the calls in the order they ran

Calls are intercepted at botocore's `BaseClient._make_api_call`, so every client of every operation is
covered (the sandbox's moto lock still makes each call atomic). Threads that are not operations (the
test itself, the sandbox's servers) are never held.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

SAMPLE = int(os.environ.get("STEWARD_EXPLORE_SAMPLE", "16"))
_STEP_TIMEOUT = 30.0


class ExplorationError(RuntimeError):
    """The schedule could not go on (an operation waited on something outside the explorer)."""


@dataclass
class Outcome:
    seed: int | None
    results: list[Any] = field(default_factory=list)
    errors: list[BaseException | None] = field(default_factory=list)
    order: list[tuple[int, str]] = field(default_factory=list)  # (operation, "service.Operation")

    def calls(self, operation: int) -> int:
        return sum(1 for who, _ in self.order if who == operation)


class _Scheduler:
    def __init__(self, count: int, choose: Callable[[list[int]], int]) -> None:
        self.count, self.choose = count, choose
        self.lock = threading.Condition()
        self.waiting: set[int] = set()  # operations blocked before a call
        self.done: set[int] = set()
        self.turn: int | None = None
        self.order: list[tuple[int, str]] = []
        self.local = threading.local()

    def before_call(self, name: str) -> None:
        me = getattr(self.local, "index", None)
        if me is None:
            return  # not one of the operations
        with self.lock:
            self.waiting.add(me)
            self.lock.notify_all()
            if not self.lock.wait_for(lambda: self.turn == me, timeout=_STEP_TIMEOUT):
                raise ExplorationError(f"operation {me} never got its turn for {name}")
            self.turn = None
            self.waiting.discard(me)
            self.order.append((me, name))

    def finished(self, me: int) -> None:
        with self.lock:
            self.done.add(me)
            self.lock.notify_all()

    def run(self) -> None:
        """Hand out turns until every operation is done: wait until each live operation is either blocked
        before a call or finished, then let the chosen one make its call."""
        with self.lock:
            while len(self.done) < self.count:
                settled = self.lock.wait_for(
                    lambda: self.turn is None and len(self.waiting) + len(self.done) == self.count,
                    timeout=_STEP_TIMEOUT,
                )
                if not settled:
                    raise ExplorationError("an operation neither finished nor reached an AWS call")
                if len(self.done) == self.count:
                    break
                self.turn = self.choose(sorted(self.waiting))
                self.lock.notify_all()


@contextlib.contextmanager
def _intercept(scheduler: _Scheduler) -> Iterator[None]:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        scheduler.before_call(f"{client.meta.service_model.service_name}.{operation_name}")
        return original(client, operation_name, api_params)

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def explore(
    operations: list[Callable[[], Any]],
    seed: int | None = None,
    choose: Callable[[list[int]], int] | None = None,
) -> Outcome:
    """Run `operations` concurrently under one interleaving of their AWS calls: `choose` picks which
    waiting operation calls next (default: seeded random). Returns each result or exception."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible schedule, not a secret)
    scheduler = _Scheduler(len(operations), choose or rng.choice)
    outcome = Outcome(seed, [None] * len(operations), [None] * len(operations))

    def worker(index: int, operation: Callable[[], Any]) -> None:
        scheduler.local.index = index
        try:
            outcome.results[index] = operation()
        except BaseException as exc:
            outcome.errors[index] = exc
        finally:
            scheduler.finished(index)

    with _intercept(scheduler):
        threads = [
            threading.Thread(target=worker, args=(i, op), daemon=True, name=f"operation-{i}")
            for i, op in enumerate(operations)
        ]
        for thread in threads:
            thread.start()
        scheduler.run()
        for thread in threads:
            thread.join(_STEP_TIMEOUT)
    outcome.order = scheduler.order
    return outcome


def replay_order(order: list[int]) -> Callable[[list[int]], int]:
    """A `choose` that follows `order` (operation indices, one per call), then whoever is left."""
    queue = list(order)

    def choose(waiting: list[int]) -> int:
        while queue:
            wanted = queue.pop(0)
            if wanted in waiting:
                return wanted
        return waiting[0]

    return choose


def all_orders(calls: list[int]) -> Iterator[list[int]]:
    """Every interleaving of operations making `calls[i]` AWS calls each (a multinomial count: two
    operations of 6 calls have 924; keep it small)."""
    left = list(calls)

    def extend(prefix: list[int]) -> Iterator[list[int]]:
        if not any(left):
            yield list(prefix)
            return
        for i, n in enumerate(left):
            if n:
                left[i] -= 1
                prefix.append(i)
                yield from extend(prefix)
                prefix.pop()
                left[i] += 1

    yield from extend([])


def exhaustive() -> bool:
    return os.environ.get("STEWARD_EXPLORE") == "all"
