"""The report (`python -m sandbox.iam report`): per function, what it is granted beside what it used."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

from sandbox.iam.settings import ENV_MODE, ENV_USAGE
from sandbox.iam.usage import Usage

# --- the report ----------------------------------------------------------------------------------------


@dataclass
class StatementUse:
    """How much of one statement a run used: its actions and its resources, each used or not."""

    function: str
    key: str
    effect: str
    calls: int
    unused_actions: list[str]
    unused_resources: list[str]
    examples: list[str]

    @property
    def sid(self) -> str:
        """The Sid, or the whole key when the statement has none (a managed policy's, SAM's generated)."""
        sid = self.key.rsplit("/", 1)[-1]
        return self.key if self.key.startswith("arn:") or sid.startswith("#") else sid

    @property
    def managed(self) -> bool:
        return self.key.startswith("arn:")


def statement_uses(usage: Usage) -> list[StatementUse]:
    """Per statement of each role: calls it allowed, and the action and resource patterns it lists
    that no call needed (a grant never used). Deny statements are listed with the calls they matched."""
    found = []
    for name in sorted(usage.functions):
        f = usage.functions[name]
        for key in sorted(f.granted, key=lambda k: (k.startswith("arn:"), k)):
            units = f.granted[key]
            used = {u[1:]: n for u, n in f.used.items() if u[0] == key}
            actions = list(dict.fromkeys(a for a, _ in units))
            resources = list(dict.fromkeys(r for _, r in units))
            examples = sorted({e for u, _ in f.used.items() if u[0] == key for e in f.examples.get(u, ())})
            found.append(
                StatementUse(
                    function=name,
                    key=key,
                    effect=f.effects.get(key, "Allow"),
                    calls=sum(used.values()),
                    unused_actions=[a for a in actions if not any(ua == a for ua, _ in used)],
                    unused_resources=[r for r in resources if not any(ur == r for _, ur in used)],
                    examples=examples,
                )
            )
    return found


_WHY = re.compile(r"#.*?not in the sandbox:\s*(?P<why>.*)$", re.IGNORECASE)
_RESOURCE = re.compile(r"^  (?P<logical>[A-Za-z0-9]+):\s*$")
_SID = re.compile(r"^\s*- Sid:\s*(?P<sid>[A-Za-z0-9]+)")


def justifications(template_text: str) -> dict[tuple[str, str], str]:
    """The reasons template.yaml gives for grants no scenario uses: a `# not in the sandbox: why` comment
    inside a policy statement (or on the comment lines just above its `- Sid:`), keyed by (resource logical
    id, Sid); one inside a function's EventInvokeConfig is keyed (logical id, "EventInvokeConfig"): it
    speaks for the on-failure destination's statement SAM generates from it."""
    found: dict[tuple[str, str], str] = {}
    lines = template_text.splitlines()
    logical, anchor = "", ""
    for number, line in enumerate(lines):
        if match := _RESOURCE.match(line):
            logical, anchor = match["logical"], ""
        elif match := _SID.match(line):
            anchor = match["sid"]
        elif line.strip().startswith("EventInvokeConfig:"):
            anchor = "EventInvokeConfig"
        elif line.strip().startswith(("Policies:", "Events:", "Environment:")):
            anchor = ""
        why = _WHY.search(line)
        if why is None or not logical:
            continue
        reason = why["why"].strip()
        for more in lines[number + 1 :]:  # the reason goes on over the comment lines that follow
            if not more.lstrip().startswith("#") or _WHY.search(more):
                break
            reason += " " + more.strip().lstrip("#").strip()
        target = anchor
        if line.lstrip().startswith("#"):  # comment lines right above a statement are that statement's
            following = next((x for x in lines[number + 1 :] if not x.lstrip().startswith("#")), "")
            if match := _SID.match(following):
                target = match["sid"]
        if target:
            key = (logical, target)
            found[key] = f"{found[key]} {reason}" if key in found else reason
    return found


def _function_logical(role: str) -> str:
    """The function's logical id from its role's name (`steward-local-NotifyFunctionRole`)."""
    return role.rsplit("-", 1)[-1].removesuffix("Role")


def _justification(use: StatementUse, role: str, reasons: dict[tuple[str, str], str]) -> str | None:
    logical = _function_logical(role)
    if "EventInvokeConfigOnFailure" in use.key:
        return reasons.get((logical, "EventInvokeConfig"))
    return reasons.get((logical, use.sid))


def _token(resource: str) -> str:
    """What a justification names a resource by: its last component that is not a wildcard."""
    parts = [p for p in re.split(r"[:/]", resource.removesuffix("-??????")) if p and "*" not in p]
    return parts[-1] if parts else resource


def _unjustified(use: StatementUse, why: str | None) -> list[str]:
    """The never-used grants of a statement its justification does not cover: the whole statement needs
    a reason; an action never used needs its name in it, a resource its last component."""
    if use.calls == 0:
        return [] if why else ["the whole statement"]
    text = why or ""
    missing = [f"action {a}" for a in use.unused_actions if a.rpartition(":")[2] not in text]
    return missing + [f"resource {r}" for r in use.unused_resources if _token(r) not in text]


def report(
    usage: Usage,
    out: Any = None,
    verbose: bool = False,
    reasons: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """Print, per function, each statement it is granted: used (by which actions on which resources),
    partly used or never used, with the reason template.yaml gives for what is never used. Returns the
    inline grants never used that no reason covers."""
    out = out or sys.stdout
    reasons = reasons or {}
    unjustified: list[str] = []
    justified = 0
    out.write(f"IAM: what each function used beside what it is granted ({usage.runs} sandbox run(s))\n")
    current = None
    for use in statement_uses(usage):
        role = usage.functions[use.function].role
        if use.function != current:
            current = use.function
            out.write(f"\n{use.function}  (role {role})\n")
        if use.effect == "Deny":
            out.write(f"  Deny        {use.sid}: matched {use.calls} call(s)\n")
            continue
        whole = not use.unused_actions and not use.unused_resources
        state = "used" if whole else "NEVER USED" if use.calls == 0 else "partly used"
        why = None if use.managed else _justification(use, role, reasons)
        needed = len(usage.functions[use.function].needs.get(use.key, ()))
        alone = f", {needed} only it allows" if needed else ""
        managed = "  [AWS managed: listed, not counted]" if use.managed and not whole else ""
        out.write(f"  {state:<11} {use.sid}  ({use.calls} calls{alone}){managed}\n")
        for example in use.examples if verbose else use.examples[:3]:
            out.write(f"      {example}\n")
        if len(use.examples) > 3 and not verbose:
            out.write(f"      ... {len(use.examples) - 3} more (--verbose)\n")
        if use.calls:
            for action in use.unused_actions:
                out.write(f"      action never used:   {action}\n")
            for resource in use.unused_resources:
                out.write(f"      resource never used: {resource}\n")
        if not whole and why:
            out.write(f"      not in the sandbox: {why}\n")
        if not use.managed and not whole:
            missing = _unjustified(use, why)
            justified += not missing
            unjustified += [f"{use.function}: {use.sid}: {m}" for m in missing]
    if usage.unmodelled:
        out.write('\nCalls the sandbox has no IAM model of (checked as the action on "*"):\n')
        for op, n in usage.unmodelled.most_common():
            out.write(f"  {op}: {n}\n")
    out.write(f"\nDenied: {len(usage.denials)}\n")
    for d in usage.denials[:50]:
        out.write(f"  {d['message']}\n")
    if usage.s3_refusals:
        out.write(f"\nMissing S3 objects answered 403 for want of s3:ListBucket: {len(usage.s3_refusals)}\n")
        for d in usage.s3_refusals[:20]:
            out.write(f"  {d['function']}: {d['resource']} ({d['key']})\n")
    out.write(
        f"\nInline grants never used: {justified} statement(s) with a reason in template.yaml, "
        f"{len(unjustified)} grant(s) without one\n"
    )
    for line in unjustified:
        out.write(f"  {line}\n")
    return unjustified


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(prog="python -m sandbox.iam", description=_package_doc())
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="what each function used beside what it is granted")
    rep.add_argument(
        "--scenario", action="append", help="a scenario of tests/sandbox/iam_scenarios.py (default: all)"
    )
    rep.add_argument("--usage", action="append", default=[], help=f"also merge a usage file ({ENV_USAGE})")
    rep.add_argument("--template", default=str(repo / "template.yaml"), help="where the reasons are read")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--verbose", action="store_true", help="every call of each statement")
    args = parser.parse_args(argv)
    os.environ[ENV_MODE] = "soft"  # the report lists what is denied instead of stopping at it
    logging.getLogger("sandbox.iam").setLevel(logging.CRITICAL)
    sys.path.insert(0, str(repo))
    from tests.sandbox import iam_scenarios

    names = (
        args.scenario if args.scenario is not None else ([] if args.usage else list(iam_scenarios.SCENARIOS))
    )
    usage = Usage()
    for name in names:
        usage.merge(iam_scenarios.run(name).usage)
    for path in args.usage:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    usage.merge(Usage.from_json(json.loads(line)))
    if args.json:
        json.dump(usage.as_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    reasons = justifications(Path(args.template).read_text(encoding="utf-8"))
    unjustified = report(usage, verbose=args.verbose, reasons=reasons)
    return 1 if usage.denials or unjustified else 0


def _package_doc() -> str:
    import sandbox.iam

    return (sandbox.iam.__doc__ or "").split("\n\n")[0]
