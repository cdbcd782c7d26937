"""Shared fixtures. Real servers live in tests/fixtures/*, one module per server."""

from __future__ import annotations

import shutil

pytest_plugins = [
    "tests.fixtures.mosquitto",
    "tests.fixtures.influxdb",
    "tests.fixtures.live_rig",
]


def pytest_setup_options():  # dash[testing] hook: use Debian's chromium, headless, as root
    from selenium.webdriver.chrome.options import Options

    options = Options()
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync", "--window-size=1400,1000",
        # No GPU here: opt in to software WebGL (trend traces are Scattergl), without the
        # deprecation warning the automatic fallback logs to the console.
        "--enable-unsafe-swiftshader",
    ):
        options.add_argument(flag)
    return options
