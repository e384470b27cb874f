"""The bench's one table: rows, the terminal rendering, the markdown file, the machine it ran on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

COLUMNS = ("measure", "value", "baseline", "ratio", "target", "met")


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: informational, no target

    def cells(self, *, markdown: bool = False) -> tuple[str, ...]:
        met = {True: "yes", False: "NO", None: ""}[self.met]
        if markdown:
            met = {True: "✅", False: "❌", None: ""}[self.met]
        return (self.measure, self.value, self.baseline, self.ratio, self.target, met)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    uname = platform.uname()
    return (
        f"{uname.system} {uname.release} {uname.machine}, {os.cpu_count()} CPUs ({_cpu_model()}), "
        f"Python {platform.python_version()}"
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_text(rows: list[Row]) -> str:
    widths = [len(c) for c in COLUMNS]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row.cells(), strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*COLUMNS), line.format(*("-" * w for w in widths))]
    section = None
    for row in rows:
        if row.section != section:
            if section is not None:
                out.append("")
            section = row.section
        out.append(line.format(*row.cells()).rstrip())
    return "\n".join(out)


def render_markdown(rows: list[Row], *, when: str, where: str, elapsed: float) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = [
        f"`make bench` on {when}, {where}; the whole run took {elapsed:.0f} s.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] * len(COLUMNS)) + "|",
    ]
    out += ["| " + " | ".join(esc(c) for c in row.cells(markdown=True)) + " |" for row in rows]
    return "\n".join(out) + "\n"


def write_markdown(path: Path, rows: list[Row], *, when: str, where: str, elapsed: float) -> None:
    body = render_markdown(rows, when=when, where=where, elapsed=elapsed)
    path.write_text("# Latest `make bench`\n\n" + body, encoding="utf-8")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def size(n: int) -> str:
    """Decimal units, as the targets are stated (20 MB = 20,000,000 bytes)."""
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"
