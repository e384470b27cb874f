"""What handlers print: Powertools' JSON log lines to `sb.logs` (echoed when verbose), EMF metric lines
to `sb.metrics`, as CloudWatch Logs would split them."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
from typing import Any

from sandbox.runtime import Environment
from sandbox.template import Inventory


class _Tee(io.TextIOBase):
    """Where handler logs go: kept in memory (sb.logs) and echoed when verbose."""

    def __init__(self, sink: list[str], echo: bool) -> None:
        self.sink, self.echo, self._lock = sink, echo, threading.Lock()

    def write(self, text: str) -> int:
        if text.strip():
            with self._lock:
                self.sink.append(text.rstrip("\n"))
            if self.echo:
                sys.stderr.write(text)
        return len(text)


class _CurrentStdout(io.TextIOBase):
    def write(self, text: str) -> int:
        return sys.stdout.write(text)


class HandlerLogs:
    def __init__(self, logs: list[str], metrics: list[dict[str, Any]], verbose: bool) -> None:
        self.logs, self.metrics, self.verbose = logs, metrics, verbose

    def capture(self, inventory: Inventory) -> None:
        """Handler logs (Powertools writes JSON lines to its stream) go to sb.logs while the sandbox runs."""
        functions = inventory.functions
        shared = next(iter(functions.values())).environment if functions else {}
        # Powertools reads its settings (metrics namespace, log level) when the module is first imported,
        # as in Lambda, where that happens inside the function's environment.
        with Environment(
            {k: v for k, v in shared.items() if k.startswith("POWERTOOLS_") and "SERVICE" not in k}
        ):
            from steward.kernel.observability import logger

        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_Tee(self.logs, self.verbose))

    def release(self) -> None:
        from steward.kernel.observability import logger

        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            # Whatever stdout is then (pytest swaps it per test), not the stream of the day it was imported.
            handler.setStream(_CurrentStdout())

    def collect(self, printed: str) -> None:
        for raw in printed.splitlines():
            line = raw.strip()
            if line.startswith("{") and '"_aws"' in line:
                with contextlib.suppress(ValueError):
                    self.metrics.append(json.loads(line))
            elif line:
                self.logs.append(line)
