"""The used-vs-granted report (`make iam-report`; README "IAM in the sandbox") and the reasons template.yaml
gives for the grants no scenario uses."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from sandbox import Sandbox, iam
from tests.integration import test_reconcile_and_scale as reconcile

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
UNUSED = """\
            - Sid: PurgeNobodyAskedFor
              Effect: Allow
              Action: [sqs:PurgeQueue]
              Resource: !GetAtt NotificationQueue.Arn
            # not in the sandbox: TagQueue, a reason given for this one
            - Sid: TaggedForLater
              Effect: Allow
              Action: [sqs:TagQueue]
              Resource: !GetAtt NotificationQueue.Arn
"""


def _with_unused_statements(tmp_path: Path) -> Path:
    """template.yaml with two statements no code needs in reconcile_lineage's role."""
    text = TEMPLATE.read_text()
    anchor = "            - Sid: DescribeWhatTheRecordsName\n"
    assert text.count(anchor) == 1
    back = os.path.relpath(REPO, tmp_path)  # the code stays where it is, relative to the copy
    text = re.sub(r"(CodeUri|ContentUri): (\S+)", lambda m: f"{m[1]}: {back}/{m[2]}", text)
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(anchor, UNUSED + anchor))
    return copy


def test_the_report_shows_a_grant_used_with_its_calls_and_one_never_used_with_or_without_a_reason(
    tmp_path, monkeypatch
):
    # Given a template where reconcile_lineage is granted two statements its code never needs
    template = _with_unused_statements(tmp_path)
    monkeypatch.setattr("sandbox.facade.DEFAULT_TEMPLATE", template)
    # When the reconciler repairs a lost completion with usage collected, and the report is printed
    with iam.collect() as usage:
        reconcile.test_reconciler_repairs_a_lost_completed_event()
    out = io.StringIO()
    unjustified = iam.report(usage, out=out, reasons=iam.justifications(template.read_text()))
    section = out.getvalue().split("\nreconcile_lineage  ")[1].split("\n\n")[0]
    # Then the statement it used is listed with the call it allowed
    assert re.search(r"(used|partly used) +DescribeWhatTheRecordsName  \(\d+ calls", section), section
    described = "sagemaker:DescribeTrainingJob on arn:aws:sagemaker:us-east-1:123456789012:training-job/lost-completion"
    assert described in section
    # And the unused ones as never used: without a reason it is a grant to remove; with one, it says why
    assert "NEVER USED  PurgeNobodyAskedFor  (0 calls)" in section
    assert "reconcile_lineage: PurgeNobodyAskedFor: the whole statement" in unjustified
    assert "NEVER USED  TaggedForLater  (0 calls)" in section
    assert "not in the sandbox: TagQueue, a reason given for this one" in section
    assert not [line for line in unjustified if "TaggedForLater" in line]


def test_a_partly_used_statement_lists_what_of_it_was_never_used():
    with iam.collect() as usage, Sandbox(serve_api=False) as sb:
        sb.run_schedules("reconcile")  # an empty worklist: the query runs, nothing is described
    out = io.StringIO()
    iam.report(usage, out=out)
    section = out.getvalue().split("\nreconcile_lineage  ")[1].split("\n\n")[0]
    assert "NEVER USED  DescribeWhatTheRecordsName  (0 calls)" in section
    assert re.search(r"partly used LineageReadWrite  \(\d+ calls", section), section
    assert "action never used:   dynamodb:PutItem" in section


def test_every_reason_in_the_template_is_on_a_statement_and_names_what_it_excuses():
    # A reason is read beside its statement (tests/sandbox/iam_scenarios.py and `make iam-report` hold
    # every unused grant to having one); one that names nothing of its statement is a stale comment.
    text = TEMPLATE.read_text()
    reasons = iam.justifications(text)
    assert reasons, "template.yaml gives no reason for any grant"
    for marker in re.findall(r"#.*?not in the sandbox:\s*(.*)$", text, re.IGNORECASE | re.MULTILINE):
        assert any(marker.strip() in why for why in reasons.values()), f"not on a statement: {marker}"
    with Sandbox(serve_api=False) as sb:
        roles = {role.logical_id.removesuffix("Role"): role for role in sb.iam.roles.values()}
    for (logical, sid), why in reasons.items():
        role = roles[logical]
        if sid == "EventInvokeConfig":
            continue
        [statement] = [s for s in role.statements if s.sid == sid]
        names = [a.rpartition(":")[2] for a in statement.actions] + [
            iam._token(iam.stable(r)) for r in statement.resources
        ]
        assert any(name in why for name in names), (logical, sid, why)
