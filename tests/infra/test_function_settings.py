"""Each function's settings model (functions/<name>/app.py `Settings`) against template.yaml: every
variable the model requires is set on that function (its own Variables or the Globals'), so a deployed
function never starts without one; Lambda sets AWS_REGION itself."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from steward.kernel.settings import variables
from tests.conftest import REPO
from tests.infra.test_template import resources

pytestmark = pytest.mark.infra

SET_BY_LAMBDA = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME"})


def functions() -> dict[str, dict[str, Any]]:
    """Logical id -> translated AWS::Lambda::Function, for each function with a handler folder."""
    return {
        name: resource
        for name, resource in resources("AWS::Lambda::Function").items()
        if resource["Properties"]["Code"].get("S3Key", "").startswith("functions/")
    }


@cache
def settings_model(code: str) -> Any:
    path = REPO / code / "app.py"
    spec = importlib.util.spec_from_file_location(f"_settings_of_{Path(code).name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Settings


def missing(required: dict[str, bool], environment: dict[str, Any]) -> list[str]:
    return sorted(
        n for n, needed in required.items() if needed and n not in environment and n not in SET_BY_LAMBDA
    )


def test_every_function_folder_is_a_function_of_the_template():
    folders = {p.parent.name for p in (REPO / "functions").glob("*/app.py")}
    deployed = {Path(f["Properties"]["Code"]["S3Key"]).name for f in functions().values()}
    assert folders == deployed


@pytest.mark.parametrize("logical_id", sorted(functions()))
def test_the_template_sets_every_variable_the_functions_settings_require(logical_id):
    # Given the function's settings model and its environment as deployed (Globals merged in)
    function = functions()[logical_id]
    model = settings_model(function["Properties"]["Code"]["S3Key"].rstrip("/"))
    environment = (function["Properties"].get("Environment") or {}).get("Variables") or {}
    # Then nothing the model requires is left unset
    assert missing(variables(model), environment) == []


def test_a_variable_the_template_forgets_is_found():
    # Given a model requiring a variable the environment lacks, Then the comparison names it
    model = settings_model("functions/record_lineage")
    assert missing(variables(model), {"LINEAGE_TABLE_NAME": "t"}) == ["IDEMPOTENCY_TABLE_NAME"]
