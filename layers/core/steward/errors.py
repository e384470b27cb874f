"""Domain errors. Handlers map these in one place; data access turns ClientError into them."""

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


class DuplicateEventError(StewardError):
    """This event id was already processed."""


class NotFoundError(StewardError):
    """A resource asked for does not exist."""


class DependencyError(StewardError):
    """An AWS dependency failed in a way worth retrying (throttling, 5xx)."""
