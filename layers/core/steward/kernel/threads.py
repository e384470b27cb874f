"""A thread pool whose tasks run in a copy of the submitter's context.

Plain `ThreadPoolExecutor` workers start with an empty `contextvars` context, so whatever the
invocation set there (Powertools' appended log keys, a tracer's segment, the sandbox's view of which
function is running) is missing from the reads fanned out to them. Every parallel read in Steward goes
through this pool instead.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ContextPool(ThreadPoolExecutor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
