"""Approvals under interleavings of their AWS calls (sandbox/interleave.py): two operations at once, as
two Lambda invocations run, each interleaving chosen by a seed. A bounded seeded sample runs in `make
test`; `STEWARD_EXPLORE=all` tries every interleaving of the calls the first run made (slow). A
failure names its seed (or its order) to replay it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from sandbox import Sandbox
from sandbox.interleave import SAMPLE, all_orders, exhaustive, explore, replay_order
from tests.integration.test_approvals import http, policy, register


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    from steward.settings import get_settings

    with Sandbox(policy=policy(quorum=2)) as sandbox:
        with mock.patch.dict(os.environ, sandbox._function("api").environment):
            get_settings.cache_clear()
            yield sandbox
        get_settings.cache_clear()


def _deps() -> Any:
    from steward.approvals.wiring import approval_deps

    return approval_deps()


def _link(sb: Sandbox, who: str, group: str) -> tuple[str, str]:
    link = next(
        m["links"][0]
        for m in reversed(sb.outbox)
        if m["channel"] == "email" and m["to"] == who and f"{group} version" in m["subject"]
    )
    _, page, _ = http(link)
    return link.rsplit("/", 1)[-1], re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _alices_link(sb: Sandbox, group: str, deps: Any) -> tuple[str, str, str]:
    """Alice's link token for `group`'s version, its page's anti-forgery value, and the request it is for."""
    from steward.approvals import tokens

    token, csrf = _link(sb, "alice@example.com", group)
    return token, csrf, tokens.verify_token(deps.keys, token, int(datetime.now(UTC).timestamp())).request_id


def _versions(sb: Sandbox) -> Iterator[str]:
    """A new version (of its own group) per interleaving, so runs never meet."""
    for n in range(10_000):
        group = f"race{n}"
        register(sb, group=group)
        yield group


def _interleavings(first: Callable[[int | None, Callable | None], Any]) -> Iterator[tuple[str, Any]]:
    """(label, outcome) for the seeded sample, or for every order of the first run's calls."""
    if not exhaustive():
        for seed in range(SAMPLE):
            yield f"seed {seed}", first(seed, None)
        return
    calls = first(0, None)
    counts = [calls.calls(i) for i in range(len(calls.results))]
    yield "seed 0", calls
    for order in all_orders(counts):
        yield f"order {order}", first(None, replay_order(order))


def _status(sb: Sandbox, package: str) -> str:
    described = sb.client("sagemaker").describe_model_package(ModelPackageName=package)
    return str(described["ModelApprovalStatus"])


def _package(sb: Sandbox, group: str) -> str:
    listed = sb.client("sagemaker").list_model_packages(ModelPackageGroupName=group)
    return str(listed["ModelPackageSummaryList"][0]["ModelPackageArn"])


def test_two_approvers_at_once_on_a_quorum_of_two_both_count_in_every_interleaving(sb):
    from steward.approvals import service

    versions = _versions(sb)

    def run(seed: int | None, choose: Callable | None) -> Any:
        group = next(versions)
        deps = _deps()
        (alice, a_csrf), (bob, b_csrf) = (
            _link(sb, "alice@example.com", group),
            _link(sb, "bob@example.com", group),
        )
        now = datetime.now(UTC)
        outcome = explore(
            [
                lambda: service.decide_by_link(alice, "approve", "", a_csrf, None, deps, now),
                lambda: service.decide_by_link(bob, "approve", "", b_csrf, None, deps, now),
            ],
            seed=seed,
            choose=choose,
        )
        outcome.group = group  # type: ignore[attr-defined]
        return outcome

    for label, outcome in _interleavings(run):
        where = f"{label}: {outcome.order}"
        assert outcome.errors == [None, None], where
        assert [r.problem for r in outcome.results] == [None, None], where
        request = _deps().store.get(outcome.results[0].request.id)
        assert request.status == "approved", where
        assert sorted(d.approver for d in request.decisions) == ["alice@example.com", "bob@example.com"], (
            where
        )
        sb.drain()
        assert _status(sb, _package(sb, outcome.group)) == "Approved", where


def test_an_operator_and_the_approver_deciding_at_once_count_once_in_every_interleaving(sb):
    from steward.approvals import service

    versions = _versions(sb)

    def run(seed: int | None, choose: Callable | None) -> Any:
        group = next(versions)
        deps = _deps()
        alice, csrf, request_id = _alices_link(sb, group, deps)
        now = datetime.now(UTC)
        outcome = explore(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, deps, now),
                lambda: service.decide_as_operator(
                    request_id,
                    "alice@example.com",
                    "approve",
                    "by phone",
                    "arn:aws:iam::1:user/op",
                    deps,
                    now,
                ),
            ],
            seed=seed,
            choose=choose,
        )
        outcome.request_id = request_id  # type: ignore[attr-defined]
        return outcome

    for label, outcome in _interleavings(run):
        where = f"{label}: {outcome.order}"
        assert outcome.errors == [None, None], where
        problems = sorted(str(r.problem) for r in outcome.results)
        assert problems == ["None", "used"], where  # one recorded, the other told it is done already
        request = _deps().store.get(outcome.request_id)
        assert request.status == "pending", where  # quorum 2: Alice counts once
        assert [d.approver for d in request.decisions] == ["alice@example.com"], where


def test_an_approver_racing_the_expiry_sweep_ends_consistent_in_every_interleaving(sb):
    from steward.adapters.lineage_store import LineageStore
    from steward.approvals import service
    from steward.settings import get_settings

    versions = _versions(sb)
    settings = get_settings()

    def run(seed: int | None, choose: Callable | None) -> Any:
        group = next(versions)
        deps = _deps()
        alice, csrf, request_id = _alices_link(sb, group, deps)
        now = datetime.now(UTC)
        worklist = LineageStore(settings.lineage_table, settings.idempotency_table)
        outcome = explore(
            [
                lambda: service.decide_by_link(alice, "approve", "", csrf, None, deps, now),
                lambda: service.sweep(worklist, deps, now + timedelta(days=30)),  # long past the expiry
            ],
            seed=seed,
            choose=choose,
        )
        outcome.request_id = request_id  # type: ignore[attr-defined]
        return outcome

    for label, outcome in _interleavings(run):
        where = f"{label}: {outcome.order}"
        assert outcome.errors == [None, None], where
        request = _deps().store.get(outcome.request_id)
        decided = [d.approver for d in request.decisions]
        # Either Alice's approval landed (and counts once) before the sweep expired the request, or the
        # request expired and her decision was refused: never a decision recorded on an expired request
        # that then lost it, never two
        assert decided in ([], ["alice@example.com"]), where
        assert request.status in ("pending", "expired"), where
        if request.status == "expired":
            assert outcome.results[0].problem in ("decided", "expired", None), where
