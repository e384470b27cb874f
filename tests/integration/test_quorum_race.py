"""Two approvers deciding at the same moment on a quorum of 2: both count, and neither link is burnt by a
lost write. Deterministic: the second approver's whole decision runs between the first one's read and
write (the interleaving that lost an approval in 7 of 8 threaded trials)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from unittest import mock

from sandbox import Sandbox
from tests.integration.test_approvals import http, link_of, policy, register


def _token_and_csrf(link: str) -> tuple[str, str]:
    _, page, _ = http(link)
    return link.rsplit("/", 1)[-1], re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_two_approvers_at_once_on_a_quorum_of_two_both_count():
    from steward.approvals import service
    from steward.approvals.wiring import approval_deps
    from steward.kernel.settings import get_settings

    with Sandbox(policy=policy(quorum=2)) as sb:
        arn = register(sb)
        alice, bob = (_token_and_csrf(link_of(sb, who)) for who in ("alice@example.com", "bob@example.com"))
        environment = sb._function("api").environment  # the API function's own settings
        with mock.patch.dict(os.environ, environment):
            get_settings.cache_clear()
            deps = approval_deps()
            save, raced = deps.store.save, []

            def save_after_bob(request, *args):
                if not raced:  # Alice has read the request; Bob decides before her write lands
                    raced.append(True)
                    bobs = service.decide_by_link(
                        bob[0], "approve", "", bob[1], None, deps, datetime.now(UTC)
                    )
                    assert bobs.problem is None, bobs.problem
                return save(request, *args)

            # When Alice's decision is written after Bob's, from the request as she read it
            with mock.patch.object(deps.store, "save", side_effect=save_after_bob):
                alices = service.decide_by_link(
                    alice[0], "approve", "", alice[1], None, deps, datetime.now(UTC)
                )
            get_settings.cache_clear()
        sb.drain()
        # Then both approvals count: the request is approved by both, and the registry says so
        assert alices.problem is None, alices.problem
        request = deps.store.get(alices.request.id)
        assert request.status == "approved"
        assert sorted(d.approver for d in request.decisions) == ["alice@example.com", "bob@example.com"]
        described = sb.client("sagemaker").describe_model_package(ModelPackageName=arn)
        assert described["ModelApprovalStatus"] == "Approved"


def test_a_lost_write_never_burns_the_link():
    from steward.approvals import service
    from steward.approvals.wiring import approval_deps
    from steward.kernel.errors import StaleEventError
    from steward.kernel.settings import get_settings

    with Sandbox(policy=policy(quorum=2)) as sb:
        register(sb)
        token, csrf = _token_and_csrf(link_of(sb, "alice@example.com"))
        with mock.patch.dict(os.environ, sb._function("api").environment):
            get_settings.cache_clear()
            deps = approval_deps()
            # Given every write of the decision loses (another invocation keeps moving the request)
            with mock.patch.object(deps.store, "save", side_effect=StaleEventError("moved")):
                lost = service.decide_by_link(token, "approve", "", csrf, None, deps, datetime.now(UTC))
            assert lost.problem == "retry"
            # Then the link is still unspent, and it works once the contention is over
            claims = service.tokens.verify_token(deps.keys, token, int(datetime.now(UTC).timestamp()))
            assert not deps.store.link_used(claims.nonce)
            again = service.decide_by_link(token, "approve", "", csrf, None, deps, datetime.now(UTC))
            assert again.problem is None
            used = service.decide_by_link(token, "approve", "", csrf, None, deps, datetime.now(UTC))
            assert used.problem == "used"
            get_settings.cache_clear()
