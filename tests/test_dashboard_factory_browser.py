"""Overview tiles and the factory drill-down in a real headless Chromium (Debian chromium via
conftest), with a real historian and the live twin's retained alarm lists on a real Mosquitto."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import paho.mqtt.publish as publish
import pytest

from dashboards.app import create_app
from tests.browser import click_point, text, wait_until
from twin.alarms.commands import open_topic
from twin.alarms.records import Alarm, AlarmState
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.live.twin import open_alarms_doc
from twin.model import MachineState
from twin.timespec import now_ms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard-factory.png"
WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion
FACTORY = "hanbit-f1"


def _traces(driver, graph_id: str):  # type: ignore[no-untyped-def]
    return driver.execute_script(
        f"const gd = document.querySelector('#{graph_id} .js-plotly-plot');"
        "if (!gd || !gd.data) return null;"
        # _fullData: after Plotly decoded typed arrays (long traces may arrive base64-encoded)
        "return (gd._fullData || gd.data).map(t => ({name: t.name, n: (t.y && t.y.length) || 0}));"
    )


def _state_at(machine: int, i: int) -> MachineState:
    """A plausible pattern: mostly busy, a setup each half hour, one machine down for a while."""
    t = i * 5  # seconds before now
    if machine == 2 and 1_200 <= t < 1_800:
        return MachineState.DOWN
    if (t // 60) % 30 in (0, 1):
        return MachineState.SETUP
    if machine == 3 and (t // 60) % 7 == 3:
        return MachineState.IDLE
    return MachineState.BUSY


def _fill(url: str, demo, now: int) -> None:  # type: ignore[no-untyped-def]
    f = demo.factories[FACTORY]
    machines = [m for ln in f.lines for m in ln.machines]
    rows: list[Reading] = []
    for k, m in enumerate(machines):
        state = next(s for s in m.sensors if s.kind == "state")
        rows += [Reading(state.id, now - i * 5_000, float(_state_at(k, i).code)) for i in range(0, 1_440)]
        for s in m.sensors:
            if s.kind != "state":
                rows.append(Reading(s.id, now - 300, s.range[0] + (s.range[1] - s.range[0]) * 0.4))
    power = "hanbit-f1-printer-power"  # the first power sensor: what the picker selects
    rows += [Reading(power, now - i * 1_000, round(6 + 2 * math.sin(i / 90) + (i % 5) * 0.1, 3)) for i in range(7_200)]
    for level, ident in (("complex", None), ("factory", FACTORY)):
        prefix = f"kpi.shift.{level}." + (f"{ident}." if ident else "")
        day = f"kpi.day.{level}." + (f"{ident}." if ident else "")
        rows += [
            Reading(prefix + "oee", now - 2_000, 0.634),
            Reading(prefix + "availability", now - 2_000, 0.81),
            Reading(prefix + "performance", now - 2_000, 0.82),
            Reading(prefix + "quality", now - 2_000, 0.954),
            Reading(prefix + "throughput_uph", now - 2_000, 412.0 if level == "complex" else 96.0),
            Reading(prefix + "good", now - 2_000, 1_730.0 if level == "complex" else 402.0),
            Reading(prefix + "energy_per_good_unit_kwh", now - 2_000, 0.071),
            Reading(day + "energy_kwh", now - 2_000, 2_412.5 if level == "complex" else 388.2),
        ]
    rows += [Reading(f"kpi.shift.machine.{m.id}.oee", now - 2_000, 0.6 + 0.05 * k) for k, m in enumerate(machines)]
    with open_historian(url) as h:
        h.store(rows)


def _alarm(aid: str, severity: str, zones: tuple[str, ...], now: int, **kw) -> Alarm:  # type: ignore[no-untyped-def]
    base = dict(
        id=aid, type="vibration_high", source="hanbit-f1-smt-vib", source_kind="sensor", severity=severity,
        state=AlarmState.ACTIVE_UNACK, owner="hanbit", zones=zones, tenant="hanbit", factory=FACTORY,
        machine="hanbit-f1-smt", disaster=False, message="vibration high", value=9.1, raised_ms=now - 60_000,
        active_ms=now - 60_000,
    )
    base.update(kw)
    return Alarm(**base)  # type: ignore[arg-type]


def test_overview_tiles_and_drill_down_to_a_factory(mosquitto, dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo = load_complex("demo")
    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    _fill(url, demo, now)
    for owner, alarms in (
        ("hanbit", [_alarm("alm-1", "minor", ("A",), now)]),
        ("park", [_alarm("alm-2", "critical", ("C",), now, type="gas_leak", disaster=True, source="C",
                         source_kind="zone", owner="park", tenant=None, factory=None, machine=None)]),
    ):
        publish.single(open_topic(owner), orjson.dumps(open_alarms_doc(owner, alarms, now)), qos=1, retain=True,
                       hostname="127.0.0.1", port=mosquitto.port)
    app = create_app(demo, url, broker_url=mosquitto.url, clock=lambda: now)
    try:
        _drill_down(dash_duo, app, demo)
    finally:
        app.server.extensions["twin_alarm_feed"].close()  # before the broker stops


def _drill_down(dash_duo, app, demo) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    driver = dash_duo.driver

    # The overview's tiles show what the live twin wrote and published.
    dash_duo.wait_for_contains_text("#overview-tile-oee", "63.4 %", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#overview-tile-throughput", "412.0 units/h", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#overview-tile-energy", "2,412.5 kWh", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#overview-tile-alarms", "critical 1", timeout=WAIT_S)
    assert "ALARM" in text(driver, "#overview-tile-alarms")  # tiles redraw every refresh: read in one script
    assert "/ " + str(len(demo.sensors)) in text(driver, "#overview-tile-stale")
    # The zone of the gas leak is highlighted on the map, in words.
    dash_duo.wait_for_contains_text("#overview-sitemap", "CRITICAL · GAS LEAK", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#overview-map-legend", "zones with active alarms: A, C", timeout=WAIT_S)

    # Click the factory on the map, then its link: the factory view opens.
    wait_until(driver, lambda d: click_point(d, "#overview-sitemap", FACTORY), "a click on the factory")
    dash_duo.wait_for_contains_text("#overview-factory-link", "Hanbit SMT plant 1", timeout=WAIT_S)
    dash_duo.find_element("#overview-factory-link a").click()
    wait_until(driver, lambda d: d.current_url.endswith(f"/factory?id={FACTORY}"), "the factory URL")

    dash_duo.wait_for_text_to_equal("#factory-name", "Hanbit SMT plant 1", timeout=WAIT_S)
    for m in ("printer", "smt", "reflow", "aoi"):
        dash_duo.wait_for_element(f"#factory-machine-{FACTORY}-{m}")
    dash_duo.wait_for_contains_text("#factory-tile-oee", "63.4 %", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#factory-tile-alarms", "minor 1", timeout=WAIT_S)
    assert "GAS LEAK" not in text(driver, "#factory-tiles")  # another zone's alarm is not its own
    timeline = wait_until(
        driver,
        lambda d: (t := _traces(d, "factory-timeline")) and {"busy", "setup", "down"} <= {x["name"] for x in t} and t,
        "the machine state timeline",
    )
    assert sum(x["n"] for x in timeline) <= 2000
    wait_until(driver, lambda d: (t := _traces(d, "factory-trend")) and any(x["n"] > 900 for x in t), "the 1 h trend")

    # The range selector drives the timeline and the trend.
    dash_duo.find_element("#factory-range input[value='15m']").click()
    dash_duo.wait_for_contains_text("#factory-trend-status", "over 15 min", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#factory-timeline-status", "over 15 min", timeout=WAIT_S)
    dash_duo.find_element("#factory-range input[value='1h']").click()
    dash_duo.wait_for_contains_text("#factory-trend-status", "over 1 h", timeout=WAIT_S)
    wait_until(
        driver, lambda d: (t := _traces(d, "factory-trend")) and any(x["n"] > 900 for x in t), "the 1 h trend again"
    )

    # A forged id in the URL shows no factory, and nothing breaks.
    assert dash_duo.get_logs() == []
    driver.execute_script("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000

    dash_duo.driver.get(dash_duo.server_url + "/factory?id=%3Cimg%20src%3Dx%3E")
    dash_duo.wait_for_text_to_equal("#factory-name", "Factory not found or not available", timeout=WAIT_S)
    dash_duo.wait_for_contains_text("#factory-header", "Hanbit SMT plant 1")  # the factories one may open
    assert dash_duo.get_logs() == []
