"""Alarm history, audible cue and downtime Pareto in a real headless Chromium.

Real Mosquitto and `twin live`: a gas reading raises a warning (Beta's gas sensor) and a
critical gas leak (zone B). The console beeps once for the new critical alarm (Web Audio,
counted by the asset), shows both in the history read from the live twin's journal, and
the severity filter narrows the history to the critical one. Then the tenant portal shows
the downtime Pareto of machine states written to the historian.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from tests.browser import text, wait_until
from tests.live_procs import now_reading
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.model import MachineState
from twin.timespec import now_ms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion



def _js(driver, script: str, *args):  # type: ignore[no-untyped-def]
    return driver.execute_script(script, *args)


def _rows(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return _js(driver, "return [...document.querySelectorAll('.history-row')].map(r => r.id);") or []


def test_history_filter_sound_cue_and_pareto(
    dash_thread_server, dash_br, live_rig, tmp_path: Path, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    broker, config, live, watcher, pub = live_rig
    complex_ = load_complex(config)
    users_file = tmp_path / "users.yaml"
    add_user(users_file, User("kim", "operator"), "kim-pass")
    historian = live.historian_url
    app = create_app(
        complex_,
        historian,
        broker_url=broker,
        alarm_journal=str(live.data_dir / "alarms.jsonl"),
        auth=AuthConfig(load_users(users_file), b"history-browser-secret-0123456789"),
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

    # the asset is loaded (no inline script), the mute toggle exists and the sound is on
    assert _js(driver, "return typeof window.dash_clientside.twin_alarms.cue") == "function"
    assert _js(driver, "return window.twinAlarmSound.played") == 0
    assert driver.find_elements("css selector", "#alarms-mute input[type=checkbox]")
    wait_until(driver, lambda d: text(d, "#alarms-sound-status") == "sound on", "the sound status")
    driver.find_element("css selector", ".page-alarms h2").click()  # a user gesture: browsers allow audio after one

    pub.readings([now_reading("beta-f1-gas", 80.0)])
    _, leak = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/event") and d["event"] == "raised" and d["alarm"]["type"] == "gas_leak",
        timeout=15,
        what="the gas leak alarm",
    )
    leak_id = leak["alarm"]["id"]
    assert leak["alarm"]["severity"] == "critical"
    wait_until(driver, lambda d: "CRITICAL" in text(d, "#alarms-banner"), "the critical banner")
    wait_until(driver, lambda d: _js(d, "return window.twinAlarmSound.played") == 1, "one beep")

    # the history, read from the live twin's journal, lists both alarms; the severity filter narrows it
    wait_until(driver, lambda d: len(_rows(d)) >= 2, "both alarms in the history")
    assert f"history-row-{leak_id}" in _rows(driver)
    driver.find_element("css selector", "#alarms-history-severity").click()
    wait_until(
        driver,
        lambda d: [o for o in d.find_elements("css selector", ".dash-dropdown-option") if o.text == "critical"],
        "the critical option",
    )[0].click()
    wait_until(driver, lambda d: _rows(d) == [f"history-row-{leak_id}"], "the history narrowed to the critical alarm")
    assert "1 alarm(s)" in text(driver, "#alarms-history-status")
    assert driver.save_screenshot(str(IMG / "dashboard-alarm-history.png"))

    # the list refreshes every second: the same critical alarm never beeps twice; muting is remembered
    driver.find_element("css selector", "#alarms-mute input[type=checkbox]").click()
    wait_until(driver, lambda d: text(d, "#alarms-sound-status") == "sound muted", "the muted status")
    assert _js(driver, "return window.twinAlarmSound.played") == 1

    # downtime Pareto of Alpha's machine from the state sensor, as the fleet writes it
    now = now_ms()
    codes = [MachineState.BUSY.code] * 720 + [MachineState.DOWN.code] * 360 + [MachineState.SETUP.code] * 120
    with open_historian(historian) as h:
        h.store([Reading("alpha-smt-state", now - (len(codes) - i) * 5_000, float(c)) for i, c in enumerate(codes)])
    driver.get(base + "/tenant")
    wait_until(driver, lambda d: "h of downtime" in text(d, "#tenant-pareto-status"), "the Pareto")
    wait_until(driver, lambda d: d.find_elements("css selector", "#tenant-pareto .bars .point"), "the Pareto bars")
    _js(driver, "document.getElementById('tenant-pareto').scrollIntoView({block: 'center'});")
    assert driver.save_screenshot(str(IMG / "dashboard-tenant-pareto.png"))
    assert dash_br.get_logs() == []
