"""The audit report `make demo` writes to demo-output/, opened in a real browser: the file an auditor is
handed after the demo, with the demo's whole lineage (data, three jobs, the artifact, the version, two
deployments and their endpoints), styled, nothing sideways on a phone, printable to PDF."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PHONE
from tests.e2e.test_report_browser import _csp_violations


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "steward_cli", "local", "demo"],
        capture_output=True,
        text=True,
        cwd=where,  # the outbox, and the report, are written to ./demo-output
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return where / "demo-output" / "audit-report-churn-models-v5.html"


def _labels(browser: Any) -> list[str]:
    return browser.execute_script("return [...document.querySelectorAll('svg text')].map(t => t.textContent)")


def test_the_demos_report_draws_the_whole_lineage_and_prints(demo_report, browser, screenshot):
    # Given the report the demo wrote, opened from the file
    browser.get(demo_report.as_uri())
    # Then it is the approved version's, styled, and the CSP blocked nothing
    assert browser.title == "Audit report: churn-models version 5"
    assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == (
        "rgb(244, 245, 247)"
    )
    assert _csp_violations(browser) == []
    # And its diagram runs from the data through the jobs to the one artifact, the version and both stages
    labels = _labels(browser)
    assert "dt=2026-" in " ".join(labels) and "churn-models/5" in labels
    assert {"churn-staging", "churn-prod", "model.tar.gz"} <= set(labels)
    assert labels.count("model.tar.gz") == 1  # the version packages the training job's own artifact
    assert sum(label.startswith("pipelines-") for label in labels) == 3  # prepare, train, evaluate
    # And the tables hold the decision and both deployments
    text = browser.find_element("css selector", "body").text
    assert "alice@example.com" in text and "churn-staging" in text and "churn-prod" in text
    screenshot("desktop")
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF") and 1 <= pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") <= 10


def test_the_demos_report_on_a_phone_scrolls_only_down(demo_report, browser, screenshot):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    browser.get(demo_report.as_uri())
    assert browser.execute_script("return window.innerWidth") == 390
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('table, svg, dl')].map(t => t.parentElement)"
        "  .filter(box => box.scrollWidth > box.clientWidth).map(box => box.outerHTML.slice(0, 300))"
    )
    assert overflowing == []
    screenshot("phone")
