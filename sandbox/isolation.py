"""What each Lambda execution environment has to itself, kept per invocation inside one process.

On Lambda every invocation in flight has an execution environment of its own: its own process, so its
own `os.environ`, module globals and caches. The sandbox runs every function in one process, several at
once in its parallel mode (`Sandbox(parallel=True)`, threads). While a sandbox runs, what Steward,
Powertools and the runtime keep process-wide is made context-local (a `contextvars` value, so the pools
Steward fans reads out to, `steward.kernel.threads.ContextPool`, see the invocation that submitted to them):

- the environment: `os.environ` is a view that, inside an invocation, reads and writes that
  invocation's own copy (the sandbox's environment plus the function's variables);
- what the invocation prints (Powertools writes its metrics to stdout);
- Powertools' own process-wide state: the Parameters cache (empty at each invocation, so a policy a test
  just published is read), the metric set being built, the logger's keys, and the event handler's
  current event and Lambda context (class attributes of `BaseRouter`).

Outside any invocation (the test itself, the sandbox's own calls) everything reads as usual. The handler
module's own globals (an event handler app, a batch processor) are per execution environment: the
sandbox loads a function's module once for each environment it needs at the same time
(sandbox/lambdas/service.py).
Steward's settings are a function of the environment (`steward.kernel.settings.get_settings`), so they follow.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scope:
    """One invocation's own state."""

    environ: dict[str, str]
    stdout: io.StringIO = field(default_factory=io.StringIO)
    attributes: dict[tuple[int, str], Any] = field(default_factory=dict)


_UNSET: Any = object()
_CURRENT: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("steward-sandbox-scope", default=None)


def current() -> Scope | None:
    return _CURRENT.get()


class ContextEnviron(MutableMapping[str, str]):
    """`os.environ` while a sandbox runs: the invocation's own environment inside one, else the process's."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def _data(self) -> MutableMapping[str, str]:
        scope = _CURRENT.get()
        return scope.environ if scope is not None else self.base

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(key if not isinstance(key, str) else value).__name__}")
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def __contains__(self, key: object) -> bool:
        return key in self._data()

    def copy(self) -> dict[str, str]:
        return dict(self._data())

    def __repr__(self) -> str:
        return f"ContextEnviron({dict(self._data())!r})"


class _PerInvocation:
    """A data descriptor: inside an invocation the attribute is the invocation's own (made on first use
    by `fresh(shared value)`), outside it is the instance's as before."""

    def __init__(self, name: str, fresh: Callable[[Any], Any]) -> None:
        self.name, self.fresh = name, fresh

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        shared = obj.__dict__.get(self.name)
        scope = _CURRENT.get()
        if scope is None:
            if self.name not in obj.__dict__:
                raise AttributeError(self.name)
            return shared
        key = (id(obj), self.name)
        if key not in scope.attributes:
            scope.attributes[key] = self.fresh(shared)
        return scope.attributes[key]

    def __set__(self, obj: Any, value: Any) -> None:
        scope = _CURRENT.get()
        if scope is None or self.name not in obj.__dict__:  # outside, or the object being initialised
            obj.__dict__[self.name] = value
        if scope is not None:
            scope.attributes[(id(obj), self.name)] = value


class _PerInvocationClassAttribute:
    """A class attribute Powertools assigns on the class (`BaseRouter.current_event = ...`), kept per
    invocation: set on the class's metaclass (for class-level reads and writes) and in the class itself
    (for reads through instances)."""

    def __init__(self, name: str, original: Any) -> None:
        self.name = name
        self.shared = original
        self.key = (id(self), name)

    def _get(self) -> Any:
        scope = _CURRENT.get()
        value = scope.attributes.get(self.key, self.shared) if scope is not None else self.shared
        if value is _UNSET:
            raise AttributeError(self.name)
        return value

    def _set(self, value: Any) -> None:
        scope = _CURRENT.get()
        if scope is None:
            self.shared = value
        else:
            scope.attributes[self.key] = value

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self._get()

    def __set__(self, obj: Any, value: Any) -> None:
        self._set(value)


def _empty(_: Any) -> Any:
    return {}


def _copy(shared: Any) -> Any:
    return dict(shared or {})


def _empty_list(_: Any) -> Any:
    return []


# (module, class, attribute, how an invocation's own value starts)
_INSTANCE_ATTRIBUTES: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("aws_lambda_powertools.utilities.parameters.base", "BaseProvider", "store", _empty),
    ("aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch", "AmazonCloudWatchEMFProvider",
     "metric_set", _empty),
    ("aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch", "AmazonCloudWatchEMFProvider",
     "dimension_set", _copy),  # the default dimensions it was made with
    ("aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch", "AmazonCloudWatchEMFProvider",
     "metadata_set", _empty),
    ("aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch", "AmazonCloudWatchEMFProvider",
     "dimension_sets", _empty_list),
    ("aws_lambda_powertools.logging.formatter", "LambdaPowertoolsFormatter", "log_format", _copy),
)  # fmt: skip
_CLASS_ATTRIBUTES = ("current_event", "lambda_context")  # of aws_lambda_powertools.event_handler BaseRouter
_QUIET = "No application metrics to publish"  # Powertools warns when an invocation published no metric


class Isolation:
    """Installs the context-local views while a sandbox runs (one at a time), and removes them after."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._active = 0
        self._saved_stdout: Any = None

    def install(self) -> None:
        import importlib

        environ = os.environ
        view = ContextEnviron(environ)
        os.environ = view  # type: ignore[assignment]  # noqa: B003 (a view of the same environment)
        self._undo.append(lambda: setattr(os, "environ", environ))
        for module_name, class_name, attribute, fresh in _INSTANCE_ATTRIBUTES:
            cls = getattr(importlib.import_module(module_name), class_name)
            original = cls.__dict__.get(attribute, _UNSET)
            setattr(cls, attribute, _PerInvocation(attribute, fresh))
            self._undo.append(lambda cls=cls, a=attribute, o=original: self._restore(cls, a, o))
        self._install_router_state()

    @staticmethod
    def _restore(owner: Any, attribute: str, original: Any) -> None:
        if original is _UNSET:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)

    def _install_router_state(self) -> None:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        meta = type(BaseRouter)
        slots = {
            name: _PerInvocationClassAttribute(name, BaseRouter.__dict__.get(name, _UNSET))
            for name in _CLASS_ATTRIBUTES
        }
        for name, slot in slots.items():
            type.__setattr__(BaseRouter, name, slot)  # instance reads (app.current_event)
        BaseRouter.__class__ = type(f"PerInvocation{meta.__name__}", (meta,), dict(slots))

        def undo() -> None:
            BaseRouter.__class__ = meta
            for name, slot in slots.items():
                if slot.shared is _UNSET:
                    type.__delattr__(BaseRouter, name)
                else:
                    type.__setattr__(BaseRouter, name, slot.shared)

        self._undo.append(undo)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    @contextlib.contextmanager
    def invocation(self, environment: dict[str, str]) -> Iterator[Scope]:
        """Run the block as one invocation: its environment is the current one plus `environment`."""
        scope = Scope(environ={**os.environ, **environment})
        token = _CURRENT.set(scope)
        self._enter()
        try:
            yield scope
        finally:
            self._leave()
            _CURRENT.reset(token)

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            if self._active == 1:
                self._saved_stdout = sys.stdout
                sys.stdout = _Stdout(self._saved_stdout)
        if not any(f[0] == "ignore" and getattr(f[1], "pattern", None) == _QUIET for f in warnings.filters):
            warnings.filterwarnings("ignore", message=_QUIET)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                if isinstance(sys.stdout, _Stdout):  # unless someone (pytest) put another one meanwhile
                    sys.stdout = self._saved_stdout
                self._saved_stdout = None


class _Stdout(io.TextIOBase):
    """sys.stdout while invocations run: each invocation's prints go to its own buffer."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        scope = _CURRENT.get()
        if scope is not None:
            return scope.stdout.write(text)
        return int(self.fallback.write(text))

    def flush(self) -> None:
        if _CURRENT.get() is None:
            self.fallback.flush()
