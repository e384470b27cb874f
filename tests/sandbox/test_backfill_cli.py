"""`steward backfill`: against a served sandbox (in this process), and a stack's function (its loop)."""

from __future__ import annotations

import json

from sandbox import Sandbox
from steward_cli import backfill as cli_backfill
from steward_cli import main
from tests.integration.test_backfill import build_world


def test_backfill_of_a_served_sandbox_prints_progress_and_the_summary(capsys):
    with Sandbox(serve_api=False, serve_aws=True) as sb:
        # Given a sandbox whose SageMaker holds a world nobody announced
        build_world(sb, announced=False)
        # When `steward backfill` is pointed at its AWS endpoint, in small steps
        code = main(["backfill", "--aws-endpoint-url", str(sb.aws_endpoint_url), "--budget", "5"])
        out, err = capsys.readouterr()
        # Then it went step by step to the end, and says what it recorded, by type
        assert code == 0
        steps = [line for line in err.splitlines() if line.startswith("[")]
        assert len(steps) > 2 and steps[-1].startswith("[" + "█" * 20 + "] 9/9 done")
        assert "done after" in out and "pipeline-steps" in out
        total = next(line for line in out.splitlines() if line.strip().startswith("total"))
        assert total.split()[1:] == ["13", "2", "1", "0"]  # recorded, known, skipped, errors
        assert {n["kind"] for n in sb.lineage()["nodes"]} >= {"pipeline-execution", "endpoint", "model"}
        # And a second run, as JSON, records nothing
        assert main(["backfill", "--aws-endpoint-url", str(sb.aws_endpoint_url), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["done"] is True and again["summary"]["recorded"] == 0


def test_backfill_says_where_it_needs_to_run(capsys, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert main(["backfill"]) == 2
    assert "--stack NAME" in capsys.readouterr().err


def test_backfill_of_a_stack_invokes_its_function_until_the_run_is_done(capsys, monkeypatch):
    with Sandbox(serve_api=False) as sb:
        build_world(sb, announced=False)
        events = []

        def invoker(stack, region):  # the stack's function, as Lambda would run it
            assert stack == "steward-dev"

            def invoke(event):
                events.append(event)
                return sb.invoke("backfill", event)["result"]

            return invoke

        monkeypatch.setattr(cli_backfill, "_stack_invoker", invoker)
        # When the stack is backfilled with a small budget per invocation
        code = main(
            ["backfill", "--stack", "steward-dev", "--budget", "6", "--since", "2020-01-01T00:00:00Z"]
        )
        # Then the first invocation starts a run, each next one resumes it, until it is done
        out = capsys.readouterr().out
        assert code == 0 and "done after" in out
        assert events[0] == {"since": "2020-01-01T00:00:00Z", "budget": 6}
        assert len(events) > 2 and all(set(e) == {"run", "budget"} for e in events[1:])
        assert len({e["run"] for e in events[1:]}) == 1


def test_one_invocation_then_how_to_resume(capsys):
    with Sandbox(serve_api=False, serve_aws=True) as sb:
        build_world(sb, announced=False)
        url = str(sb.aws_endpoint_url)
        assert main(["backfill", "--aws-endpoint-url", url, "--budget", "3", "--once"]) == 0
        out = capsys.readouterr().out
        hint = next(line for line in out.splitlines() if "not done yet" in line)
        run = hint.split("--resume ")[1].split()[0]
        assert main(["backfill", "--aws-endpoint-url", url, "--resume", run, "--json"]) == 0
        finished = json.loads(capsys.readouterr().out)
        assert finished["run"] == run and finished["done"] is True and finished["invocations"] > 1
