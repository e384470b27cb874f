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


def test_demo_exits_zero_and_tells_the_chain():
    result = subprocess.run(
        [sys.executable, "-m", "steward.cli", "local", "demo"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "dataset: s3://churn-datalake-123456789012/raw/customers/dt=2026-11-01" in result.stdout
    assert "endpoint: churn-prod [InService]" in result.stdout
    assert "Summary: 33 events, 0 failed" in result.stdout
    assert "Notifications delivered (2)" in result.stdout
    assert "1. What is serving on churn-prod" in result.stdout
    assert "churn-models/3 vs churn-models/4" in result.stdout


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
