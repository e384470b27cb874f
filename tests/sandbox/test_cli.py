"""The `steward` CLI: local replay and demo, through its console entry point."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time

from steward_cli import main
from tests.conftest import EVENTS, REPO


def test_replay_json_prints_results_and_lineage(capsys, tmp_path):
    # Given two events in a JSON Lines file
    lines = [json.loads(line) for line in (EVENTS / "story_churn.jsonl").read_text().splitlines()[:4]]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in lines))
    # When replayed with --json
    code = main(["local", "replay", "--json", str(path)])
    # Then one result per event and the graph document
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["event_id"] for r in out["results"]] == [e["id"] for e in lines]
    assert {"nodes", "edges"} == set(out["lineage"])
    assert any(n["kind"] == "processing-job" for n in out["lineage"]["nodes"])


def test_replay_accepts_json_files_with_one_event_or_a_list(capsys, tmp_path):
    one = EVENTS / "training_job" / "completed.json"
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([json.loads((EVENTS / "training_job" / "in_progress_starting.json").read_text())])
    )
    assert main(["local", "replay", "--json", str(one), str(many)]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 2


def test_replay_of_a_bad_file_says_where(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{oops\n')
    assert main(["local", "replay", str(bad)]) == 2
    assert "bad.jsonl: line 2" in capsys.readouterr().err


def test_replay_text_shows_outcomes_and_tree(capsys):
    assert (
        main(
            [
                "local",
                "replay",
                "--setup",
                str(EVENTS / "sagemaker_resources.json"),
                str(EVENTS / "story_churn.jsonl"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "record_lineage: recorded" in out
    assert "endpoint: churn-prod [InService]" in out
    assert "31 events, 0 failed" in out


def _ctrl_c_enabled() -> None:
    """In the child: Ctrl-C as in a terminal. A test runner's worker may ignore SIGINT, and an ignored
    signal stays ignored across exec, so Python would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """What `process` printed up to the line containing `marker`; fails (never hangs) after `timeout`."""
    import queue
    import threading

    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    told, deadline = [], time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"no {marker!r} within {timeout} s:\n" + "".join(told)[-3000:]) from None
        if line is None:
            raise AssertionError(f"ended before {marker!r}:\n" + "".join(told)[-3000:])
        told.append(line)
        if marker in line:
            return "".join(told)


def test_demo_exits_zero_and_tells_the_whole_lifecycle(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "steward_cli", "local", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the outbox is written to ./demo-output
        timeout=120,
        check=False,
    )
    out = result.stdout
    keep = REPO / "test-artifacts"
    keep.mkdir(exist_ok=True)
    (keep / "demo.out").write_text(
        out + "\n--- stderr ---\n" + result.stderr
    )  # the whole run, to read on failure
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    # act 1: the recorded story; act 2: live
    assert "endpoint churn-prod → IN_SERVICE" in out
    assert "churn-models v5 registered → quality gate: auc=0.934 (>= 0.88)" in out
    assert "GET http://127.0.0.1:" in out and "/approvals/<token> → 200" in out  # the token is not printed
    assert "registry status after the GET: PendingManualApproval" in out
    # the page's lineage: the version's artifact is the training job's, so its data and run are known
    shows = out.split("the page shows ", 1)[1].split("\n", 1)[0]
    assert "trained on s3://churn-datalake-123456789012/raw/customers/dt=" in shows, shows
    assert "training data: not recorded" not in shows and "pipeline run churn-train/execution/" in shows
    assert "POST Approve (with the page's anti-forgery value) → 200" in out
    assert "churn-models v5 is Approved — “Approved via Steward by alice@example.com" in out
    assert "churn-staging  v5 (new endpoint) succeeded, approved by alice@example.com" in out
    assert "churn-prod     v5 (canary) succeeded, approved by alice@example.com" in out
    assert "churn-models v6: gate auc=0.842 (>= 0.88, FAILED)" in out and "→ Rejected" in out
    # a faulty version deploys to staging, fails its integration test there, and never reaches prod
    assert (
        "integration test passed: 2 case(s)" in out.split("churn-staging  v5", 1)[1].split("churn-prod", 1)[0]
    )
    assert "churn-staging  v7 (all-at-once) succeeded, approved by carol@example.com" in out
    assert "integration test FAILED: 2 case(s), 2 failing" in out
    assert "✘ a loyal customer: status 500, expected 200" in out
    assert "churn-prod still serves v5 (a failed integration test stops the promotion)" in out
    assert "Integration test of churn-models v7 on churn-staging failed" in out
    assert "churn-staging  v8 (all-at-once) failed" in out and "churn-prod still serves v5" in out
    # monitoring: one alert each, against the serving version, one retraining run per cooldown
    assert (
        out.count(
            "alert → retention-ds@example.com: [Steward] Model Monitor: 3 violations on churn-prod (churn-models/5)"
        )
        == 1
    )
    assert out.count("Alarm churn-prod-feature-drift-tenure is in ALARM on churn-prod (churn-models/5)") == 3
    assert (
        "retraining started: arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn-train/execution/" in out
    )
    assert "retraining skipped: cooldown until" in out
    assert "retraining runs started: 1" in out
    # rollback and the questions
    assert "rollback of churn-prod to v3 (from v5): succeeded" in out
    assert "churn-models v3 (Approved, approved outside Steward)" in out
    assert "trained on: s3://churn-datalake-123456789012/raw/customers/dt=" in out
    assert "approval: Approved by alice@example.com" in out
    for check in (
        "v5 Approved in the registry",
        "v6 rejected by the gate",
        "churn-prod rolled back to v3",
        "nothing in a dead-letter queue",
        "every delivery succeeded",
    ):
        assert f"✔ churn-models {check}" in out or f"✔ {check}" in out, check
    # the fourth question: what differs between the version rolled back to and the one rolled back from
    assert "What differs between the version rolled back to (v3) and the one rolled back from (v5)?" in out
    assert "churn-models/3 vs churn-models/5:" in out
    # act 1 is told in the order things happened, with every status whole
    act_one = out.split("Act 1", 1)[1].split("Act 2", 1)[0]
    rows = re.findall(r"^\s*\d+ [✔✘·] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  (.*)$", act_one, flags=re.MULTILINE)
    assert len(rows) == 30
    assert [when for when, _ in rows] == sorted(when for when, _ in rows)
    statuses = {row.split(" → ", 1)[1].split()[0] for _, row in rows}
    assert statuses == {  # whole words: a cut one ("InProgr") would be a new member
        "Executing", "InProgress", "Completed", "Succeeded", "PendingManualApproval", "Approved",
        "UPDATING", "IN_SERVICE", "Failed", "Rejected",
    }  # fmt: skip
    assert all("…" in row or len(row.split(" → ", 1)[0]) < 70 for _, row in rows)  # a cut name says so
    # the outbox, written out to read: emails as .eml and .html, Slack messages as JSON
    written = sorted(p.suffix for p in (tmp_path / "demo-output").iterdir())
    assert {".eml", ".html", ".json"} <= set(written)
    # it ends with the estate (exit 1: the failed v8 on staging and the drift alarm need attention)
    estate = out.split("The estate, and the audit trail", 1)[1]
    assert re.search(r"churn-prod\s+InService\s+churn-models/v3", estate), estate[:2000]
    assert "rolled back to it by" in estate and "alarm churn-prod-feature-drift-tenure: ALARM" in estate
    assert "! churn-staging: deployment of churn-models/8 failed" in estate
    assert "exit status 1: something needs attention" in estate
    # and the audit report of the version approved live, written for an auditor
    assert "approval: approved — alice@example.com (approve, link)" in estate
    report = (tmp_path / "demo-output" / "audit-report-churn-models-v5.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and "<svg" in report and "alice@example.com" in report
    assert "✔ audit report of churn-models v5 written" in out


def test_interactive_demo_waits_for_a_person_to_decide_in_the_browser(tmp_path):
    """--interactive prints the approver's link and continues once someone decides from the page."""
    import re
    import urllib.parse
    import urllib.request

    demo = subprocess.Popen(
        [sys.executable, "-m", "steward_cli", "local", "demo", "--interactive"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        preexec_fn=_ctrl_c_enabled,  # noqa: PLW1509 (only resets one signal disposition)
    )
    try:
        link = None
        assert demo.stdout is not None
        for line in demo.stdout:
            found = re.search(r"(http://127\.0\.0\.1:\d+/approvals/[A-Za-z0-9._-]{20,})", line)
            if found and "Open this link" not in line:
                link = found.group(1)
                break
        assert link, "no approval link printed"
        page = urllib.request.urlopen(link, timeout=10).read().decode()
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
        body = urllib.parse.urlencode({**fields, "decision": "approve", "comment": "clicked by a person"})
        with urllib.request.urlopen(
            urllib.request.Request(link, data=body.encode(), method="POST"), timeout=30
        ):
            pass
        told = _read_until(demo, "Ctrl-C to stop", timeout=120)  # the story ends, then the API stays up
        assert "churn-models v5 is Approved — “Approved via Steward by alice@example.com" in told
        assert "registry: churn-models v5 is PendingManualApproval" not in told  # read after the write
        assert "clicked by a person" in told
        api = re.search(r"The local API stays up: (http://127\.0\.0\.1:\d+)", told)
        assert api, told[-2000:]
        with urllib.request.urlopen(f"{api.group(1)}/health", timeout=10) as health:
            assert health.status == 200  # still serving after the story ended
        time.sleep(0.5)
        assert demo.poll() is None  # it waits for Ctrl-C ...
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0, told[-3000:]  # ... and then ends cleanly, with the story's status
    finally:
        demo.kill()


def test_policy_validate_names_the_bad_fields(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("default:\n  approval:\n    approvers: [{email: a@example.com}]\n")
    assert main(["policy", "validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  approval:\n    approvers: [{email: nope}]\n    quorum: 0\n")
    assert main(["policy", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "default.approval.approvers.0.email" in err and "default.approval.quorum" in err


def test_the_shipped_policy_validates(capsys):
    assert (
        main(
            [
                "policy",
                "validate",
                str(REPO / "layers" / "core" / "steward" / "policy" / "policy_default.yaml"),
            ]
        )
        == 0
    )


def test_policy_validate_reports_field_and_cross_field_errors_in_one_run(tmp_path, capsys):
    # Given a policy with field errors and, elsewhere and beside them, rules broken across fields
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "default:\n"
        "  approval:\n"
        "    approvers: [{email: nope}, {email: b@example.com}]\n"
        "    quorum: 3\n"
        "  stages:\n"
        "    - {name: staging, endpoint: churn-staging, instance_count: 0}\n"
        "    - {name: staging, endpoint: churn-prod}\n"
        "  notifications:\n"
        "    critical: {digest: true, webhooks: [pager]}\n"
        "  monitoring:\n"
        "    retraining: {enabled: true, daily_limit: 0}\n"
    )
    # When it is validated once
    assert main(["policy", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    # Then every problem is named, the cross-field ones beside the field errors
    for expected in (
        "default.approval.approvers.0.email",
        "default.stages.0.instance_count",
        "default.monitoring.retraining.daily_limit",
        "quorum 3 is more than the 2 approvers",
        "stage names must be unique",
        "pipeline: required when retraining is enabled",
        "critical is never held back",
        "no webhook 'pager'",
    ):
        assert expected in err, expected


def test_a_valid_policy_reports_a_cross_field_error_once(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  approval:\n    approvers: [{email: a@example.com}]\n    quorum: 2\n")
    assert main(["policy", "validate", str(bad)]) == 1
    assert capsys.readouterr().err.count("quorum 2 is more than the 1 approvers") == 1


def test_upstream_trees_read_in_the_direction_of_the_edges():
    from steward_cli.render import tree

    graph = {
        "nodes": [
            {"id": "e", "kind": "endpoint", "name": "churn-prod"},
            {"id": "c", "kind": "endpoint-config", "name": "churn-prod-v3"},
        ],
        "edges": [{"from": "c", "to": "e", "relation": "configures"}],
    }
    # downstream: the parent configures the child
    assert tree(graph, roots=["c"]) == ("endpoint-config: churn-prod-v3\n└─configures → endpoint: churn-prod")
    # upstream from the endpoint: the config configures it (never "endpoint configures → config")
    assert tree(graph, roots=["e"], direction="upstream") == (
        "endpoint: churn-prod\n└─endpoint-config: churn-prod-v3 ─configures→"
    )


def test_text_cut_to_fit_says_so():
    from steward_cli.render import clip, clip_middle

    assert clip("short", 10) == "short"
    assert clip("a" * 20, 10) == "a" * 9 + "…"
    assert len(clip_middle("pipelines-8xq2n4vd1k7m-PrepareData-Vb3kR9sT2q", 20)) == 20
    assert clip_middle("pipelines-8xq2n4vd1k7m-PrepareData-Vb3kR9sT2q", 20).endswith("R9sT2q")


def test_serve_prints_where_to_start_and_reports_failed_deliveries(tmp_path):
    from sandbox.demo.story import _report_failures

    # Given a replay where one delivery failed and PutEvents refused one entry
    events = [
        {"detail-type": "SageMaker Training Job State Change", "detail": {"TrainingJobName": "j"}},
        {"detail-type": "SageMaker Endpoint State Change", "detail": {"EndpointName": "e"}},
    ]
    results = [
        {"targets": [{"function": "record_lineage", "ok": False, "error": "boom"}]},
        {"targets": [], "error": {"code": "ValidationException", "message": "entry is too big"}},
    ]
    out = io.StringIO()
    # When the failures are reported
    count = _report_failures(events, results, out)
    # Then each is named with its function and error, and the total is said
    text = out.getvalue()
    assert count == 2
    assert "training job j → None: record_lineage failed: boom" in text
    assert "refused by PutEvents: entry is too big" in text
    assert "1 failed deliveries and 1 refused events of 2" in text


def test_serve_suggests_an_arn_to_start_from():
    serve = subprocess.Popen(
        [
            sys.executable, "-m", "steward_cli", "local", "serve",
            "--setup", str(EVENTS / "sagemaker_resources.json"), str(EVENTS / "story_churn.jsonl"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ctrl_c_enabled,  # noqa: PLW1509 (only resets one signal disposition)
    )  # fmt: skip
    try:
        told = _read_until(serve, "Ctrl-C to stop", timeout=60)
        assert (
            "steward lineage arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod --upstream" in told
        )
        assert "steward lineage arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3" in told
        assert "failed deliveries" not in told
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=30) == 0
    finally:
        serve.kill()
