"""Graph JSON → what a person reads (tree) or a picture (dot, mermaid)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_BADGES = {
    "Completed": "✔",
    "Succeeded": "✔",
    "InService": "✔",
    "Approved": "✔",
    "Failed": "✘",
    "Rejected": "✘",
    "Stopped": "■",
    "RolledBack": "↺",
}


def clip(text: object, width: int) -> str:
    """`text` in at most `width` characters; a cut one ends with "…" so a reader knows it was cut."""
    value = str(text)
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def clip_middle(text: object, width: int) -> str:
    """Like clip, cutting the middle: names keep their distinctive start and end (job name suffixes)."""
    value = str(text)
    if len(value) <= width:
        return value
    keep = max(width - 1, 2)
    return value[: (keep + 1) // 2] + "…" + value[len(value) - keep // 2 :]


def label(node: dict[str, Any]) -> str:
    status = node.get("status")
    badge = f" [{status}]" if status else ""
    name = node.get("name") or node["id"]
    if node["kind"] in ("dataset", "model-artifact"):
        name = node["id"]
    return f"{node['kind']}: {name}{badge}"


_RELATION_ORDER = [
    "input",
    "code",
    "output",
    "produced",
    "packaged-as",
    "instantiated-as",
    "used-by",
    "configures",
    "monitored-by",
    "launched",
    "has-step",
    "ran",
    "generated",
    "contains",
    "metrics",
]


def tree(graph: dict[str, Any], roots: list[str] | None = None, direction: str = "downstream") -> str:
    """An indented tree. Each node sits under the parent that reaches it first (breadth first), so the
    shortest chain reads top to bottom; its other parents refer to it with (↑ above)."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    children: dict[str, list[tuple[str, str]]] = defaultdict(list)
    has_parent: set[str] = set()
    for edge in graph["edges"]:
        src, dst = (edge["from"], edge["to"]) if direction == "downstream" else (edge["to"], edge["from"])
        children[src].append((edge["relation"], dst))
        has_parent.add(dst)

    def order(item: tuple[str, str]) -> tuple[int, str, str]:
        relation, child = item
        rank = _RELATION_ORDER.index(relation) if relation in _RELATION_ORDER else len(_RELATION_ORDER)
        return (rank, nodes.get(child, {}).get("kind", ""), child)

    for kids in children.values():
        kids.sort(key=order)
    if roots is None:
        roots = sorted(n for n in nodes if n not in has_parent) or sorted(nodes)[:1]
    home: dict[str, str | None] = {}
    queue = list(roots)
    for root in roots:
        home.setdefault(root, None)
    while queue:
        current = queue.pop(0)
        for _, child in children.get(current, []):
            if child not in home:
                home[child] = current
                queue.append(child)
    lines: list[str] = []
    shown: set[str] = set()

    def visit(
        node_id: str, prefix: str, relation: str | None, last: bool, top: bool, parent: str | None
    ) -> None:
        node = nodes.get(node_id, {"id": node_id, "kind": "unknown", "name": node_id})
        connector = "" if top else ("└─" if last else "├─")
        elsewhere = home.get(node_id) != parent or node_id in shown
        marker = ("  (↑ above)" if node_id in shown else "  (↓ below)") if elsewhere else ""
        if not relation:
            lines.append(f"{prefix}{connector}{label(node)}{marker}")
        elif direction == "downstream":  # the parent <relation> this node: "├─configures → endpoint"
            lines.append(f"{prefix}{connector}{relation} → {label(node)}{marker}")
        else:  # upstream: this node <relation> the parent: "├─endpoint-config: c ─configures→"
            lines.append(f"{prefix}{connector}{label(node)} ─{relation}→{marker}")
        if elsewhere:
            return
        shown.add(node_id)
        kids = children.get(node_id, [])
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, (rel_name, child) in enumerate(kids):
            visit(child, child_prefix, rel_name, i == len(kids) - 1, False, node_id)

    for root in roots:
        visit(root, "", None, True, True, None)
    return "\n".join(lines)


def _short(node_id: str) -> str:
    return node_id.rsplit("/", 1)[-1] if "/" in node_id else node_id.rsplit(":", 1)[-1]


def _dot_quote(text: str) -> str:
    """A DOT string literal; `\\n` sequences in `text` stay line breaks."""
    return '"' + text.replace('"', '\\"') + '"'


def dot(graph: dict[str, Any]) -> str:
    ids = {n["id"]: f"n{i}" for i, n in enumerate(graph["nodes"])}
    out = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for node in graph["nodes"]:
        text = f"{node['kind']}\\n{_short(node['id'])}" + (
            f"\\n[{node['status']}]" if node.get("status") else ""
        )
        out.append(f"  {ids[node['id']]} [label={_dot_quote(text)}, tooltip={_dot_quote(node['id'])}];")
    for edge in graph["edges"]:
        if edge["from"] in ids and edge["to"] in ids:
            out.append(f"  {ids[edge['from']]} -> {ids[edge['to']]} [label={_dot_quote(edge['relation'])}];")
    out.append("}")
    return "\n".join(out)


def mermaid(graph: dict[str, Any]) -> str:
    ids = {n["id"]: f"n{i}" for i, n in enumerate(graph["nodes"])}
    out = ["flowchart LR"]
    for node in graph["nodes"]:
        text = f"{node['kind']}<br/>{_short(node['id'])}" + (
            f"<br/>{node['status']}" if node.get("status") else ""
        )
        out.append(f'  {ids[node["id"]]}["{text.replace(chr(34), "#quot;")}"]')
    for edge in graph["edges"]:
        if edge["from"] in ids and edge["to"] in ids:
            out.append(f"  {ids[edge['from']]} -->|{edge['relation']}| {ids[edge['to']]}")
    return "\n".join(out)
