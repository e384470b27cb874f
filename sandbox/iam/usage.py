"""Usage: which statement allowed which call, collected per function across sandboxes; the statements a
policy test drops."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.iam.settings import ENV_DROP

# --- usage ---------------------------------------------------------------------------------------------


_NEEDS_KEPT = 20
_SECRET_SUFFIX = re.compile(r"^(arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+)-[A-Za-z0-9]{6}$")


def stable(pattern: str) -> str:
    """A granted resource as the report names it across runs: a secret's ARN ends in a random suffix
    that each sandbox (and each stack) draws anew, shown as `-??????`."""
    return _SECRET_SUFFIX.sub(r"\1-??????", pattern)


@dataclass
class FunctionUsage:
    role: str
    granted: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # statement key -> units
    effects: dict[str, str] = field(default_factory=dict)  # statement key -> Allow | Deny
    used: Counter[tuple[str, str, str]] = field(
        default_factory=Counter
    )  # (statement, action, resource pattern)
    examples: dict[tuple[str, str, str], set[str]] = field(
        default_factory=dict
    )  # unit -> "action on resource"
    # statement key -> the (action, resource) requests it alone allowed: what removing it would deny
    needs: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "granted": {k: [list(u) for u in v] for k, v in self.granted.items()},
            "effects": self.effects,
            "used": [[*unit, n, sorted(self.examples.get(unit, ()))[:5]] for unit, n in self.used.items()],
            "needs": {k: sorted([list(r) for r in v]) for k, v in self.needs.items()},
        }


@dataclass
class Usage:
    functions: dict[str, FunctionUsage] = field(default_factory=dict)
    denials: list[dict[str, Any]] = field(default_factory=list)
    # Objects S3 reported missing as a 403 AccessDenied because s3:ListBucket is not allowed: not a
    # denial of the call (GetObject was allowed) but what the code sees, recorded with what would change it
    s3_refusals: list[dict[str, Any]] = field(default_factory=list)
    unmodelled: Counter[str] = field(default_factory=Counter)
    runs: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "functions": {name: f.as_json() for name, f in self.functions.items()},
            "denials": self.denials,
            "s3_refusals": self.s3_refusals,
            "unmodelled": dict(self.unmodelled),
            "runs": self.runs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Usage:
        usage = cls(
            denials=list(data.get("denials") or []),
            s3_refusals=list(data.get("s3_refusals") or []),
            unmodelled=Counter(data.get("unmodelled") or {}),
            runs=int(data.get("runs", 1)),
        )
        for name, f in (data.get("functions") or {}).items():
            fu = FunctionUsage(role=f["role"], effects=dict(f.get("effects") or {}))
            fu.granted = {k: [(a, r) for a, r in v] for k, v in f["granted"].items()}
            for s, a, r, n, examples in f["used"]:
                fu.used[(s, a, r)] += n
                fu.examples.setdefault((s, a, r), set()).update(examples)
            fu.needs = {k: {(a, r) for a, r in v} for k, v in (f.get("needs") or {}).items()}
            usage.functions[name] = fu
        return usage

    def merge(self, other: Usage) -> None:
        self.runs += other.runs
        self.denials += other.denials
        self.s3_refusals += other.s3_refusals
        self.unmodelled.update(other.unmodelled)
        for name, f in other.functions.items():
            mine = self.functions.setdefault(name, FunctionUsage(role=f.role))
            for key, units in f.granted.items():  # a statement dropped in one run is still granted
                mine.granted.setdefault(key, units)
            mine.effects.update(f.effects)
            mine.used.update(f.used)
            for unit, examples in f.examples.items():
                mine.examples.setdefault(unit, set()).update(examples)
            for key, needed in f.needs.items():
                kept = mine.needs.setdefault(key, set())
                kept.update(sorted(needed)[: max(0, _NEEDS_KEPT - len(kept))])


_collectors: list[Usage] = []
_collectors_lock = threading.Lock()


@contextlib.contextmanager
def collect() -> Iterator[Usage]:
    """Gather the usage of every sandbox that stops inside the block (for the report)."""
    usage = Usage()
    with _collectors_lock:
        _collectors.append(usage)
    try:
        yield usage
    finally:
        with _collectors_lock:
            _collectors.remove(usage)


_drops: list[tuple[str, str]] = []


@contextlib.contextmanager
def dropping(*statements: tuple[str, str]) -> Iterator[None]:
    """Every sandbox that starts inside the block runs without these (function, Sid) statements, as
    Enforcer.drop would remove them: how a test shows that a statement is needed, through scenarios that
    make their own sandboxes. STEWARD_SANDBOX_IAM_DROP="function:Sid,..." does the same for a process."""
    with _collectors_lock:
        _drops.extend(statements)
    try:
        yield
    finally:
        with _collectors_lock:
            for statement in statements:
                _drops.remove(statement)


def _dropped() -> list[tuple[str, str]]:
    listed = [tuple(d.split(":", 1)) for d in os.environ.get(ENV_DROP, "").split(",") if ":" in d]
    with _collectors_lock:
        return [*_drops, *((f.strip(), sid.strip()) for f, sid in listed)]
