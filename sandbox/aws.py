"""The embedded AWS: moto in-process, with what the sandbox adds around it — one botocore Loader for
every session, moto's backends serialised, every call counted, and moto's server when asked for."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


def share_botocore_loader() -> None:
    """Every boto3 session the process creates reads service models through one botocore Loader.

    A new Session otherwise parses the JSON service models again (~0.2 s per service per session), and
    the sandbox, Steward's adapters and the tests create many sessions. The models are read-only data, so
    sharing the Loader changes nothing but time. Event handlers stay per session (the call counter and
    fault injection rely on that).
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session, "_steward_shared_loader", False):
        return
    loaders: dict[Any, Any] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared  # type: ignore[assignment]
    botocore.session._steward_shared_loader = True  # type: ignore[attr-defined]


class EmbeddedAws:
    """moto started and stopped with the sandbox's patches. `calls` counts every botocore call."""

    def __init__(self, calls: Counter[str]) -> None:
        self.calls = calls
        self.lock: Any = None  # moto's: one AWS call at a time
        self._mock: Any = None
        self._unserialize: Any = None
        self._counter: Any = None
        self._calls_lock = threading.Lock()
        self.server: Any = None

    def start(self) -> None:
        from moto import mock_aws

        share_botocore_loader()
        self._mock = mock_aws()
        self._mock.start()

    def uninstall_call_counter(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        if self._counter in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(self._counter)

    def restore_moto(self) -> None:
        if self._unserialize is not None:
            self._unserialize()
            self._unserialize = None

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def serialize_moto(self) -> None:
        """moto's in-process backends are not thread-safe, and Steward reads in parallel (BatchGetItem
        chunks) while the API server answers on its own threads: one AWS call at a time, as on AWS each
        call is atomic. (Seen: "dictionary changed size during iteration" in a concurrent read.)"""
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        lock = self.lock = threading.RLock()

        def serialized(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(stubber, *args, **kwargs)

        BotocoreStubber.__call__ = serialized  # type: ignore[method-assign]
        self._unserialize = lambda: setattr(BotocoreStubber, "__call__", original)

    def install_call_counter(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        def count(model: Any, **kwargs: Any) -> None:
            with self._calls_lock:
                self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

        self._counter = ("before-call.*.*", count)
        BUILTIN_HANDLERS.append(self._counter)

    def serve(self) -> str:
        """moto's HTTP server on a loopback port (`Sandbox(serve_aws=True)`); returns its URL."""
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop_serving(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
