"""API Gateway's REST resources and methods, and which one serves a request (most specific resource,
then the exact method over ANY; an encoded "/" stays inside one path parameter)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
AUTH_TYPES = frozenset({"NONE", "AWS_IAM"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_STATIC, _VARIABLE, _GREEDY = 0, 1, 2  # segment kinds, in order of precedence


@dataclass(frozen=True)
class Route:
    """One API Gateway method: an HTTP method (or ANY) on a resource path, integrated with a function."""

    method: str  # "GET", "POST", ..., or "ANY"
    path: str  # API Gateway resource path, e.g. "/health", "/endpoints/{name}", "/proxy/{proxy+}"
    function: str  # logical function name, used in logs and passed to invoke
    auth: str = "NONE"  # "NONE" or "AWS_IAM" (SigV4 is not verified; identity is a local caller)

    def __post_init__(self) -> None:
        # Normalised here so a template's "get" or "aws_iam" matches; frozen, hence object.__setattr__.
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "auth", self.auth.upper())
        if self.method not in METHODS:
            raise ValueError(f"route {self.path}: unsupported method {self.method!r}")
        if self.auth not in AUTH_TYPES:
            raise ValueError(f"route {self.path}: unsupported auth {self.auth!r} (NONE or AWS_IAM)")
        _resource_segments(self.path)  # validates the path


@lru_cache(maxsize=1024)  # parsed once per resource, not once per request
def _resource_segments(path: str) -> tuple[tuple[int, str], ...]:
    """A resource path as (kind, literal-or-parameter-name) segments; raises ValueError if malformed."""
    if not path.startswith("/"):
        raise ValueError(f"resource path {path!r} must start with '/'")
    parts = path.strip("/").split("/") if path.strip("/") else []
    segments: list[tuple[int, str]] = []
    for index, part in enumerate(parts):
        found = _PARAM.match(part)
        if found is None:
            if not part or "{" in part or "}" in part:
                raise ValueError(f"resource path {path!r}: bad segment {part!r}")
            segments.append((_STATIC, part))
        elif found.group(2):
            if index != len(parts) - 1:
                raise ValueError(f"resource path {path!r}: a greedy {{{found.group(1)}+}} must be last")
            segments.append((_GREEDY, found.group(1)))
        else:
            segments.append((_VARIABLE, found.group(1)))
    return tuple(segments)


def _request_segments(raw_path: str) -> list[str]:
    trimmed = raw_path[1:] if raw_path.startswith("/") else raw_path
    if trimmed.endswith("/"):
        trimmed = trimmed[:-1]
    return trimmed.split("/") if trimmed else []


def match_path(resource: str, raw_path: str) -> dict[str, str] | None:
    """Path parameters (URL-decoded) if the percent-encoded request path fits the resource, else None.

    Matching happens before decoding so that an encoded "/" (%2F) stays inside one parameter.
    """
    segments = _resource_segments(resource)
    parts = _request_segments(raw_path)
    params: dict[str, str] = {}
    for index, (kind, name) in enumerate(segments):
        if kind == _GREEDY:
            rest = parts[index:]
            if not rest or not any(rest):  # {proxy+} needs at least one non-empty segment
                return None
            params[name] = unquote("/".join(rest))
            return params
        if index >= len(parts):
            return None
        part = parts[index]
        if kind == _STATIC:
            if unquote(part) != name:
                return None
        elif not part:
            return None
        else:
            params[name] = unquote(part)
    return params if len(parts) == len(segments) else None


def _specificity(route: Route) -> tuple[int, ...]:
    # Lexicographic: the first segment that differs decides, as in API Gateway's resource tree.
    return tuple(kind for kind, _ in _resource_segments(route.path))


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving `method` on the percent-encoded `path`, and its decoded path parameters.

    The most specific resource wins (static segment > {param} > {proxy+}); then, on that resource, an
    exact method beats ANY. A resource that matches without the method gives None, as API Gateway
    answers that the same way as an unknown resource (it does not fall back to a less specific one).
    """
    method = method.upper()
    candidates: list[tuple[tuple[int, ...], Route, dict[str, str]]] = []
    for route in routes:
        params = match_path(route.path, path)
        if params is not None:
            candidates.append((_specificity(route), route, params))
    if not candidates:
        return None
    best = min(key for key, _, _ in candidates)
    on_resource = [(route, params) for key, route, params in candidates if key == best]
    for wanted in (method, "ANY"):
        for route, params in on_resource:
            if route.method == wanted:
                return route, params
    return None
