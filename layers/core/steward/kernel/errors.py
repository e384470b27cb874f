"""Domain errors. Handlers map these in one place; data access turns ClientError into them.

Four of them mean one thing each to a caller of the API (functions/api/app.py maps them, and only there):
RefusedError (the request is refused: 4xx, naming the field at fault), NotFoundError (404),
ConfigurationError (Steward is set up wrong: a function error, the caller sees a generic 5xx) and
DependencyError (an AWS service failed in a way worth retrying: 503).
"""

from __future__ import annotations

from typing import Any


class StewardError(Exception):
    """Base of every domain error."""


class InvalidEventError(StewardError):
    """The event is malformed: `errors` lists each problem with the path of the field it concerns."""

    def __init__(self, detail_type: str | None, errors: list[dict[str, Any]]) -> None:
        self.detail_type = detail_type
        self.errors = errors
        where = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(f"invalid {detail_type or 'event'}: {where}")

    def to_dict(self) -> dict[str, Any]:
        return {"error": "InvalidEvent", "detailType": self.detail_type, "errors": self.errors}


class UnsupportedEventError(StewardError):
    """A well-formed event of a type this function does not handle (ignored with a log line)."""


class StaleEventError(StewardError):
    """A conditional write lost: the store already holds a newer state."""


class LinkUsedError(StaleEventError):
    """An approval link was spent already (single use): the decision it carried is not recorded."""


class DuplicateEventError(StewardError):
    """This event id was already processed."""


class NotFoundError(StewardError):
    """A resource asked for does not exist."""


class DependencyError(StewardError):
    """An AWS dependency failed in a way worth retrying (throttling, 5xx)."""


class RefusedError(StewardError):
    """The request is understood and refused; retrying it unchanged gets the same answer.

    `status` is the HTTP status the API answers (400 bad input, 401 unauthenticated, 403 not allowed,
    409 conflicting with the current state, 410 gone, 413 too large), `error` a stable code a client
    can branch on, and `field`, for bad input, the query, path or body parameter at fault.
    """

    def __init__(
        self, message: str, *, status: int = 400, error: str = "BadRequest", field: str | None = None
    ):
        if not 400 <= status <= 499:
            raise ValueError(f"a refusal is a 4xx, not {status}")
        self.status = status
        self.error = error
        self.field = field
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": str(self)}
        if self.field is not None:
            body["field"] = self.field
        return body


class ConfigurationError(StewardError):
    """Steward is set up wrong (a secret without its key, a queue not configured): neither the caller's
    fault nor transient. The detail is for the operator's log, never for the caller."""
