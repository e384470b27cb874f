"""Deterministic interleavings of concurrent operations at AWS-call granularity, and crashes between calls.

On Lambda two invocations run at the same moment and only each AWS call is atomic. `explore` runs two
or three operations in threads and lets exactly one of them make its next AWS call at a time, in an
order chosen by a seed: each operation runs freely between calls, and blocks before each call until the
schedule gives it the turn. The same seed gives the same interleaving, so a failure is replayed by its
seed.

    from sandbox.interleave import explore

    outcome = explore([lambda: decide("alice"), lambda: decide("bob")], seed=7)
    outcome.results, outcome.errors, outcome.order   # per operation; the calls in the order they ran

`crash=(i, k)` makes operation i die when it is about to make its call k (0-based: after k calls took
effect; k equal to its number of calls: after all of them, before it answers), as a Lambda timeout or a
killed runtime would: it raises `InjectedCrashError`, which is not an `Exception`, so no handler code catches
it. The operation is then run again (the retry Lambda, EventBridge or SQS makes: the same event, or the
same click), interleaved like the rest.

`check` runs a race under a sample of interleavings and crashes and checks invariants after each:

    check("two approvers", race, invariant)   # race() -> Race(operations, state); invariant(state, outcome)

The sample is `STEWARD_EXPLORE_SAMPLE` seeds (default 16) without crash and `STEWARD_EXPLORE_CRASHES`
crash points (default 6); `STEWARD_EXPLORE=all` tries every interleaving of the calls the first run made
(when there are more than `STEWARD_EXPLORE_ORDERS`, default 1,000: every one with at most k switches
between the operations, the largest k within that many) and every crash point of every operation (each
under `STEWARD_EXPLORE_CRASH_SEEDS` seeds, default 4). A violation names its case;
`STEWARD_EXPLORE_SEED=7` (with `STEWARD_EXPLORE_CRASH=1:3` for a crash case) runs that case alone.

Calls are intercepted at botocore's `BaseClient._make_api_call`, so every client of every operation is
covered (the sandbox's moto lock still makes each call atomic). Threads that are not operations (the
test itself, the sandbox's servers, pools an operation fans reads out to) are never held. Operations run
at the same moment need a sandbox that lets them: `Sandbox(parallel=True)` (README "Concurrency").
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
CRASHES = int(os.environ.get("STEWARD_EXPLORE_CRASHES", "6"))
CRASH_SEEDS = int(os.environ.get("STEWARD_EXPLORE_CRASH_SEEDS", "4"))
_STEP_TIMEOUT = 30.0
CRASH = "crash"  # the name an injected crash has in Outcome.order


class ExplorationError(RuntimeError):
    """The schedule could not go on (an operation waited on something outside the explorer)."""


class InjectedCrashError(BaseException):
    """The operation died between two AWS calls. A BaseException, as nothing in a handler catches a
    timeout or a killed runtime."""


@dataclass
class Outcome:
    seed: int | None
    results: list[Any] = field(default_factory=list)
    errors: list[BaseException | None] = field(default_factory=list)
    order: list[tuple[int, str]] = field(default_factory=list)  # (operation, "service.Operation")
    crash: tuple[int, int] | None = None  # (operation, call) asked for
    crashed: list[bool] = field(default_factory=list)  # per operation: it died once and was run again

    def calls(self, operation: int) -> int:
        return sum(1 for who, name in self.order if who == operation and name != CRASH)


class _Scheduler:
    def __init__(
        self, count: int, choose: Callable[[list[int]], int], crash: tuple[int, int] | None = None
    ) -> None:
        self.count, self.choose, self.crash = count, choose, crash
        self.lock = threading.Condition()
        self.waiting: set[int] = set()  # operations blocked before a call
        self.done: set[int] = set()
        self.turn: int | None = None
        self.order: list[tuple[int, str]] = []
        self.made = [0] * count  # calls each operation made (its retry's included)
        self.dead: set[int] = set()  # crashed, not yet retried: a dead invocation calls nothing more
        self.local = threading.local()

    def before_call(self, name: str) -> None:
        me = getattr(self.local, "index", None)
        if me is None:
            return  # not one of the operations
        if me in self.dead:  # its `finally` blocks unwinding: a killed runtime runs none of them
            raise InjectedCrashError(f"operation {me} is dead ({name})")
        with self.lock:
            self.waiting.add(me)
            self.lock.notify_all()
            if not self.lock.wait_for(lambda: self.turn == me, timeout=_STEP_TIMEOUT):
                raise ExplorationError(f"operation {me} never got its turn for {name}")
            self.turn = None
            self.waiting.discard(me)
            if self._dies(me):  # at its turn, so where it dies in the order is the seed's too
                self.dead.add(me)
                self.order.append((me, CRASH))
                raise InjectedCrashError(f"operation {me} died before its call {self.made[me]} ({name})")
            self.made[me] += 1
            self.order.append((me, name))

    def _dies(self, me: int) -> bool:
        if self.crash is None or self.crash[0] != me or self.made[me] != self.crash[1]:
            return False
        self.crash = None  # once: the retry runs through
        return True

    def dies_at_the_end(self, me: int) -> bool:
        """Whether the operation dies after its last call, before it answers (the crash's call is past
        the calls it made)."""
        with self.lock:
            if self.crash is not None and self.crash[0] == me and self.made[me] <= self.crash[1]:
                self.crash = None
                self.order.append((me, CRASH))
                return True
            return False

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
    crash: tuple[int, int] | None = None,
) -> Outcome:
    """Run `operations` concurrently under one interleaving of their AWS calls: `choose` picks which
    waiting operation calls next (default: seeded random). `crash=(i, k)`: operation i dies before its
    call k, then runs again. Returns each result or exception (a retried operation's: its retry's)."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible schedule, not a secret)
    scheduler = _Scheduler(len(operations), choose or rng.choice, crash)
    count = len(operations)
    outcome = Outcome(seed, [None] * count, [None] * count, crash=crash, crashed=[False] * count)

    def worker(index: int, operation: Callable[[], Any]) -> None:
        scheduler.local.index = index
        try:
            try:
                outcome.results[index] = operation()
                if scheduler.dies_at_the_end(index):
                    raise InjectedCrashError(f"operation {index} died after its last call")
            except InjectedCrashError:
                outcome.crashed[index] = True
                scheduler.dead.discard(index)
                outcome.results[index] = operation()  # the retry: the same invocation delivered again
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


def all_orders(calls: list[int], max_switches: int | None = None) -> Iterator[list[int]]:
    """Every interleaving of operations making `calls[i]` AWS calls each (a multinomial count: two
    operations of 6 calls have 924), or only those that switch from one operation to another at most
    `max_switches` times."""
    left = list(calls)

    def extend(prefix: list[int], switches: int) -> Iterator[list[int]]:
        if not any(left):
            yield list(prefix)
            return
        for i, n in enumerate(left):
            switching = bool(prefix) and prefix[-1] != i
            if n and not (switching and max_switches is not None and switches >= max_switches):
                left[i] -= 1
                prefix.append(i)
                yield from extend(prefix, switches + switching)
                prefix.pop()
                left[i] += 1

    yield from extend([], 0)


ORDERS_LIMIT = int(os.environ.get("STEWARD_EXPLORE_ORDERS", "1000"))


def bounded_orders(calls: list[int], limit: int = ORDERS_LIMIT) -> tuple[list[list[int]], int | None]:
    """Every interleaving when there are at most `limit`; beyond, every one with at most k switches
    between operations, k the most that stays within `limit` (at least 1). The races found in practice
    need few switches (CHESS's preemption bounding rests on that). Returns (orders, k or None)."""
    every = _count_within(calls, None, limit)
    if every <= limit:
        return list(all_orders(calls)), None
    switches = 1
    while _count_within(calls, switches + 1, limit) <= limit:
        switches += 1
    return list(all_orders(calls, switches)), switches


def _count_within(calls: list[int], max_switches: int | None, limit: int) -> int:
    counted = 0
    for _ in all_orders(calls, max_switches):
        counted += 1
        if counted > limit:
            break
    return counted


def exhaustive() -> bool:
    return os.environ.get("STEWARD_EXPLORE") == "all"


# --- checking invariants over a sample of interleavings and crashes -----------------------------------


@dataclass
class Race:
    """One run's operations, on state of their own (a fresh version, a fresh endpoint), and what the
    invariant needs to know about that state."""

    operations: list[Callable[[], Any]]
    state: Any = None


@dataclass(frozen=True)
class Case:
    seed: int | None
    order: tuple[int, ...] | None = None
    crash: tuple[int, int] | None = None

    def __str__(self) -> str:
        where = f"seed {self.seed}" if self.order is None else f"order {list(self.order)}"
        if self.crash is None:
            return where
        return f"{where}, operation {self.crash[0]} crashing before its call {self.crash[1]}"

    def replay(self) -> str:
        if self.seed is None:
            return "replayed by its order"
        crash = f" STEWARD_EXPLORE_CRASH={self.crash[0]}:{self.crash[1]}" if self.crash else ""
        return f"STEWARD_EXPLORE_SEED={self.seed}{crash}"


@dataclass
class Report:
    name: str
    cases: list[Case] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)  # per operation, in the first run (no crash)


class InvariantError(AssertionError):
    """An invariant did not hold after one case; the message names the case and how to replay it."""


def crash_points(calls: list[int]) -> list[tuple[int, int]]:
    """Every (operation, call) an operation can die before: after its first call, ..., after its last."""
    return [(op, k) for op, made in enumerate(calls) for k in range(1, made + 1)]


def planned_cases(calls: list[int], *, everything: bool, sample: int, crashes: int) -> list[Case]:
    """The cases after the first run (seed 0, whose calls per operation are `calls`): a seeded sample of
    interleavings and of crash points, or every interleaving of those calls and every crash point."""
    points = crash_points(calls)
    if everything:
        orders = [Case(None, tuple(order)) for order in bounded_orders(calls)[0]]
        return orders + [Case(seed, None, point) for point in points for seed in range(CRASH_SEEDS)]
    random.Random(0).shuffle(points)  # noqa: S311 (a reproducible sample)
    return [Case(seed) for seed in range(1, sample)] + [
        Case(seed, None, point) for seed, point in enumerate(points[:crashes])
    ]


def _requested() -> Case | None:
    seed = os.environ.get("STEWARD_EXPLORE_SEED")
    if seed is None:
        return None
    crash = os.environ.get("STEWARD_EXPLORE_CRASH")
    point = tuple(int(part) for part in crash.split(":", 1)) if crash else None
    return Case(int(seed), None, point)  # type: ignore[arg-type]


def check(
    name: str,
    race: Callable[[], Race],
    invariant: Callable[[Any, Outcome], None],
    *,
    sample: int | None = None,
    crashes: int | None = None,
    everything: bool | None = None,
) -> Report:
    """Run `race` (fresh state each time) under the planned cases and check `invariant(state, outcome)`
    after each (an AssertionError is a violation). Raises InvariantError naming the first case that
    broke it and how to replay it; returns what was tried."""
    report = Report(name)
    requested = _requested()
    todo = [requested] if requested is not None else [Case(0)]
    index = 0
    while index < len(todo):
        case = todo[index]
        index += 1
        current = race()
        choose = replay_order(list(case.order)) if case.order is not None else None
        outcome = explore(current.operations, seed=case.seed, choose=choose, crash=case.crash)
        report.cases.append(case)
        try:
            invariant(current.state, outcome)
        except AssertionError as exc:
            calls = ", ".join(f"{who}:{call}" for who, call in outcome.order)
            raise InvariantError(
                f"{name}: violated under {case} ({case.replay()}): {exc}\n  calls in order: {calls}"
            ) from exc
        if requested is None and index == 1:
            report.calls = [outcome.calls(i) for i in range(len(current.operations))]
            todo += planned_cases(
                report.calls,
                everything=exhaustive() if everything is None else everything,
                sample=SAMPLE if sample is None else sample,
                crashes=CRASHES if crashes is None else crashes,
            )
    return report
