"""Unzipped size of each function and of the layer after `sam build`, and of the layer's own parts offline.

The offline rows need no build: the steward package as build-CoreLayer copies it (layers/core/steward
without __pycache__), and the layer's pinned requirements as installed in this venv (this platform's
wheels; the arm64 ones sam build ships differ a little, mostly in pydantic-core's binary).

`.aws-sam/build` is reused when it is newer than every source it is built from (template.yaml,
functions/, layers/core/); otherwise `make build` runs first (its output goes to .aws-sam/bench-build.log).
"""

from __future__ import annotations

import os
import re
import subprocess
from importlib import metadata
from pathlib import Path

from tests.bench.report import Row, size

SECTION = "package size"
LIMIT = 20_000_000  # layer + function, unzipped
LAYER = "CoreLayer"
# The steward package's source bytes measured by the lead in the redesign (issue 16): 703,083 with the
# CLI inside the layer, 647,841 once it moved out. The layer is to be no larger than before.
PACKAGE_WITH_CLI = 703_083
PACKAGE_WITHOUT_CLI = 647_841


def package_files(repo: Path) -> list[Path]:
    """What build-CoreLayer copies of the steward package: `cp -R steward`, then __pycache__ pruned."""
    root = repo / "layers" / "core" / "steward"
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [Path(folder) / name for name in files]
    return sorted(found)


def package_bytes(repo: Path) -> int:
    return sum(path.stat().st_size for path in package_files(repo))


def requirement_bytes(repo: Path) -> tuple[int, list[str]]:
    """Installed size of layers/core/requirements.txt's pins in this venv; the names not installed."""
    total, missing = 0, []
    for line in (repo / "layers" / "core" / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>~!; #]", line.strip(), maxsplit=1)[0]
        if not name:
            continue
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        total += sum(
            f.size or 0 for f in files if "__pycache__" not in f.parts and not f.name.endswith(".pyc")
        )
    return total, missing


def offline_rows(repo: Path) -> list[Row]:
    steward = package_bytes(repo)
    wheels, missing = requirement_bytes(repo)
    return [
        Row(
            SECTION,
            "layer: steward package (what build-CoreLayer copies)",
            f"{steward:,} B",
            baseline=f"{PACKAGE_WITH_CLI:,} B with the CLI, {PACKAGE_WITHOUT_CLI:,} B without",
            target=f"≤ {PACKAGE_WITH_CLI:,} B",
            met=steward <= PACKAGE_WITH_CLI,
        ),
        Row(
            SECTION,
            "layer: requirements as installed here",
            size(wheels) + (f" ({', '.join(missing)} not installed)" if missing else ""),
            baseline="this platform's wheels",
        ),
    ]


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
    offline = offline_rows(repo)
    try:
        how = ensure_build(repo)
    except RuntimeError as exc:
        return [*offline, Row(SECTION, "sam build", str(exc), target=f"≤ {size(LIMIT)}", met=False)]
    build = repo / ".aws-sam" / "build"
    layer = unzipped(build / LAYER)
    functions = sorted(p for p in build.iterdir() if p.is_dir() and p.name != LAYER)
    rows = [*offline, Row(SECTION, f"layer {LAYER} (build {how})", size(layer), target="", met=None)]
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
