"""`steward backfill`: record what SageMaker holds that no event brought (README "Backfill").

With `--stack NAME` it invokes the stack's backfill function (its `BackfillFunctionName` output) again
and again with the run's id until the run is done, showing progress after each invocation. Without it,
it runs the same walk in this process against the AWS at `--aws-endpoint-url` (or $AWS_ENDPOINT_URL),
e.g. the sandbox `steward local serve --serve-aws` serves, writing to the tables of `--stage`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from steward_cli.remote import ApiError

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
_LOCAL_BUDGET = 200  # calls per in-process step: progress shows at least that often


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="TIME", help="only what changed since TIME (ISO-8601)")
    parser.add_argument(
        "--budget", type=int, metavar="CALLS", help="SageMaker calls per invocation (default: the function's)"
    )
    parser.add_argument("--resume", metavar="RUN", help="continue this run from its checkpoint")
    parser.add_argument("--once", action="store_true", help="one invocation, then say how to resume")
    parser.add_argument("--json", action="store_true", help="print the run's final answer as JSON")
    where = parser.add_argument_group("where (one of)")
    where.add_argument("--stack", metavar="NAME", help="a deployed stack: invoke its backfill function")
    where.add_argument("--region", help="the stack's region")
    where.add_argument(
        "--aws-endpoint-url",
        metavar="URL",
        help="run here against this AWS endpoint (default $AWS_ENDPOINT_URL), e.g. a served sandbox's",
    )
    where.add_argument("--stage", default="local", help="without --stack: the tables' stage (default local)")


def run(args: argparse.Namespace) -> int:
    invoke = _stack_invoker(args.stack, args.region) if args.stack else _local_invoker(args)
    event: dict[str, Any] = {"since": args.since, "budget": args.budget, "run": args.resume}
    interactive = sys.stderr.isatty() and not args.json
    while True:
        answer = invoke({k: v for k, v in event.items() if v is not None})
        if answer.get("error"):
            raise ApiError(404 if answer["error"] == "NotFound" else 400, str(answer.get("message")))
        last = answer["done"] or args.once
        print(progress_line(answer), file=sys.stderr, end="\n" if last or not interactive else "\r")
        if last:
            break
        event = {"run": answer["run"], "budget": args.budget}
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(summary_text(answer))
        if not answer["done"]:
            where = f" --stack {args.stack}" if args.stack else ""
            print(f"  not done yet: steward backfill --resume {answer['run']}{where}")
    return 1 if answer["summary"]["errors"] else 0


def progress_line(answer: dict[str, Any], width: int = 20) -> str:
    """`[██████░░░░] 3/9 tuning-jobs · 412 calls · recorded 120 · known 4 · skipped 1 · errors 0`."""
    done, total = answer["phasesDone"], answer["phases"]
    filled = round(width * done / total) if total else width
    bar = "█" * filled + "░" * (width - filled)
    s = answer["summary"]
    phase = answer.get("phase") or "done"
    why = f" (paused: {answer['stoppedBecause']})" if answer.get("stoppedBecause") else ""
    return (
        f"[{bar}] {done}/{total} {phase:<20} · {answer['callsTotal']} calls · recorded {s['recorded']} · "
        f"known {s['known']} · skipped {s['skipped']} · errors {s['errors']}{why}"
    )


def summary_text(answer: dict[str, Any]) -> str:
    since = f" since {answer['since']}" if answer.get("since") else ""
    rows = [
        f"Backfill {answer['run']}{since}: {'done' if answer['done'] else 'paused'} after "
        f"{answer['invocations']} invocation(s), {answer['callsTotal']} SageMaker calls",
        f"  {'type':<22} {'recorded':>9} {'known':>7} {'skipped':>8} {'errors':>7}",
    ]
    for kind, tally in [*answer["byType"].items(), ("total", answer["summary"])]:
        counts = (tally["recorded"], tally["known"], tally["skipped"], tally["errors"])
        rows.append(f"  {kind:<22} {counts[0]:>9} {counts[1]:>7} {counts[2]:>8} {counts[3]:>7}")
    rows += [f"  ! {error}" for error in answer.get("errors") or []]
    return "\n".join(rows)


def _stack_invoker(stack: str, region: str | None) -> Invoke:
    """Synchronous invocations of the stack's backfill function (up to its 15 minutes each)."""
    import boto3
    from botocore.config import Config

    cfn = boto3.client("cloudformation", region_name=region)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    }
    function = outputs.get("BackfillFunctionName")
    if not function:
        raise ApiError(404, f"stack {stack} has no BackfillFunctionName output")
    # One try per invocation, and long enough to wait for it: a resumed run repeats nothing done.
    config = Config(read_timeout=960, connect_timeout=10, retries={"max_attempts": 1})
    lam = boto3.client("lambda", region_name=cfn.meta.region_name, config=config)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise ApiError(502, f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        return payload  # type: ignore[no-any-return]

    return invoke


def _local_invoker(args: argparse.Namespace) -> Invoke:
    """The walk in this process, against an explicitly named AWS endpoint (never a guessed account)."""
    endpoint = args.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise ApiError(
            400,
            "say where: --stack NAME (a deployed stack), or --aws-endpoint-url URL "
            "(e.g. what `steward local serve --serve-aws` prints)",
        )
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from steward.backfill.adapters.store import BackfillStore
    from steward.backfill.walk import BackfillRequest, backfill, start_or_resume
    from steward.kernel.aws import clients
    from steward.kernel.errors import RefusedError
    from steward.lineage.adapters.sagemaker import SageMakerCatalog
    from steward.lineage.adapters.store import LineageStore

    clients.reset()  # clients made before the endpoint was set would talk to AWS itself
    lineage, idempotency = f"steward-{args.stage}-lineage", f"steward-{args.stage}-idempotency"
    checkpoints = BackfillStore(lineage)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        try:
            request = BackfillRequest.parse(event)
            checkpoint = start_or_resume(checkpoints, request.run, request.since)
            report = backfill(
                checkpoint,
                checkpoints,
                LineageStore(lineage, idempotency),
                SageMakerCatalog(),
                budget=request.budget or _LOCAL_BUDGET,
            )
        except RefusedError as exc:
            return exc.to_dict()
        return report.as_dict()

    return invoke
