"""Single-table layout of the lineage store (access patterns are documented in the README).

    pk = "N#<node id>"
      sk = "E<|<relation>|<from id>"   an edge into the node        (upstream walk: sk in ["E<", "N"])
      sk = "N"                         the node itself
      sk = "O>|<relation>|<to id>"     an edge out of the node      (downstream walk: sk in ["N", "O>~"])
      sk = "~H#<time>#<status>"        one status change (history, oldest first)
    GSI1 (datasets and artifacts by S3 location): gsi1pk = "S3#<bucket>", gsi1sk = "<key>"
    GSI2 (sparse, what the reconciler revisits): gsi2pk = "ACTIVE#<kind>", gsi2sk = "<status time>"

In-edges sort before the node and out-edges after it, so one Query returns a node with all its edges
in one direction. The node item also keeps its edges (adjIn / adjOut string sets: adapters/adjacency.py),
so a walk reads a level with one BatchGetItem per 100 nodes; the Query is for wide nodes and for items
written before the node kept them.
"""

from __future__ import annotations

NODE_SK = "N"
IN_PREFIX = "E<|"
OUT_PREFIX = "O>|"
HISTORY_PREFIX = "~H#"
OUT_END = "O>|~"


def node_pk(node_id: str) -> str:
    return f"N#{node_id}"


# Sort keys are at most 1024 bytes; an S3 key alone may be 1024. Long ids are keyed by their hash (the
# edge item keeps the full ids in its attributes, which is what reads use).
_MAX_ID_IN_KEY = 900


def _id_part(node_id: str) -> str:
    if len(node_id.encode()) <= _MAX_ID_IN_KEY:
        return node_id
    import hashlib

    return "#sha256:" + hashlib.sha256(node_id.encode()).hexdigest()


def in_edge_sk(relation: str, source: str) -> str:
    return f"{IN_PREFIX}{relation}|{_id_part(source)}"


def out_edge_sk(relation: str, target: str) -> str:
    return f"{OUT_PREFIX}{relation}|{_id_part(target)}"


def history_sk(when: str, status: str) -> str:
    return f"{HISTORY_PREFIX}{when}#{status}"
