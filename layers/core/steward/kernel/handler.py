"""The decorator every function's entry point wears: its settings checked first, then Powertools'
logger context, tracer and metrics (the stack each handler used to spell out)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from steward.kernel.observability import logger, metrics, tracer
from steward.kernel.settings import FunctionSettings, SettingsError, get_settings

Handler = Callable[[Any, Any], Any]

_reported: set[str] = set()


def lambda_handler(
    settings: type[FunctionSettings], *, correlation_id_path: str | None = None
) -> Callable[[Handler], Handler]:
    """Wrap a handler: before any work, the function's `settings` model is validated against its
    environment; a variable missing or malformed is a SettingsError naming each one, logged once per
    execution environment (every later invocation fails the same way, without repeating the log line)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def configured(event: Any, context: Any) -> Any:
            try:
                get_settings(settings)
            except SettingsError as exc:
                if str(exc) not in _reported:
                    _reported.add(str(exc))
                    logger.error(
                        "misconfigured: fix the function's environment (template.yaml)",
                        extra={"missing": exc.missing, "malformed": exc.malformed},
                    )
                raise
            return handler(event, context)

        traced = tracer.capture_lambda_handler(metrics.log_metrics(configured))
        return logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path, clear_state=True)

    return wrap
