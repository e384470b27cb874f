"""A node's edges kept on its own item, so a walk reads a whole level with BatchGetItem (100 nodes a
call) instead of one Query per node (README "Lineage store (single table) and access patterns").

On the node item (pk "N#<id>", sk "N"):

    adj = 1                                 the sets below hold every edge of the node
    adjIn  = {"<relation>|<from id>", ...}  its in-edges  (a string set, grown with ADD: a union)
    adjOut = {"<relation>|<to id>", ...}    its out-edges
    adjInWide / adjOutWide = true           that direction outgrew INLINE_LIMIT: its edge items answer

Edge items are still written with every edge: they are the overflow of wide nodes, and what a node
written before this layout (an item without `adj`) is read from. A writer keeps `adj` true to its word
with one condition on the node's update in the event's transaction: the item is new, or already has
`adj` (and room in each set it adds to). A node item from before fails it once: the writer then copies
the node's edge items into its sets (`upgrade_query` and `upgrade_update`) and writes the event again.
Concurrent writers lose nothing: ADD is a union applied by DynamoDB, and a set that would pass its
limit fails the condition instead, so the writer marks the direction wide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from steward.kernel.aws.dynamo import Expr
from steward.lineage import keys

MARKER = "adj"
# 100 entries of a typical ARN are ~10 kB; an entry is at most 512 bytes: a node item's sets stay under
# ~100 kB, well inside DynamoDB's 400 kB item limit beside the node's attributes.
INLINE_LIMIT = 100
MAX_ENTRY_BYTES = 512
UPSTREAM, DOWNSTREAM = "upstream", "downstream"
SETS = {UPSTREAM: "adjIn", DOWNSTREAM: "adjOut"}
WIDE = {UPSTREAM: "adjInWide", DOWNSTREAM: "adjOutWide"}

Entries = dict[str, set[str]]  # direction → entries ("upstream": the node's in-edges)


def entry(relation: str, other: str) -> str:
    return f"{relation}|{other}"


def collect(edges: Iterable[tuple[str, str, str]]) -> dict[str, Entries]:
    """(source, target, relation) edges → each endpoint's new entries, by direction."""
    by_node: dict[str, Entries] = {}
    for source, target, relation in edges:
        by_node.setdefault(source, _empty())[DOWNSTREAM].add(entry(relation, target))
        by_node.setdefault(target, _empty())[UPSTREAM].add(entry(relation, source))
    return by_node


def _empty() -> Entries:
    return {UPSTREAM: set(), DOWNSTREAM: set()}


def _fits(found: set[str]) -> bool:
    return len(found) <= INLINE_LIMIT and all(len(e.encode()) <= MAX_ENTRY_BYTES for e in found)


def write(expr: Expr, entries: Entries, wide: frozenset[str] = frozenset()) -> str:
    """Add `entries` to the node update `expr`; the condition that update must also meet.

    `wide` holds the directions already known to be wide: their entries are left to the edge items."""
    checks = [f"attribute_exists({expr.name(MARKER)})"]
    for direction in _add(expr, entries, wide):
        # A set that would pass the limit fails (then the direction is marked wide); entries added to
        # a direction already wide are harmless (its edge items answer) and bounded by the same check.
        stored = expr.name(SETS[direction])
        room = expr.value(INLINE_LIMIT - len(entries[direction]) + 1)
        checks.append(f"(attribute_not_exists({stored}) OR size({stored}) < {room})")
    return f"(attribute_not_exists({expr.name('pk')}) OR ({' AND '.join(checks)}))"


def _add(expr: Expr, entries: Entries, wide: frozenset[str]) -> list[str]:
    """The marker, each direction's entries or its wide flag; the directions whose entries were added."""
    expr.set(MARKER, 1)
    added = []
    for direction, found in sorted(entries.items()):
        if not found:
            continue
        if direction in wide or not _fits(found):
            expr.set(WIDE[direction], True)
        else:
            expr.add_strings(SETS[direction], found)
            added.append(direction)
    return added


def failed_because(
    old: dict[str, Any] | None, entries: Entries, wide: frozenset[str]
) -> tuple[bool, set[str]]:
    """Why a node update carrying `entries` failed its condition, from the item as it was: (a node
    written before this layout, the directions that would pass the limit). Neither: the update's
    own condition (a state older than the stored one)."""
    if old is None:
        return False, set()
    if MARKER not in old:
        return True, set()
    widened = {
        d
        for d, found in entries.items()
        if found
        and d not in wide
        and _fits(found)
        and len(old.get(SETS[d]) or ()) + len(found) > INLINE_LIMIT
    }
    return False, widened


def edges_from_item(item: dict[str, Any], node_id: str, direction: str) -> list[dict[str, str]] | None:
    """The node's edges in `direction` from its item; None when the item cannot say (written before this
    layout, or that direction is wide): its edge items answer then."""
    if not item.get(MARKER) or item.get(WIDE[direction]):
        return None
    edges = []
    for found in sorted(item.get(SETS[direction]) or ()):
        relation, other = found.split("|", 1)
        if direction == UPSTREAM:
            edges.append({"from": other, "to": node_id, "relation": relation})
        else:
            edges.append({"from": node_id, "to": other, "relation": relation})
    return edges


def upgrade_update(edge_items: list[dict[str, Any]]) -> tuple[Expr, str]:
    """The update that gives a node written before this layout its sets, from all its edge items (read
    after its writers started failing their condition, so none is added meanwhile); its condition."""
    expr = Expr()
    found = _empty()
    for item in edge_items:
        if item["sk"].startswith(keys.IN_PREFIX):
            found[UPSTREAM].add(entry(item["relation"], item["from"]))
        elif item["sk"].startswith(keys.OUT_PREFIX):
            found[DOWNSTREAM].add(entry(item["relation"], item["to"]))
    _add(expr, found, frozenset())
    marker = expr.name(MARKER)
    return expr, f"attribute_exists({expr.name('pk')}) AND attribute_not_exists({marker})"
