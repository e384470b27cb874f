"""README's "## Layout" matches the tree: every path it names exists, every package of the layer's steward
package and every tracked top-level directory is named.

The block's grammar: a line's names come before its description (three or more spaces), separated by
single or double spaces; a line indented under a single directory names paths inside it; lines indented
to the description column continue a description. `<placeholder>` matches any one path component.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.infra

CONTINUATION = 16  # a line indented this far continues the description above it
STEWARD = REPO / "layers/core/steward"


def layout_block(readme: str) -> str:
    match = re.search(r"^## Layout\n\n```\n(.*?)\n```$", readme, flags=re.MULTILINE | re.DOTALL)
    assert match, 'README has no "## Layout" section opening with a code block'
    return match[1]


def named_paths(block: str, repo: Path) -> tuple[list[Path], list[str]]:
    """The paths the block names (placeholders expanded), and the names that match nothing."""
    found: list[Path] = []
    missing: list[str] = []
    parents: dict[int, Path] = {}
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= CONTINUATION:
            continue
        names = re.split(r"\s{3,}", line.strip())[0].split()
        outer = [i for i in parents if i < indent]
        base = parents[max(outer)] if indent and outer else repo
        for i in [i for i in parents if i >= indent]:
            del parents[i]
        for name in names:
            pattern = re.sub(r"<[^>]+>", "*", name.rstrip("/"))
            matches = sorted(base.glob(pattern)) if "*" in pattern else [base / pattern]
            matches = [m for m in matches if (m.is_dir() if name.endswith("/") else m.exists())]
            if not matches:
                where = base.relative_to(repo).as_posix()
                missing.append(name if where == "." else f"{where}/{name}")
            found += matches
        if len(names) == 1 and names[0].endswith("/") and "<" not in names[0]:
            parents[indent] = base / names[0].rstrip("/")
    return found, missing


def layout_problems(readme: str, repo: Path, tracked_top: set[str]) -> list[str]:
    found, missing = named_paths(layout_block(readme), repo)
    problems = [f"named but missing: {name}" for name in missing]
    named = {p.resolve() for p in found}
    steward = repo / "layers/core/steward"
    for package in sorted(p.parent for p in steward.glob("*/__init__.py")):
        if package.resolve() not in named:
            problems.append(f"package not named: {package.relative_to(repo)}/")
    for top in sorted(tracked_top):  # named itself or through a path inside it (cli/steward_cli/)
        if not any(p == (repo / top).resolve() or (repo / top).resolve() in p.parents for p in named):
            problems.append(f"top-level directory not named: {top}/")
    return problems


def tracked_top_dirs() -> set[str]:
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.fail("the layout check reads the tracked tree with git")
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()
    return {path.split("/", 1)[0] for path in listed if "/" in path}


def test_the_layout_section_matches_the_tree() -> None:
    readme = (REPO / "README.md").read_text()
    assert layout_problems(readme, REPO, tracked_top_dirs()) == []


def test_drift_is_reported() -> None:
    readme = (REPO / "README.md").read_text()
    block = layout_block(readme)
    doctored = block.replace(" status/ ", " ", 1).replace("sandbox/   ", "sandbox-gone/   ", 1)
    api = next(line for line in block.splitlines() if line.strip().startswith("api/"))
    doctored = doctored.replace(api, f"{api}\n    nowhere/                   a package that is not there")
    problems = layout_problems(readme.replace(block, doctored), REPO, tracked_top_dirs())
    assert "package not named: layers/core/steward/status/" in problems
    assert "named but missing: layers/core/steward/nowhere/" in problems
    assert "named but missing: sandbox-gone/" in problems
    assert "top-level directory not named: sandbox/" in problems
