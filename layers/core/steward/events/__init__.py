"""Event models and the one place raw EventBridge events are parsed.

The models load on first use (`parse_event`, or `EVENT_MODELS` / `StewardEvent` read from this
package): a function that never parses an event, or a module that only needs `steward.events.normalize`,
does not pay for them when it is imported (cold start).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from steward.kernel.errors import InvalidEventError, UnsupportedEventError

if TYPE_CHECKING:
    from steward.events.models import EVENT_MODELS, StewardEvent

__all__ = ["EVENT_MODELS", "StewardEvent", "on_event", "parse_event", "parse_or_ignore"]


def __getattr__(name: str) -> Any:
    if name in ("EVENT_MODELS", "StewardEvent"):
        from steward.events import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MAX_ERRORS = 10


def parse_event(raw: Any) -> StewardEvent:
    """Parse one EventBridge event into its model.

    Raises UnsupportedEventError for a well-formed event of another type, and InvalidEventError
    (each problem with the dotted path of its field) for a malformed one.
    """
    from pydantic import ValidationError

    from steward.events.models import EVENT_MODELS

    if not isinstance(raw, dict):
        raise InvalidEventError(None, [{"field": "(event)", "message": "an event is a JSON object"}])
    detail_type = raw.get("detail-type")
    model = EVENT_MODELS.get(detail_type) if isinstance(detail_type, str) else None
    if model is None:
        if not isinstance(detail_type, str):
            raise InvalidEventError(None, [{"field": "detail-type", "message": "missing or not a string"}])
        raise UnsupportedEventError(f"unsupported detail-type {detail_type[:100]!r}")
    from steward.events.identifiers import identifier_problems, raw_text_problems

    unencodable = raw_text_problems(raw, _MAX_ERRORS)
    if unencodable:
        raise InvalidEventError(detail_type, unencodable)
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(part) for part in err["loc"]) or "(event)",
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)[:_MAX_ERRORS]
        ]
        raise InvalidEventError(detail_type, errors) from None
    from steward.events.limits import oversized

    too_long = oversized(parsed)  # ids become store keys: bounded, see limits.py
    if too_long:
        raise InvalidEventError(detail_type, too_long[:_MAX_ERRORS])
    malformed = identifier_problems(parsed)
    if malformed:
        raise InvalidEventError(detail_type, malformed[:_MAX_ERRORS])
    return parsed  # type: ignore[return-value]


def parse_or_ignore(raw: Any, log: Any) -> StewardEvent | None:
    """What every EventBridge handler does first: the model, None (logged) for a type it does not
    handle, or InvalidEventError (logged, then raised, so bounded retries end in the DLQ)."""
    try:
        return parse_event(raw)
    except UnsupportedEventError as exc:
        log.info("ignored event", extra={"reason": str(exc)})
        return None
    except InvalidEventError as exc:
        log.error("invalid event", extra=exc.to_dict())  # noqa: TRY400 (structured; no traceback of event data)
        raise


def on_event(use: Callable[[StewardEvent, Any], dict[str, Any]]) -> Callable[[Any, Any], dict[str, Any]]:
    """An EventBridge handler from `use(parsed, context)`: the event id on every log line, the event
    parsed, `{"outcome": "ignored"}` for a type Steward does not handle, InvalidEventError raised."""
    from steward.kernel.observability import logger

    @functools.wraps(use)
    def handle(event: Any, context: Any) -> dict[str, Any]:
        logger.append_keys(event_id=event.get("id") if isinstance(event, dict) else None)
        parsed = parse_or_ignore(event, logger)  # invalid: raised, so retries end in the DLQ
        if parsed is None:
            return {"outcome": "ignored"}
        return use(parsed, context)

    return handle
