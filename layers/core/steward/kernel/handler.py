"""The decorator every function's entry point wears: its settings checked first, then Powertools'
logger context, tracer and metrics (the stack each handler used to spell out)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from steward.kernel.observability import logger, metrics, tracer
from steward.kernel.settings import FunctionSettings, SettingsError, get_settings

Handler = Callable[[Any, Any], Any]


def lambda_handler(
    settings: type[FunctionSettings], *, correlation_id_path: str | None = None
) -> Callable[[Handler], Handler]:
    """Wrap a handler: before any work, the function's `settings` model is validated against its
    environment (once per environment: the result is cached on the variables' values); a variable missing
    or malformed fails the invocation with a SettingsError naming each one, in one structured log line
    (`misconfigured`, as the API logs any ConfigurationError) and nothing else: no work half done, no
    KeyError from deep in a use case. Each failed invocation says it once (the Errors alarm counts them)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def configured(event: Any, context: Any) -> Any:
            try:
                get_settings(settings)
            except SettingsError as exc:
                logger.error(
                    "misconfigured",
                    extra={
                        "error": "ConfigurationError",
                        "detail": str(exc),
                        "missing": exc.missing,
                        "malformed": exc.malformed,
                    },
                )
                raise
            return handler(event, context)

        traced = tracer.capture_lambda_handler(metrics.log_metrics(configured))
        return logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path, clear_state=True)

    return wrap
