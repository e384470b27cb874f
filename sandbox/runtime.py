"""A minimal Lambda runtime: load a function's handler from its folder, run it in its environment."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    function_version: str = "$LATEST"
    deadline_ms: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))


def load_handler(code_dir: Path, handler: str, unique: str) -> Any:
    """Import `module.function` from a function folder under a module name unique to that function."""
    module_name, _, function_name = handler.rpartition(".")
    path = code_dir / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise FileNotFoundError(f"handler module {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"_steward_fn_{unique}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def make_context(name: str, arn: str, memory: int, timeout: int) -> LambdaContext:
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=memory,
        invoked_function_arn=arn,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        deadline_ms=time.time() * 1000 + timeout * 1000,
    )


class Environment:
    """Swap os.environ to a function's environment for one invocation, then restore it."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str] = {}

    def __enter__(self) -> None:
        self.saved = dict(os.environ)
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)
