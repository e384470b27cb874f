"""Use case: what differs between two model versions — their own facts and what they came from."""

from __future__ import annotations

from typing import Any

from steward.kernel.errors import NotFoundError
from steward.lineage.query import LineageReader, walk

FIELDS = (
    "version",
    "status",
    "description",
    "approvalDescription",
    "registeredBy",
    "images",
    "imageDigests",
    "repository",
    "commitId",
    "customerMetadata",
    "createdAt",
)
UPSTREAM_KINDS = {
    "dataset": "data",
    "pipeline-execution": "pipelineExecutions",
    "training-job": "trainingJobs",
    "model-artifact": "artifacts",
    "processing-job": "processingJobs",
}


def _profile(store: LineageReader, package: str) -> dict[str, Any]:
    graph = walk(store, package, "upstream", depth=8)
    nodes = {n["id"]: n for n in graph["nodes"]}
    if package not in nodes or nodes[package].get("kind") != "model-package":
        raise NotFoundError(f"no model package {package!r} in the lineage store")
    profile: dict[str, Any] = {field: nodes[package].get(field) for field in FIELDS}
    for kind, key in UPSTREAM_KINDS.items():
        profile[key] = sorted(
            n["id"]
            for n in nodes.values()
            if n.get("kind") == kind
            and n["id"] != package
            and not (kind == "dataset" and n.get("role") == "code")
        )
    profile["code"] = sorted(n["id"] for n in nodes.values() if n.get("role") == "code")
    return profile


def compare_versions(store: LineageReader, a: str, b: str) -> dict[str, Any]:
    """Both versions' facts and lineage, and the fields where they differ."""
    left, right = _profile(store, a), _profile(store, b)
    differences = []
    for field in left:
        if left[field] != right[field]:
            entry: dict[str, Any] = {"field": field, "a": left[field], "b": right[field]}
            if isinstance(left[field], list) and isinstance(right[field], list):
                entry = {
                    "field": field,
                    "onlyA": sorted(set(left[field]) - set(right[field])),
                    "onlyB": sorted(set(right[field]) - set(left[field])),
                }
            differences.append(entry)
    return {"a": {"id": a, **left}, "b": {"id": b, **right}, "differences": differences}
