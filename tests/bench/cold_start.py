"""Cold-start import time of each function's handler module against a bare `import boto3`.

Each import runs in a fresh interpreter laid out as Lambda lays it out: the function's folder first on
sys.path and as the working directory (/var/task), then the layer (layers/core, /opt/python), then the
packages the layer and the runtime bring (here the app venv); the environment carries what the Lambda
runtime sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, region, credentials) and the function's
Powertools settings, so the tracer initialises as it does in Lambda (Tracing: Active). What is timed
is the importing process's CPU time (user + system), which other work on a shared machine disturbs far
less than wall time; runs are interleaved (boto3, every function, again) so what disturbance remains
hits baseline and handlers alike; one warm-up run each compiles the bytecode; medians are reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from tests.bench.report import Row, ms

SECTION = "cold start"
TARGET_RATIO = 1.5

_PROBE = """
import sys, time
sys.path[0:1] = [{task_root!r}, {layer!r}]
started = time.process_time()
import {module}
print(time.process_time() - started)
"""


def discover(repo: Path) -> list[Path]:
    """Every function folder with a handler module (new functions are picked up as they appear)."""
    return sorted(p.parent for p in (repo / "functions").glob("*/app.py"))


def _lambda_env(function_dir: Path) -> dict[str, str]:
    name = function_dir.name
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {
        **keep,
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(function_dir),
        "_HANDLER": "app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"steward-bench-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": "Steward",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }


def _import_seconds(module: str, cwd: Path, task_root: Path, layer: Path) -> float:
    probe = _PROBE.format(task_root=str(task_root), layer=str(layer), module=module)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env=_lambda_env(task_root),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} in {cwd} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run(repo: Path, repeats: int = 7) -> list[Row]:
    layer = repo / "layers" / "core"
    functions = discover(repo)
    targets = [("boto3", repo / "functions")] + [("app", f) for f in functions]
    samples: dict[Path, list[float]] = {where: [] for _, where in targets}
    for round_ in range(repeats + 1):
        for module, where in targets:
            seconds = _import_seconds(module, where, where, layer)
            if round_:  # round 0 warms the bytecode caches
                samples[where].append(seconds)
    baseline = statistics.median(samples[repo / "functions"])
    rows = [
        Row(
            SECTION,
            "bare `import boto3` (baseline), CPU",
            ms(baseline),
            target="",
            met=None,
        )
    ]
    for function in functions:
        value = statistics.median(samples[function])
        ratio = value / baseline
        rows.append(
            Row(
                SECTION,
                f"import functions/{function.name}/app.py, CPU",
                ms(value),
                baseline=ms(baseline),
                ratio=f"{ratio:.2f}x",
                target=f"≤ {TARGET_RATIO:g}x boto3",
                met=ratio <= TARGET_RATIO,
            )
        )
    return rows
