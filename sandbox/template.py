"""template.yaml → the resources the sandbox creates and the wiring it routes by.

The SAM template is translated as CloudFormation does it: AWS::LanguageExtensions first when listed
(`Fn::ForEach`, sandbox/language_extensions.py), then aws-sam-translator (the same SAM transform
CloudFormation runs); intrinsic functions are then resolved against the sandbox's account and region, so
local and deployed resources come from one definition and cannot drift.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.language_extensions import LanguageExtensionError, expand, find_in_map, uses_language_extensions

ACCOUNT = "123456789012"  # the default sandbox's account (moto's DEFAULT_ACCOUNT_ID); Sandbox(account=...)
CODE_BUCKET = "sandbox-code"
_NO_VALUE = object()


class TemplateError(ValueError):
    """The template cannot be translated or uses something the sandbox cannot resolve."""


@dataclass
class FunctionSpec:
    logical_id: str
    name: str  # the function's folder name, e.g. "record_lineage"
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    retries: int = 2  # Lambda async retries (EventInvokeConfig.MaximumRetryAttempts)
    on_failure: str | None = None  # queue URL of the on-failure destination
    arn: str = ""


@dataclass
class RuleSpec:
    logical_id: str
    name: str
    pattern: dict[str, Any] | None
    schedule: str | None
    targets: list[dict[str, Any]]  # {"function": logical id, "dlq": queue url | None, "input": ...}
    enabled: bool = True


@dataclass
class RouteSpec:
    method: str
    path: str
    function: str  # logical id
    auth: str


@dataclass
class QueueMappingSpec:
    function: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class Inventory:
    cfn: dict[str, Any]
    physical: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id → {"Ref": ..., attrs}
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    queue_mappings: list[QueueMappingSpec] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


_TRANSLATED: dict[tuple[Any, ...], dict[str, Any]] = {}


def translate(template_path: Path, parameters: dict[str, str], region: str) -> dict[str, Any]:
    """SAM → CloudFormation, with local CodeUri/ContentUri paths kept resolvable.

    Translation is pure (the template's bytes, the parameters and the region decide it), so the result is
    kept per process and each caller gets its own deep copy: a test suite starting hundreds of sandboxes
    translates the template once instead of every time (about 0.4 s each).
    """
    text = template_path.read_text()
    key = (str(template_path.resolve()), text, tuple(sorted(parameters.items())), region)
    if key not in _TRANSLATED:
        if len(_TRANSLATED) >= 16:  # a run uses a handful of (template, parameters) pairs: stay bounded
            _TRANSLATED.pop(next(iter(_TRANSLATED)))
        _TRANSLATED[key] = _translate(template_path, text, parameters, region)
    return copy.deepcopy(_TRANSLATED[key])


def _translate(template_path: Path, text: str, parameters: dict[str, str], region: str) -> dict[str, Any]:
    import os

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    sam = yaml_parse(text)
    if uses_language_extensions(sam):
        try:
            sam = expand(sam, parameters)
        except LanguageExtensionError as exc:
            raise TemplateError(f"cannot translate {template_path}: {exc}") from exc
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://{CODE_BUCKET}/{props[key]}"

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        return transform(sam, dict(parameters), _NoManagedPolicies())  # type: ignore[arg-type]
    except Exception as exc:
        raise TemplateError(f"cannot translate {template_path}: {exc}") from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


class Resolver:
    """Resolves CloudFormation intrinsics against the sandbox's physical resources."""

    def __init__(
        self,
        cfn: dict[str, Any],
        parameters: dict[str, str],
        region: str,
        stack: str,
        account: str = ACCOUNT,
    ) -> None:
        self.cfn = cfn
        self.region = region
        self.stack = stack
        self.account = account
        self.params: dict[str, Any] = {}
        for name, spec in (cfn.get("Parameters") or {}).items():
            value = parameters.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")]  # what Ref returns: a list
            self.params[name] = value
        self.params.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account,
                "AWS::Partition": "aws",
                "AWS::StackName": stack,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/sandbox",
            }
        )
        self.physical: dict[str, dict[str, Any]] = {}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.cfn.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler:
                return handler(self, arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.physical:
            return self.physical[name]["Ref"]
        raise TemplateError(f"Ref to {name}, which the sandbox has not created")

    def get_att(self, logical: str, attribute: str) -> Any:
        attrs = self.physical.get(logical)
        if attrs is None or attribute not in attrs:
            raise TemplateError(f"GetAtt {logical}.{attribute} is not known to the sandbox")
        return attrs[attribute]

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token:
                logical, attribute = token.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _if(r: Resolver, arg: list[Any]) -> Any:
    name, when_true, when_false = arg
    return r.resolve(when_true if r.condition(name) else when_false)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": lambda r, a: r.get_att(*(a.split(".", 1) if isinstance(a, str) else a)),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": lambda r, a: str(a[0]).join(str(x) for x in r.resolve(a[1])),
    "Fn::FindInMap": lambda r, a: find_in_map(r.cfn.get("Mappings") or {}, r.resolve(a)),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: str(r.resolve(a[0])) == str(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(x) for x in a),
    "Fn::Or": lambda r, a: any(r.resolve(x) for x in a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::GetAZs": lambda r, a: [f"{r.region}a", f"{r.region}b"],
    "Fn::Base64": lambda r, a: r.resolve(a),
}


def resource_name(logical: str, props: dict[str, Any], key: str, stack: str) -> str:
    return str(props.get(key) or f"{stack}-{logical}")


def deep_copy(value: Any) -> Any:
    return copy.deepcopy(value)
