"""The layer ships only what Lambda runs: build-CoreLayer copies the steward package and nothing else.

The recipe runs for real (layers/core/Makefile, as `sam build` runs it) with its pip step replaced by
`true`: the wheels need the package index, the copy does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bench import sizes
from tests.conftest import REPO

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("make"):
        pytest.fail("make is needed (it is what sam build runs for the layer)")
    artifacts = tmp_path_factory.mktemp("CoreLayer")
    (artifacts / "python").mkdir()  # pip's --target makes it in a real build
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO / "layers/core"), "build-CoreLayer"],
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), "PIP": "true"},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return artifacts / "python"


def test_the_layer_holds_the_steward_package_only(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == ["steward"]
    shipped = {p.relative_to(built / "steward") for p in built.rglob("*") if p.is_file()}
    source = {p.relative_to(REPO / "layers/core/steward") for p in sizes.package_files(REPO)}
    assert shipped == source
    assert not [p for p in shipped if "__pycache__" in p.parts]
    # Neither the CLI nor the sandbox, nor anything that imports them (import-linter checks the imports).
    assert not (built / "steward" / "cli").exists()
    assert not [p for p in shipped if p.parts[0] in {"cli", "steward_cli", "sandbox"}]


def test_the_layer_is_no_larger_than_before_the_cli_moved_out(built: Path) -> None:
    shipped = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
    assert shipped == sizes.package_bytes(REPO)
    print(f"layer steward package: {shipped:,} bytes (with the CLI it was {sizes.PACKAGE_WITH_CLI:,})")
    assert shipped <= sizes.PACKAGE_WITH_CLI
