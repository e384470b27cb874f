"""The `steward` command: local sandbox commands and operator commands (`--stack NAME` for AWS)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _parser() -> argparse.ArgumentParser:  # noqa: PLR0915 (one statement per option reads best)
    from steward_cli.commands import add_target_options

    parser = argparse.ArgumentParser(prog="steward", description="Steward: event-driven MLOps for SageMaker.")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run Steward on the embedded sandbox (no AWS account)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    demo = local_commands.add_parser(
        "demo", help="the whole lifecycle on the sandbox: gate, approval, promotion, monitoring, rollback"
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="keep the local API up and wait for you to decide from the approval link in a browser",
    )
    replay = local_commands.add_parser("replay", help="replay EventBridge events (JSON or JSON Lines files)")
    replay.add_argument("files", nargs="+", metavar="FILE")
    replay.add_argument("--json", action="store_true", help='print {"results": [...], "lineage": graph}')
    replay.add_argument(
        "--setup",
        metavar="FILE",
        help="SageMaker resources to create first ({create_model: [...], create_endpoint_config: [...]})",
    )
    _add_location(replay)
    serve = local_commands.add_parser(
        "serve", help="keep a sandbox (and its API on 127.0.0.1) up until Ctrl-C"
    )
    serve.add_argument("files", nargs="*", metavar="FILE", help="events to replay first")
    serve.add_argument("--setup", metavar="FILE", help="SageMaker resources to create first")
    serve.add_argument("--port", type=int, default=0, help="port of the local API (default: any free one)")
    serve.add_argument(
        "--policy", metavar="FILE", help="the policy to publish (YAML or JSON; default: shipped)"
    )
    serve.add_argument(
        "--outbox", metavar="DIR", help="write each notification delivered to DIR (emails .eml)"
    )
    serve.add_argument(
        "--serve-aws",
        action="store_true",
        help="also serve the embedded AWS on 127.0.0.1 for your SDK or CLI code; Steward reacts by itself",
    )
    _add_location(serve)
    serve.add_argument(
        "--parallel",
        action="store_true",
        help="run invocations at the same moment, as Lambda does (requests, batches, events, schedules)",
    )

    lineage = commands.add_parser("lineage", help="walk the lineage graph from a node (ARN or s3:// URI)")
    lineage.add_argument("id")
    way = lineage.add_mutually_exclusive_group()
    way.add_argument("--upstream", action="store_true", help="towards the data it came from")
    way.add_argument("--downstream", action="store_true", help="towards what it fed (default)")
    lineage.add_argument("--depth", type=int, default=3, help="hops to walk (0..10, default 3)")
    lineage.add_argument("--format", choices=["tree", "json", "dot", "mermaid"], default="tree")
    add_target_options(lineage)

    compare = commands.add_parser("compare", help="what differs between two model versions (package ARNs)")
    compare.add_argument("a", metavar="PACKAGE_A")
    compare.add_argument("b", metavar="PACKAGE_B")
    compare.add_argument("--json", action="store_true")
    add_target_options(compare)

    approvals = commands.add_parser(
        "approvals", help="approval requests waiting for a decision (decided ones: steward lineage PACKAGE)"
    )
    # Only pending requests are listed (decided ones are in the version's lineage: `steward lineage ARN`);
    # --pending is accepted for scripts written against the first release, and says nothing more.
    approvals.add_argument("--pending", action="store_true", help=argparse.SUPPRESS)
    approvals.add_argument("--json", action="store_true")
    add_target_options(approvals)
    for verb in ("approve", "reject"):
        decide = commands.add_parser(
            verb, help=f"{verb} a request as a named approver (IAM-authenticated operator)"
        )
        decide.add_argument("request", metavar="REQUEST")
        decide.add_argument(
            "--as", dest="as_", metavar="EMAIL", required=True, help="the approver you act for"
        )
        decide.add_argument("--comment", default="", help="recorded with the decision")
        add_target_options(decide)

    policy = commands.add_parser("policy", help="the policy document")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    validate = policy_commands.add_parser("validate", help="check a policy file; errors name the field")
    validate.add_argument("file", metavar="FILE")

    monitoring = commands.add_parser(
        "monitoring", help="an endpoint's Model Monitor results and alarm transitions, newest first"
    )
    monitoring.add_argument("endpoint", help="endpoint name or ARN")
    monitoring.add_argument("--since", metavar="TIME", help="ISO-8601 (default: the last 7 days)")
    monitoring.add_argument("--json", action="store_true")
    add_target_options(monitoring)

    status = commands.add_parser(
        "status", help="every endpoint, deployments in flight, open approvals and DLQs (exit 1: attention)"
    )
    status.add_argument("endpoint", nargs="?", help="only this endpoint (a name)")
    status.add_argument("--json", action="store_true")
    add_target_options(status)

    report = commands.add_parser(
        "report",
        help="a model version's audit report: lineage, code, gate, approvals, deployments, monitoring",
    )
    report.add_argument(
        "package", help="the model package (version) ARN, or its group's name followed by VERSION"
    )
    report.add_argument(
        "version", nargs="?", type=_version_number, help="with a group's name: the version (5 or v5)"
    )
    report.add_argument("--html", metavar="FILE", help="write the self-contained HTML report to FILE")
    report.add_argument("--json", action="store_true", help="print the report's data as JSON")
    add_target_options(report)

    notes = commands.add_parser("notifications", help="the delivery log: every attempt, newest first")
    notes.add_argument("--since", metavar="TIME", help="ISO-8601 (default: the last 24 hours)")
    notes.add_argument("--failed", action="store_true", help="only failed attempts")
    notes.add_argument("--json", action="store_true")
    add_target_options(notes)

    backfill = commands.add_parser(
        "backfill", help="record what SageMaker holds that no event brought (resumable, budgeted)"
    )
    from steward_cli.backfill import add_arguments as add_backfill_arguments

    add_backfill_arguments(backfill)

    redrive = commands.add_parser("redrive", help="send a function's dead letters back to it, and report")
    redrive.add_argument(
        "function",
        nargs="?",
        default="RecordLineage",
        help="the function's output prefix in the stack (default RecordLineage)",
    )
    redrive.add_argument("--stack", metavar="NAME", required=True, help="the deployed stack")
    redrive.add_argument("--region")
    redrive.add_argument("--limit", type=int, default=1000, help="at most this many messages")
    redrive.add_argument("--json", action="store_true")

    deployments = commands.add_parser(
        "deployments", help="an endpoint's deployment history, or what served at a time"
    )
    deployments.add_argument("endpoint", help="endpoint name or ARN")
    deployments.add_argument("--at", metavar="TIME", help="ISO-8601 time: what was serving then")
    deployments.add_argument("--json", action="store_true")
    _add_endpoint_location(deployments)
    add_target_options(deployments)

    rollback = commands.add_parser(
        "rollback", help="redeploy the previous (or a named) version on an endpoint, recorded as a rollback"
    )
    rollback.add_argument("endpoint", help="endpoint name")
    rollback.add_argument("--to", dest="to_version", type=int, metavar="VERSION", help="this version instead")
    rollback.add_argument("--reason", required=True, help="why (recorded with who asked)")
    rollback.add_argument(
        "--wait", type=float, default=30.0, metavar="SECONDS", help="follow it this long (0: just ask)"
    )
    rollback.add_argument("--json", action="store_true")
    _add_endpoint_location(rollback)
    add_target_options(rollback)
    return parser


def _checked(pattern: str, what: str) -> Callable[[str], str]:
    import re

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
        return value

    return check


_ACCOUNT_ID = _checked(r"[0-9]{12}", "a 12-digit AWS account id")
_REGION_NAME = _checked(r"[a-z]{2}(-[a-z]+)+-[0-9]", "an AWS region name")


def _version_number(value: str) -> int:
    return int(_checked(r"v?[1-9][0-9]{0,8}", "a version number (5 or v5)")(value).lstrip("v"))


def _add_location(parser: argparse.ArgumentParser) -> None:
    where = "default: the events' own when they all name one, else 123456789012 / us-east-1"
    parser.add_argument(
        "--account", metavar="ID", type=_ACCOUNT_ID, help=f"the sandbox's AWS account ({where})"
    )
    parser.add_argument(
        "--region", metavar="NAME", type=_REGION_NAME, help="the sandbox's region (as --account)"
    )


def _add_endpoint_location(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("an endpoint of another account or region (a workload account's)")
    group.add_argument("--account", metavar="ID", type=_ACCOUNT_ID, help="the endpoint's account")
    group.add_argument("--endpoint-region", metavar="NAME", type=_REGION_NAME, help="the endpoint's region")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from steward_cli import commands
    from steward_cli.remote import ApiError

    try:
        if args.command == "local":
            from sandbox.demo.story import run_replay, run_serve

            if args.local_command == "demo":
                from sandbox.demo.lifecycle import run_demo

                return int(run_demo(interactive=args.interactive))
            if args.local_command == "serve":
                return int(
                    run_serve(
                        args.files,
                        args.setup,
                        args.port,
                        serve_aws=args.serve_aws,
                        policy=args.policy,
                        outbox=args.outbox,
                        account=args.account,
                        region=args.region,
                        parallel=args.parallel,
                    )
                )
            return int(
                run_replay(args.files, args.json, args.setup, account=args.account, region=args.region)
            )
        if args.command == "lineage":
            return commands.lineage(args)
        if args.command == "deployments":
            return commands.deployments(args)
        if args.command == "rollback":
            return commands.rollback(args)
        if args.command == "compare":
            return commands.compare(args)
        if args.command == "approvals":
            return commands.approvals(args)
        if args.command in ("approve", "reject"):
            return commands.decide(args)
        if args.command == "policy":
            return commands.validate_policy(args.file)
        if args.command == "notifications":
            return commands.notifications(args)
        if args.command == "monitoring":
            return commands.monitoring(args)
        if args.command == "status":
            return commands.status(args)
        if args.command == "report":
            return commands.report(args)
        if args.command == "redrive":
            return commands.redrive(args)
        if args.command == "backfill":
            return commands.backfill(args)
    except ApiError as exc:
        code = commands.fail(str(exc))
        return 2 if args.command == "status" else code  # status's 1 means "needs attention"
    except ValueError as exc:
        from sandbox.demo.replay import EventFileError

        if not isinstance(exc, EventFileError):
            raise
        print(f"steward: {exc}", file=sys.stderr)  # a clear line, not a traceback
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
