"""The audit report in a real browser: opened offline from the file `steward report --html` writes,
styled (its CSP allows the hashed stylesheet), nothing sideways on a phone, and printable to PDF."""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request
from typing import Any

from tests.e2e.conftest import ARTIFACTS, PHONE
from tests.integration.test_report import released  # noqa: F401 (the scenario fixture)


def _csp_violations(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def _report_file(sb: Any, arn: str, tmp_path: Any) -> str:
    url = f"{sb.api_url}/report?{urllib.parse.urlencode({'package': arn})}"
    with urllib.request.urlopen(url) as response:
        html = response.read().decode()
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


def test_the_report_opens_offline_styled_and_prints(released, browser, screenshot, tmp_path):  # noqa: F811
    sb, arn = released
    browser.get(_report_file(sb, arn, tmp_path))
    assert browser.title == "Audit report: fraud version 1"
    # the hashed stylesheet applied (an unstyled body is white) and the CSP blocked nothing
    assert (
        browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        == "rgb(244, 245, 247)"
    )
    assert _csp_violations(browser) == []
    # the lineage diagram is drawn: boxes for the version, its deployments and the endpoints
    labels = browser.execute_script(
        "return [...document.querySelectorAll('svg text')].map(t => t.textContent)"
    )
    assert "fraud/1" in labels and "fraud-prod" in labels and any(t.startswith("promotion") for t in labels)
    assert browser.execute_script("return document.querySelector('svg').getBoundingClientRect().height") > 200
    # hostile text is shown as text, never run
    assert "<script>alert(1)</script>" in browser.find_element("css selector", ".desc").text
    screenshot("desktop")
    # printing gives a PDF of a few pages
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "audit-report.pdf").write_bytes(pdf)
    assert 1 <= pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") <= 10


def test_the_report_on_a_phone_scrolls_only_down(released, browser, screenshot, tmp_path):  # noqa: F811
    sb, arn = released
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    browser.get(_report_file(sb, arn, tmp_path))
    assert browser.execute_script("return window.innerWidth") == 390
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('table, svg, dl')].map(t => t.parentElement)"
        "  .filter(box => box.scrollWidth > box.clientWidth).map(box => box.outerHTML.slice(0, 300))"
    )
    assert overflowing == []
    assert browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    assert _csp_violations(browser) == []
    screenshot("phone")
