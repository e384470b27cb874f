"""Fault injection: a share of AWS calls fails as AWS fails them (throttling, 5xx) while a block runs
(`Sandbox.faults`)."""

from __future__ import annotations

import contextlib
import fnmatch
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def inject(
    operation: str = "*.*",
    rate: float = 1.0,
    code: str = "ThrottlingException",
    status: int = 400,
    seed: int = 0,
) -> Iterator[Counter[str]]:
    """Fail the calls to `operation` ("service.Operation", `*` wildcards) at `rate`, with `code` and
    `status`, on a schedule `seed` makes reproducible; yields the faults injected per operation.

    The error is returned at botocore's `before-call`, so the caller sees a real ClientError as if
    botocore's own retries were already spent. Clients created inside the block (Powertools providers
    keep theirs) stop failing when it ends.
    """
    from botocore.awsrequest import AWSResponse
    from botocore.handlers import BUILTIN_HANDLERS

    from steward.kernel.aws import clients

    rng = random.Random(seed)  # noqa: S311 (reproducible fault schedules, not security)
    injected: Counter[str] = Counter()
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
    clients.reset()  # clients made before the block do not see new built-in handlers
    try:
        yield injected
    finally:
        active[0] = False
        BUILTIN_HANDLERS.remove(hook)
        clients.reset()
