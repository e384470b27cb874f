"""The `steward` CLI: local replay and demo, through its console entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from steward.cli import main
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


def test_demo_exits_zero_and_tells_the_whole_lifecycle(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "steward.cli", "local", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the outbox is written to ./demo-output
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    # act 1: the recorded story; act 2: live
    assert "endpoint churn-prod → IN_SERVICE" in out
    assert "churn-models v5 registered → quality gate: auc=0.934 (>= 0.88)" in out
    assert "GET http://127.0.0.1:" in out and "/approvals/<token> → 200" in out  # the token is not printed
    assert "registry status after the GET: PendingManualApproval" in out
    assert "POST Approve (with the page's anti-forgery value) → 200" in out
    assert "churn-models v5 is Approved — “Approved via Steward by alice@example.com" in out
    assert "churn-staging  v5 (new endpoint) succeeded, approved by alice@example.com" in out
    assert "churn-prod     v5 (canary) succeeded, approved by alice@example.com" in out
    assert "churn-models v6: gate auc=0.842 (>= 0.88, FAILED)" in out and "→ Rejected" in out
    assert "churn-staging  v7 (all-at-once) failed" in out and "churn-prod still serves v5" in out
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
    # the outbox, written out to read: emails as .eml and .html, Slack messages as JSON
    written = sorted(p.suffix for p in (tmp_path / "demo-output").iterdir())
    assert {".eml", ".html", ".json"} <= set(written)


def test_interactive_demo_waits_for_a_person_to_decide_in_the_browser(tmp_path):
    """--interactive prints the approver's link and continues once someone decides from the page."""
    import re
    import urllib.parse
    import urllib.request

    demo = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "local", "demo", "--interactive"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
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
        rest = demo.stdout.read()
        assert demo.wait(timeout=120) == 0, rest[-3000:]
        assert "churn-models v5 is Approved — “Approved via Steward by alice@example.com" in rest
        assert "clicked by a person" in rest
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
        main(["policy", "validate", str(REPO / "layers" / "core" / "steward" / "policy_default.yaml")]) == 0
    )
