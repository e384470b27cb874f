"""The AWS::LanguageExtensions transform, run before the SAM transform as CloudFormation runs it.

CloudFormation runs a template's transforms in the order listed; template.yaml lists
`[AWS::LanguageExtensions, AWS::Serverless-2016-10-31]`, so SAM translates the expanded template. This
module does what that first transform does to the template:

- `Fn::ForEach::<Loop>: [Identifier, [items], {OutputKey: OutputValue}]` in Conditions, Resources
  (resource properties included) and Outputs: one copy of the fragment per item, `${Identifier}` and
  `&{Identifier}` (the item without its non-alphanumeric characters) replaced in every key and string,
  `{"Ref": "Identifier"}` replaced by the item; loops nest. The collection is a list or a `Ref` to a
  list parameter.
- the functions the transform adds or widens, where their arguments are known: `Fn::FindInMap` (with
  `DefaultValue`), and `Ref` / `Fn::GetAtt` whose logical id is itself an intrinsic (`Fn::Sub`).

Every other intrinsic stays for `sandbox.template.Resolver`, which resolves it to the value CloudFormation
would (CloudFormation's transform resolves some of them earlier; the values are the same). `Fn::Length`
and `Fn::ToJsonString` are refused with a TemplateError rather than guessed: nothing here uses them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

TRANSFORM = "AWS::LanguageExtensions"
_FOREACH = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")
_UNSUPPORTED = ("Fn::Length", "Fn::ToJsonString")
_SCALARS = (str, int, float, bool)
_VARIABLE = re.compile(r"\$\{(?!!)[^}]*\}")  # ${Name}, not the ${!Literal} escape


class LanguageExtensionError(ValueError):
    """The template's language extensions are malformed or use what the sandbox does not implement."""


def uses_language_extensions(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    listed = transform if isinstance(transform, list) else [transform]
    return TRANSFORM in listed


def expand(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of `template` with the language extensions applied and the transform taken off its list."""
    out = copy.deepcopy(template)
    params = _parameter_values(out, parameters or {})
    mappings = out.get("Mappings") or {}
    for section in _SECTIONS:
        if isinstance(out.get(section), dict):
            out[section] = _resolve(_expand(out[section], params, ()), mappings)
    remaining = [t for t in _listed(out.get("Transform")) if t != TRANSFORM]
    if remaining:
        out["Transform"] = remaining if len(remaining) > 1 else remaining[0]
    else:
        out.pop("Transform", None)
    return out


def find_in_map(mappings: dict[str, Any], args: list[Any]) -> Any:
    """`Fn::FindInMap: [Map, TopKey, SecondKey]` (optionally `{DefaultValue: x}` last) over literal keys."""
    if not isinstance(args, list) or len(args) not in (3, 4):
        raise LanguageExtensionError(f"Fn::FindInMap takes [map, top key, second key, options?]: {args!r}")
    name, top, second = (str(a) for a in args[:3])
    options = args[3] if len(args) == 4 else {}
    if not isinstance(options, dict) or set(options) - {"DefaultValue"}:
        raise LanguageExtensionError(f"Fn::FindInMap's fourth argument is {{DefaultValue: ...}}: {options!r}")
    try:
        return copy.deepcopy(mappings[name][top][second])
    except (KeyError, TypeError):
        if "DefaultValue" in options:
            return copy.deepcopy(options["DefaultValue"])
        raise LanguageExtensionError(f"Fn::FindInMap: Mappings has no {name}.{top}.{second}") from None


def _listed(transform: Any) -> list[Any]:
    if transform is None:
        return []
    return list(transform) if isinstance(transform, list) else [transform]


def _parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    return {
        name: given.get(name, (spec or {}).get("Default"))
        for name, spec in (template.get("Parameters") or {}).items()
    }


def _expand(node: Any, params: dict[str, Any], identifiers: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_expand(item, params, identifiers) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}

    def put(key: str, value: Any, loop: str | None) -> None:
        if key in out:
            where = f"Fn::ForEach::{loop} makes" if loop else "the template has"
            raise LanguageExtensionError(f"{where} {key} twice (each OutputKey needs the identifier)")
        out[key] = value

    for key, value in node.items():
        if not (isinstance(key, str) and key.startswith(_FOREACH)):
            put(key, _expand(value, params, identifiers), None)
            continue
        loop = key[len(_FOREACH) :]
        identifier, items, fragment = _loop(loop, value, params, identifiers)
        for item in items:
            body = _expand(_substitute(fragment, identifier, item), params, (*identifiers, identifier))
            for output_key, output in body.items():
                put(output_key, output, loop)
    return out


def _loop(
    loop: str, value: Any, params: dict[str, Any], identifiers: tuple[str, ...]
) -> tuple[str, list[str], dict[str, Any]]:
    if not loop or not isinstance(value, list) or len(value) != 3:
        raise LanguageExtensionError(f"Fn::ForEach::{loop} takes [identifier, collection, fragment]")
    identifier, collection, fragment = value
    if not isinstance(identifier, str) or not identifier:
        raise LanguageExtensionError(f"Fn::ForEach::{loop}: the identifier is a non-empty string")
    if identifier in params or identifier in identifiers:
        raise LanguageExtensionError(
            f"Fn::ForEach::{loop}: identifier {identifier} is already a parameter or an outer loop's"
        )
    if not isinstance(fragment, dict):
        raise LanguageExtensionError(f"Fn::ForEach::{loop}: the fragment is a map of OutputKey: OutputValue")
    if isinstance(collection, dict) and set(collection) == {"Ref"} and collection["Ref"] in params:
        collection = params[collection["Ref"]]
        if isinstance(collection, str):  # a CommaDelimitedList parameter
            collection = [item.strip() for item in collection.split(",")] if collection else []
    if not isinstance(collection, list) or not all(isinstance(i, _SCALARS) for i in collection):
        raise LanguageExtensionError(
            f"Fn::ForEach::{loop}: the collection is a list of strings or a Ref to a list parameter"
        )
    return identifier, [_text(item) for item in collection], fragment


def _text(item: str | float | bool) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _substitute(node: Any, identifier: str, item: str) -> Any:
    if isinstance(node, str):
        alphanumeric = re.sub(r"[^A-Za-z0-9]", "", item)
        return node.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", alphanumeric)
    if isinstance(node, list):
        return [_substitute(v, identifier, item) for v in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return item
        return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in node.items()}
    return node


def _resolve(node: Any, mappings: dict[str, Any]) -> Any:
    """The transform's own functions, bottom-up, where their arguments are literal."""
    if isinstance(node, list):
        return [_resolve(item, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _resolve(value, mappings) for key, value in node.items()}
    if len(node) != 1:
        return node
    ((function, args),) = node.items()
    if function in _UNSUPPORTED:
        raise LanguageExtensionError(f"the sandbox does not implement {function}")
    if function == "Fn::FindInMap" and isinstance(args, list) and all(_is_literal(a) for a in args[:3]):
        return find_in_map(mappings, args)
    if function == "Ref" and not isinstance(args, str):
        return {"Ref": _logical_id(args, "Ref")}
    if function == "Fn::GetAtt" and isinstance(args, list) and len(args) == 2:
        return {"Fn::GetAtt": [_logical_id(args[0], "Fn::GetAtt"), _logical_id(args[1], "Fn::GetAtt")]}
    return node


def _is_literal(value: Any) -> bool:
    return isinstance(value, _SCALARS)


def _logical_id(value: Any, function: str) -> str:
    """A Ref's or GetAtt's argument given as an intrinsic: a `Fn::Sub` with nothing left to substitute."""
    if isinstance(value, str):
        return value
    sub = value.get("Fn::Sub") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(sub, str) and not _VARIABLE.search(sub):
        return sub.replace("${!", "${")
    raise LanguageExtensionError(f"{function} of {value!r}: the sandbox resolves only a literal Fn::Sub here")
