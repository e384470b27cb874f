"""Browser fixtures: Debian's headless Chromium driven by Selenium, and a screenshot per test.

The browser tests need `chromium` and `chromium-driver` (Debian packages; `make browser-deps`). Without
them the tests fail and say how to install them; a developer without a browser may opt out with
STEWARD_SKIP_BROWSER=1 (CI never sets it). Selenium Manager is never asked to download anything: the
driver and the browser are given by path, and SE_OFFLINE is set.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
INSTALL_HINT = (
    "the browser tests need Debian's chromium and chromium-driver: "
    "`make browser-deps` (or `sudo apt-get install -y chromium chromium-driver`); "
    "set STEWARD_SKIP_BROWSER=1 to skip them on a machine without a browser"
)
DESKTOP = (1280, 900)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}  # an iPhone 12-14 viewport


def _executable(env: str, *candidates: str) -> str | None:
    """The binary the variable names (only that one, when set), else the first candidate found."""
    chosen = os.environ.get(env)
    for candidate in [chosen] if chosen else candidates:
        if found := shutil.which(candidate):
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (tests reset the viewport they change)."""
    if os.environ.get("STEWARD_SKIP_BROWSER") == "1":
        pytest.skip("STEWARD_SKIP_BROWSER=1: browser tests skipped on request")
    browser = _executable("STEWARD_CHROMIUM", "/usr/bin/chromium", "chromium")
    driver_path = _executable("STEWARD_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
    if browser is None or driver_path is None:
        missing = [name for name, path in (("chromium", browser), ("chromedriver", driver_path)) if not path]
        pytest.fail(f"{' and '.join(missing)} not found: {INSTALL_HINT}", pytrace=False)

    os.environ["SE_OFFLINE"] = "true"  # belt and braces: explicit paths already skip Selenium Manager
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="steward-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-US",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    except Exception as exc:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(
            f"Chromium did not start ({exc.__class__.__name__}: {exc}); {INSTALL_HINT}", pytrace=False
        )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(driver: Any, name: str) -> Path:
    """The whole page (not only the viewport) as a PNG under tests/e2e/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.fixture
def browser(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The session's Chromium, fresh for this test; its last page is saved as <test name>.png."""
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chromium.get("about:blank")
    chromium.get_log("browser")  # drop earlier tests' console messages
    try:
        yield chromium
    finally:
        save_screenshot(chromium, request.node.name)  # the tab the test ended on
        for handle in chromium.window_handles[1:]:
            chromium.switch_to.window(handle)
            chromium.close()
        chromium.switch_to.window(chromium.window_handles[0])
        chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture
def screenshot(browser: Any, request: pytest.FixtureRequest):
    """screenshot("page") saves <test name>--page.png: an intermediate step worth looking at."""

    def take(step: str) -> Path:
        return save_screenshot(browser, f"{request.node.name}--{step}")

    return take


@pytest.fixture
def phone(browser: Any) -> Any:
    """The browser as a phone: a 390x844 CSS-pixel viewport, touch-sized, honouring the viewport meta."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    return browser
