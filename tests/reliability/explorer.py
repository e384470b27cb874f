"""What the interleaving tests share: a parallel sandbox whose set-up and checks run one invocation at a
time (so a case replays from its seed), and capturing the events the emulated SageMaker sends."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

from sandbox import Sandbox


@contextlib.contextmanager
def one_at_a_time(sb: Sandbox) -> Iterator[None]:
    """Set-up and checks deliver their follow-up work in order (the operations run at once)."""
    sb.parallel = False
    try:
        yield
    finally:
        sb.parallel = True


@contextlib.contextmanager
def holding(sb: Sandbox, hold: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """Events SageMaker sends that `hold(event)` picks are kept back (not delivered), as EventBridge would
    deliver them later: the test hands them to the operations. Yields them, with their envelope."""
    held: list[dict[str, Any]] = []
    deliver = Sandbox.emit

    def emit(event: dict[str, Any]) -> None:
        if hold(event):
            held.append(sb._envelope(copy.deepcopy(event)))
        else:
            deliver(sb, event)

    sb.emit = emit  # type: ignore[method-assign]
    try:
        yield held
    finally:
        del sb.emit


@contextlib.contextmanager
def sent_events(sb: Sandbox, pick: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """Like `holding`, but the events are delivered too (a copy is kept: to deliver again)."""
    copies: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        full = sb._envelope(copy.deepcopy(event))
        if pick(full):
            copies.append(copy.deepcopy(full))
        sb._pending.append(full)

    sb.emit = emit  # type: ignore[method-assign]
    try:
        yield copies
    finally:
        del sb.emit


def package_event(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e.get("detail-type") == "SageMaker Model Package State Change"
        and e.get("detail", {}).get("ModelApprovalStatus") == status
    )


def emails(subject: str, account: str = "123456789012", region: str = "us-east-1") -> list[str]:
    """The recipients of the emails the embedded SES sent whose subject contains `subject` (read from the
    raw messages: cheaper than the whole outbox, which grows with every run of a module)."""
    from moto.ses.models import ses_backends

    found = []
    for message in ses_backends[account][region].sent_messages:
        raw = getattr(message, "raw_data", None) or ""
        head = raw.split("\n\n", 1)[0].replace("\r\n", "\n").replace("\n ", " ")  # unfolded headers
        if any(line.startswith("Subject: ") and subject in line for line in head.splitlines()):
            found += [
                line.removeprefix("To: ").strip() for line in head.splitlines() if line.startswith("To: ")
            ]
    return found
