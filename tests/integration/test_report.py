"""The audit report of a model version (`GET /report`, `steward report`): every decision and refused
attempt, every deployment, monitoring, the lineage diagram; hostile text escaped; errors structured."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest

from sandbox import Sandbox
from steward_cli import main
from tests.integration.test_promotion import approve, http, policy

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & \u202eevil'


def get(sb: Sandbox, **params: str) -> tuple[int, dict[str, str], str]:
    url = f"{sb.api_url}/report?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


@pytest.fixture(scope="module")
def released():
    """fraud v1, registered with a hostile description, a refused attempt by mallory, approved by alice,
    deployed to staging and prod."""
    with Sandbox(policy=policy()) as sb:
        sm = sb.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="fraud")
        arn = sm.create_model_package(
            ModelPackageGroupName="fraud",
            ModelPackageDescription=HOSTILE,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:1",
                        "ModelDataUrl": "s3://models/fraud/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties={"auc": "0.9", "note": HOSTILE},
        )["ModelPackageArn"]
        sb.drain()
        from steward.approvals.models import ApprovalRequest

        refused, body = http(
            sb,
            "POST",
            f"/approval-requests/{ApprovalRequest.id_for(arn)}/decisions",
            {"decision": "approve", "as": "mallory@example.com", "comment": "let me"},
        )
        assert refused == 403, body
        approve(sb, arn, who="alice@example.com")
        yield sb, arn


def test_the_report_holds_every_decision_refusal_and_deployment(released) -> None:
    sb, arn = released
    status, _, text = get(sb, package=arn, format="json")
    assert status == 200, text
    report = json.loads(text)
    assert report["package"]["id"] == arn.lower() or report["package"]["id"] == arn
    (request,) = report["approvals"]
    assert request["status"] == "approved" and request["stage"] is None
    assert [(d["who"], d["decision"], d["channel"]) for d in request["decisions"]] == [
        ("alice@example.com", "approve", "operator")
    ]
    assert [(r["who"], r["channel"]) for r in request["refusals"]] == [("mallory@example.com", "operator")]
    assert report["gate"]["passed"] is True and report["gate"]["checks"][0]["metric"] == "auc"
    assert [(d["stage"], d["endpoint"], d["status"]) for d in report["deployments"]] == [
        ("staging", "fraud-staging", "Succeeded"),
        ("prod", "fraud-prod", "Succeeded"),
    ]
    assert all(d["approvedBy"] == ["alice@example.com"] for d in report["deployments"])
    kinds = {n["kind"] for n in report["lineage"]["nodes"]}
    assert {"model-package", "model-artifact", "deployment", "endpoint"} <= kinds
    assert "training data" in report["missing"]  # nothing recorded upstream of this artifact: said


def test_the_html_is_self_contained_escaped_and_locked_down(released) -> None:
    sb, arn = released
    status, headers, html = get(sb, package=arn)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    parser = Tags()
    parser.feed(html)
    assert not parser.tags & {"script", "img", "iframe", "link", "object", "embed", "form", "a"}
    assert not {a for a in parser.attributes if a.startswith("on")}  # no event handler attribute
    assert "style" not in parser.attributes  # the CSP allows only the hashed stylesheet
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\u202e" not in html
    assert "<svg" in html and "fraud-prod" in html and "mallory@example.com" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external asset


def test_the_cli_writes_the_report_and_summarises_it(released, tmp_path, capsys) -> None:
    sb, arn = released
    target = tmp_path / "out" / "report.html"
    assert main(["report", arn, "--html", str(target), "--api-url", sb.api_url]) == 0
    out = capsys.readouterr().out
    assert "approval: approved — alice@example.com (approve, operator)" in out
    assert "1 refused attempt(s)" in out and "deployment promotion to fraud-prod: Succeeded" in out
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_bad_and_unknown_versions_are_refused_with_a_field(released) -> None:
    sb, _ = released
    status, _, text = get(sb, package="arn:aws:sagemaker:us-east-1:123456789012:model-package/nope/9")
    assert status == 404 and json.loads(text)["error"]
    status, _, text = get(sb, package="arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-prod")
    assert status == 400 and json.loads(text)["field"] == "package"
    status, _, text = get(
        sb, package="arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/1", format="pdf"
    )
    assert status in (400, 422)
    assert (
        main(
            [
                "report",
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/nope/9",
                "--api-url",
                sb.api_url,
            ]
        )
        == 2
    )


def test_a_version_named_by_its_group_and_number_is_the_same_report(released, tmp_path, capsys) -> None:
    # Given fraud v1 in the stack's registry
    sb, arn = released
    _, _, by_arn = get(sb, package=arn, format="json")
    # When it is asked for by group and version, on the API and as `steward report fraud v1`
    status, _, by_name = get(sb, group="fraud", version="1", format="json")
    target = tmp_path / "fraud-v1.html"
    code = main(["report", "fraud", "v1", "--html", str(target), "--api-url", sb.api_url])
    # Then it is the same version's report, and the CLI wrote the HTML as it does for an ARN
    assert status == 200, by_name
    drop = ("generatedAt",)
    assert {k: v for k, v in json.loads(by_name).items() if k not in drop} == {
        k: v for k, v in json.loads(by_arn).items() if k not in drop
    }
    assert code == 0 and "<svg" in target.read_text()
    assert "approval: approved — alice@example.com" in capsys.readouterr().out
    assert main(["report", "fraud", "1", "--json", "--api-url", sb.api_url]) == 0
    assert json.loads(capsys.readouterr().out)["package"]["id"] == json.loads(by_arn)["package"]["id"]


def test_a_half_named_or_doubly_named_version_is_refused_with_its_field(released) -> None:
    sb, arn = released
    for params, field in (
        ({"group": "fraud"}, "version"),
        ({"version": "1"}, "group"),
        ({}, "package"),
        ({"package": arn, "group": "fraud", "version": "1"}, "package"),
    ):
        status, _, text = get(sb, **params)
        assert status == 400 and json.loads(text)["field"] == field, (params, text)
    status, _, text = get(sb, group="fraud", version="9")
    assert status == 404, text
    status, _, _ = get(sb, group="../x", version="1")
    assert status in (400, 422)
    with pytest.raises(SystemExit):  # argparse: not a version number
        main(["report", "fraud", "latest", "--api-url", sb.api_url])
