"""The layering contracts (.importlinter, docs/ARCHITECTURE.md): kept by the tree, and each able to fail.

The tree is copied to a temporary directory (the four root packages, ~2 MB) and one forbidden import is
added per case; lint-imports then runs on the copy with the repository's own .importlinter. Each run takes
under a second.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.infra

CONFIG = REPO / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
ROOTS = {
    "steward": REPO / "layers/core/steward",
    "functions": REPO / "functions",
    "steward_cli": REPO / "cli/steward_cli",
    "sandbox": REPO / "sandbox",
}


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy's packages before the editable install
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False)


def contract_ids() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return [s.removeprefix("importlinter:contract:") for s in parser.sections() if ":contract:" in s]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name, source in ROOTS.items():
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_ids())} kept, 0 broken." in result.stdout


def test_the_copy_keeps_every_contract(tree: Path) -> None:
    """The cases below break a contract only by what they add: the copy itself is clean."""
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


# (contract, file added to the copy, its source): one forbidden import each.
CASES = [
    ("package-layers", "steward/kernel/bad.py", "from steward.lineage import query\n"),
    ("package-layers", "steward/kernel/bad.py", "from steward.events import models\n"),
    ("package-layers", "steward/newthing/__init__.py", ""),  # exhaustive: a new package needs a layer
    ("boto3-in-adapters", "steward/approvals/bad.py", "import boto3\n"),
    ("boto3-in-adapters", "functions/notify/bad.py", "from botocore.exceptions import ClientError\n"),
    (
        "adapters-from-composition-roots",
        "steward/approvals/bad.py",
        "from steward.approvals.adapters import store\n",
    ),
    (
        "kernel-aws-from-adapters",
        "steward/promotion/bad.py",
        "from steward.kernel.aws.clients import client\n",
    ),
    ("composition-roots-on-top", "steward/approvals/bad.py", "from steward.approvals import wiring\n"),
    ("slices-through-public-surfaces", "steward/report/bad.py", "from steward.approvals import machine\n"),
    ("slices-through-public-surfaces", "steward/lineage/bad.py", "from steward.notify import deliver\n"),
    ("layer-ships-lambda-code", "steward/notify/bad.py", "import sandbox\n"),
    ("layer-ships-lambda-code", "functions/api/bad.py", "import moto\n"),
    ("layer-does-not-import-handlers", "steward/kernel/bad.py", "from functions.api import app\n"),
    ("handlers-are-entry-points", "functions/notify/bad.py", "from functions.api import app\n"),
]


def test_every_contract_has_a_failing_case() -> None:
    assert {case[0] for case in CASES} == set(contract_ids())


@pytest.mark.parametrize(("contract", "path", "source"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_a_forbidden_import_breaks_its_contract(tree: Path, contract: str, path: str, source: str) -> None:
    added = tree / path
    created_dir = not added.parent.exists()
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_text(source)
    try:
        result = lint_imports(tree, contract)
    finally:
        added.unlink()
        if created_dir:
            added.parent.rmdir()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "0 broken" not in result.stdout
    if source:  # the report names the offending module
        assert path.removesuffix(".py").replace("/", ".") in result.stdout, result.stdout
