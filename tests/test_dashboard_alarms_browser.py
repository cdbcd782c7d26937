"""The alarm console in a real headless Chromium against a real Mosquitto and `twin live`.

A smoke reading published on the broker raises an alarm in the live twin; the console
shows it within seconds and acknowledging it by a click records the session user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from tests.browser import wait_until
from tests.live_procs import now_reading
from twin.config import load_complex

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion



def _js(driver, css: str, what: str):  # type: ignore[no-untyped-def]
    """``what`` (text, className or click) of the element at ``css`` now, read in one script so a
    redraw between finding and reading cannot leave a stale reference; None when absent."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return null;"
        "if (arguments[1] === 'click') { e.click(); return true; }"
        "return arguments[1] === 'text' ? e.innerText : e.className;",
        css,
        what,
    )


def test_alarm_from_the_broker_appears_and_is_acknowledged_by_click(
    dash_thread_server, dash_br, live_rig, tmp_path: Path, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    broker, config, live, watcher, pub = live_rig
    complex_ = load_complex(config)
    users_file = tmp_path / "users.yaml"
    add_user(users_file, User("kim", "operator"), "kim-pass")
    app = create_app(
        complex_,
        live.historian_url,
        broker_url=broker,
        auth=AuthConfig(load_users(users_file), b"alarm-browser-secret-0123456789"),
    )
    dash_thread_server(app)
    request.addfinalizer(app.server.extensions["twin_alarm_feed"].close)  # before the broker stops
    driver, base = dash_br.driver, dash_thread_server.url.rstrip("/")
    driver.get(base + "/alarms")
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-form"), "the login form")
    driver.find_element("css selector", "#login-username").send_keys("kim")
    driver.find_element("css selector", "#login-password").send_keys("kim-pass")
    driver.find_element("css selector", "#login-submit").click()
    wait_until(driver, lambda d: d.find_elements("css selector", ".no-alarms"), "the empty console")

    pub.readings([now_reading("alpha-f1-smoke", 3.0)])
    _, raised = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/event") and d["event"] == "raised" and d["alarm"]["type"] == "smoke",
        timeout=15,
        what="the smoke alarm",
    )
    alarm = raised["alarm"]
    row = f"#alarm-row-{alarm['id']}"
    wait_until(driver, lambda d: d.find_elements("css selector", row), "the alarm row")
    severity = alarm["severity"]
    assert _js(driver, f"{row} .sev-badge", "text") == severity.upper()  # severity as text, not colour alone
    assert f"sev-{severity}" in _js(driver, f"{row} .sev-badge", "class")
    if severity == "critical":
        wait_until(driver, lambda d: "CRITICAL" in (_js(d, "#alarms-banner", "text") or ""), "the banner")
    assert driver.save_screenshot(str(IMG / "dashboard-alarms.png"))

    wait_until(driver, lambda d: _js(d, f"{row} .alarm-ack", "click"), "a click on the acknowledge button")
    wait_until(driver, lambda d: "done by kim" in (_js(d, "#alarms-status", "text") or ""), "the reply")
    _, acked = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/event") and d["event"] == "acknowledged", timeout=15, what="the ack event"
    )
    assert acked["alarm"]["id"] == alarm["id"] and acked["alarm"]["acked_by"] == "kim"
    wait_until(driver, lambda d: "kim" in (_js(d, f"{row} .acked-by", "text") or ""), "the acknowledged row")
    assert not driver.find_elements("css selector", f"{row} .alarm-ack")
    assert dash_br.get_logs() == []
