"""Use cases: walk the lineage graph from a node, one round of batched reads per level (BatchGetItem,
100 nodes a call: each node item keeps its edges; see lineage/adapters/adjacency.py).

S3 containment (a dataset that is a prefix of another, e.g. a job's output folder and the metrics file
a package points at inside it) is resolved here, at read time, from the S3 index: writes stay one
transaction per event whatever the arrival order, and the walk still follows data through folders.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from steward.kernel.arns import s3_ancestors
from steward.kernel.errors import NotFoundError
from steward.kernel.threads import ContextPool

S3_KINDS = ("dataset", "model-artifact")
MAX_DEPTH = 20


class LineageReader(Protocol):
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def nodes_with_edges(
        self, ids: Any, direction: str
    ) -> dict[str, tuple[dict[str, Any] | None, list[dict[str, str]]]]: ...
    def datasets_under(self, uri: str, limit: int = 1000) -> list[dict[str, Any]]: ...
    def scan_all(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]: ...


class WalkStats:
    def __init__(self) -> None:
        self.rounds = 0


def _nearest_ancestor(uri: str, known: set[str]) -> str | None:
    return next((a for a in s3_ancestors(uri) if a in known), None)


def walk(
    store: LineageReader,
    node_id: str,
    direction: str = "downstream",
    depth: int = 5,
    stats: WalkStats | None = None,
) -> dict[str, Any]:
    """The subgraph reachable from `node_id` within `depth` hops, as the graph JSON of README "Lineage store".

    An S3 URI that is not itself a node resolves to the datasets under it (a prefix). Raises
    NotFoundError when nothing matches.
    """
    if direction not in ("upstream", "downstream"):
        raise ValueError("direction is upstream or downstream")
    depth = max(0, min(depth, MAX_DEPTH))
    stats = stats or WalkStats()
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, str]] = {}
    # S3 containment is followed one way per path: data written under a folder reaches readers of that
    # folder and of what is inside it, but a walk that climbed from `day/a` to `day` must not come down
    # into `day/a-other` (no data flows between siblings). A frontier entry says which ways it may still
    # go: "any" (reached by a real edge), "up" (reached by climbing), "down" (reached by descending).
    start = node_id.rstrip("/") if node_id.startswith("s3://") else node_id
    frontier: list[tuple[str, str]] = [(start, "any")]
    expanded: set[tuple[str, str]] = set()  # (id, "node" | "under" | "above") already asked
    with ContextPool(max_workers=16) as pool:
        for level in range(depth + 1):
            tasks: list[tuple[str, str, Callable[[], Any]]] = []
            level_nodes: list[str] = []
            for fid, way in dict.fromkeys(frontier):
                wanted = ["node"]
                if fid.startswith("s3://"):
                    wanted += [
                        w for w, allowed in (("under", way != "up"), ("above", way != "down")) if allowed
                    ]
                for what in wanted:
                    if (fid, what) in expanded:
                        continue
                    expanded.add((fid, what))
                    if level == depth:  # the last level: the nodes themselves, not their edges
                        break
                    if what == "node":
                        level_nodes.append(fid)
                    elif what == "under":
                        tasks.append(("under", fid, partial(store.datasets_under, fid)))
                    else:
                        tasks.append(("above", fid, partial(store.get_nodes, s3_ancestors(fid))))
            if level_nodes:  # the level's nodes with their edges: one batched task
                tasks.append(("nodes", "", partial(store.nodes_with_edges, level_nodes, direction)))
            if level == depth:
                last = [fid for fid, _ in dict.fromkeys(frontier) if fid not in nodes]
                if last:
                    stats.rounds += 1
                    nodes.update(store.get_nodes(last))
                break
            if not tasks:
                break
            stats.rounds += 1
            frontier = _absorb(list(pool.map(_run, tasks)), direction, nodes, edges)
    if not nodes and not edges:
        raise NotFoundError(f"no lineage node {node_id!r}")
    return {
        "nodes": sorted(nodes.values(), key=lambda n: n["id"]),
        "edges": sorted(edges.values(), key=_edge_key),
    }


def _absorb(
    results: list[tuple[str, str, Any]],
    direction: str,
    nodes: dict[str, dict[str, Any]],
    edges: dict[tuple[str, str, str], dict[str, str]],
) -> list[tuple[str, str]]:
    """One level's answers into the graph; the next frontier, each entry with the ways it may go on."""
    next_frontier: list[tuple[str, str]] = []
    for task, fid, result in results:
        if task == "nodes":
            for node_id, (node, found_edges) in result.items():
                if node is not None:
                    nodes[node_id] = node
                for edge in found_edges:
                    edges[(edge["from"], edge["to"], edge["relation"])] = edge
                    next_frontier.append((edge["from"] if direction == "upstream" else edge["to"], "any"))
        elif task == "under":
            children = {n["id"]: n for n in result}
            known = set(children) | {fid}
            for child_id, child in children.items():
                if _nearest_ancestor(child_id, known) == fid:
                    nodes.setdefault(child_id, child)
                    edges[(fid, child_id, "contains")] = {"from": fid, "to": child_id, "relation": "contains"}
                    next_frontier.append((child_id, "down"))
        elif task == "above" and result:
            parent = _nearest_ancestor(fid, set(result))
            if parent:
                nodes.setdefault(parent, result[parent])
                edges[(parent, fid, "contains")] = {"from": parent, "to": fid, "relation": "contains"}
                next_frontier.append((parent, "up"))
    return next_frontier


def _run(task: tuple[str, str, Callable[[], Any]]) -> tuple[str, str, Any]:
    return task[0], task[1], task[2]()


def whole_graph(store: LineageReader) -> dict[str, Any]:
    """Every node and edge, with S3 containment edges (the sandbox's view; scans the table)."""
    nodes, edges = store.scan_all()
    s3_ids = {n["id"] for n in nodes if n["id"].startswith("s3://")}
    for uri in sorted(s3_ids):
        parent = _nearest_ancestor(uri, s3_ids)
        if parent:
            edges.append({"from": parent, "to": uri, "relation": "contains"})
    return {"nodes": sorted(nodes, key=lambda n: n["id"]), "edges": sorted(edges, key=_edge_key)}


def _edge_key(edge: dict[str, str]) -> tuple[str, str, str]:
    return (edge["from"], edge["to"], edge["relation"])
