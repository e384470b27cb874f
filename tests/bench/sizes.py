"""Unzipped size of each function and of the layer after `sam build`.

`.aws-sam/build` is reused when it is newer than every source it is built from (template.yaml,
functions/, layers/core/); otherwise `make build` runs first (its output goes to .aws-sam/bench-build.log).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.bench.report import Row, size

SECTION = "package size"
LIMIT = 20_000_000  # layer + function, unzipped
LAYER = "CoreLayer"


def _newest_source(repo: Path) -> float:
    newest = (repo / "template.yaml").stat().st_mtime
    for root in (repo / "functions", repo / "layers" / "core"):
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if not name.endswith(".pyc"):
                    newest = max(newest, (Path(folder) / name).stat().st_mtime)
    return newest


def ensure_build(repo: Path) -> str:
    """'reused' or 'rebuilt'; raises RuntimeError when the build fails."""
    built = repo / ".aws-sam" / "build" / "template.yaml"
    if built.is_file() and built.stat().st_mtime > _newest_source(repo):
        return "reused"
    log = repo / ".aws-sam" / "bench-build.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(["make", "build"], cwd=repo, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"make build failed (exit {done.returncode}); see {log}")
    return "rebuilt"


def unzipped(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def run(repo: Path) -> list[Row]:
    try:
        how = ensure_build(repo)
    except RuntimeError as exc:
        return [Row(SECTION, "sam build", str(exc), target=f"≤ {size(LIMIT)}", met=False)]
    build = repo / ".aws-sam" / "build"
    layer = unzipped(build / LAYER)
    functions = sorted(p for p in build.iterdir() if p.is_dir() and p.name != LAYER)
    rows = [Row(SECTION, f"layer {LAYER} (build {how})", size(layer), target="", met=None)]
    for function in functions:
        own = unzipped(function)
        rows.append(
            Row(
                SECTION,
                f"{function.name} + layer",
                size(own + layer),
                baseline=f"function {size(own)}",
                target=f"≤ {size(LIMIT)}",
                met=own + layer <= LIMIT,
            )
        )
    return rows
