"""The overview page in a real headless Chromium (Debian chromium + chromedriver via conftest)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from dashboards.app import create_app
from dashboards.freshness import Freshness
from dashboards.site import SiteIndex
from dashboards.sitemap import FRESHNESS_COLOURS
from tests.browser import click_point, grown_margins, text, texts, wait_until
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard-overview.png"
WAIT_S = 20  # upper bound for a condition to become true, not a timing assertion


def _graph_js(graph_id: str) -> str:
    return f"document.querySelector('#{graph_id} .js-plotly-plot')"


def _trace(driver, graph_id: str, name: str):  # type: ignore[no-untyped-def]
    """A trace of a rendered Plotly graph as the browser holds it (None until drawn)."""
    return driver.execute_script(
        f"const gd = {_graph_js(graph_id)};"
        "if (!gd || !gd.data || !gd._fullData) return null;"
        f"const t = gd.data.find(t => t.name === {name!r});"
        # numpy columns arrive as base64 typed arrays ({dtype, bdata}); plotly decodes them
        # into _fullData, which holds what is drawn
        f"const full = gd._fullData.find(t => t.name === {name!r});"
        "const y = t && t.y && t.y.bdata ? Array.from(full.y) : t && t.y;"
        "return t ? {customdata: t.customdata, color: t.marker && t.marker.color,"
        " y: y, text: t.text} : null;"
    )



def _fill(
    url: str,
    complex_,
    now: int,
    trend_sensor: str,
    fresh_factories: set[str],  # type: ignore[no-untyped-def]
    late: set[str],
) -> None:
    with open_historian(url) as h:
        h.store(
            [
                Reading(
                    trend_sensor, now - i * 1000, round(6 + 2 * math.sin(i / 60) + (i % 5) * 0.1, 3)
                )
                for i in range(3600)
            ]
        )
        rows = []
        for sid, info in complex_.sensors.items():
            owner = info.factory or info.device
            if owner in fresh_factories and sid != trend_sensor:
                rows.append(Reading(sid, now - 200, info.sensor.range[0]))
            elif owner in late:
                rows.append(Reading(sid, now - 3_600_000, info.sensor.range[0]))
        h.store(rows)


def test_overview_shows_every_factory_and_a_live_trend(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tiny = load_complex("tiny")
    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    _fill(url, tiny, now, "alpha-aoi-power", fresh_factories={"alpha-f1"}, late={"hub"})
    app = create_app(tiny, url, clock=lambda: now)  # frozen clock: colours cannot drift mid-test
    dash_duo.start_server(app)
    driver = dash_duo.driver

    # Every factory of the config is drawn and named on the map.
    dash_duo.wait_for_element("#overview-sitemap g.textpoint")
    names = set(texts(driver, "#overview-sitemap g.textpoint text"))
    assert {f.name for f in tiny.factories.values()} <= names
    factory_points = dash_duo.find_elements(
        "#overview-sitemap .scatterlayer .trace .points path.point"
    )
    detectors = sum(1 for info in tiny.sensors.values() if info.hazard)
    # + the logistics centre and the hazard detectors (no truck has reported a position)
    assert len(factory_points) == len(tiny.factories) + 1 + detectors

    # Freshness from the historian colours the markers.
    green, grey = FRESHNESS_COLOURS[Freshness.FRESH], FRESHNESS_COLOURS[Freshness.NO_DATA]
    factories = wait_until(
        driver,
        lambda d: (
            (t := _trace(d, "overview-sitemap", "factories")) and green in (t["color"] or []) and t
        ),
        "the freshness colours",
    )
    assert dict(zip(factories["customdata"], factories["color"], strict=True)) == {
        "alpha-f1": green,
        "beta-f1": grey,
    }
    dash_duo.wait_for_contains_text("#overview-map-legend", "fresh: 1")

    # Pick a sensor in the grouped dropdown: its trend shows the stored data with units.
    dash_duo.wait_for_element("#overview-sensor")
    _pick_sensor(dash_duo, "alpha-aoi-power · power [kW]", "aoi-power")
    mean = wait_until(
        driver,
        lambda d: (t := _trace(d, "overview-trend", "mean")) and len(t["y"]) >= 900 and t,
        "the trend of alpha-aoi-power",
    )
    assert max(mean["y"]) <= 8.5 and min(mean["y"]) >= 3.9  # the stored sine, not anything else
    dash_duo.wait_for_text_to_equal("#overview-trend .ytitle", "power [kW]")
    dash_duo.wait_for_contains_text("#overview-trend-status", "(fresh)")
    assert grown_margins(driver, "#overview-trend") == {}  # drawn once: its margins hold the labels

    # A wider range is aggregated server-side: fewer, fuller points.
    dash_duo.find_element("#overview-range input[value='1h']").click()
    wait_until(
        driver,
        lambda d: (t := _trace(d, "overview-trend", "mean")) and 0 < len(t["y"]) <= 1801,
        "the 1 h trend in 2 s windows",
    )
    dash_duo.wait_for_contains_text("#overview-trend-status", "(2 s windows) over 1 h")

    # Clicking a factory on the map narrows the picker to its sensors and selects one.
    wait_until(driver, lambda d: click_point(d, "#overview-sitemap", "beta-f1"), "a click on beta-f1")
    dash_duo.wait_for_text_to_equal("#overview-focus", "Sensors of Beta resin plant")
    wait_until(driver, lambda d: "beta-" in text(d, "#overview-sensor"), "a beta-f1 sensor in the picker")
    wait_until(driver, lambda d: "no data for beta" in text(d, "#overview-trend"), "the no-data message")
    picked = text(driver, "#overview-sensor")
    assert dash_duo.get_logs() == []

    # A reload keeps the selection and the range (the page first comes with the default
    # sensor filled in; what the browser stored is put back on top of it).
    driver.refresh()
    dash_duo.wait_for_text_to_equal("#overview-focus", "Sensors of Beta resin plant")
    wait_until(driver, lambda d: text(d, "#overview-sensor") == picked, "the picked sensor after a reload")
    wait_until(driver, lambda d: "no data for beta" in text(d, "#overview-trend"), "its trend after a reload")
    assert driver.find_element("css selector", "#overview-range input[value='1h']").is_selected()
    assert dash_duo.get_logs() == []


def _pick_sensor(dash_duo, label: str, search: str) -> None:  # type: ignore[no-untyped-def]
    """Open the sensor picker, search (long lists render lazily) and click the option."""
    dash_duo.find_element("#overview-sensor").click()
    dash_duo.wait_for_element(".dash-dropdown-search").send_keys(search)
    wait_until(
        dash_duo.driver,
        lambda d: any(
            o.text == label for o in d.find_elements("css selector", ".dash-dropdown-option")
        ),
        f"the option {label!r}",
    )
    next(o for o in dash_duo.find_elements(".dash-dropdown-option") if o.text == label).click()
    dash_duo.wait_for_contains_text("#overview-sensor", label)
    if dash_duo.find_elements(
        ".dash-dropdown-search"
    ):  # re-picking the current value keeps it open
        dash_duo.find_element(".dash-dropdown-search").send_keys(Keys.ESCAPE)
    dash_duo.wait_for_no_elements(".dash-dropdown-options")


def test_demo_complex_overview_screenshot(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The shipped demo complex with mixed freshness; the screenshot goes into the docs."""
    demo = load_complex("demo")
    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    factories = list(demo.factories)
    trend_sensor = next(
        sid
        for sid, i in demo.sensors.items()
        if i.sensor.kind == "power" and i.factory == factories[0]
    )
    _fill(
        url,
        demo,
        now,
        trend_sensor,
        fresh_factories=set(factories[:11]),
        late=set(factories[11:14]),
    )
    app = create_app(demo, url, clock=lambda: now)
    dash_duo.start_server(app)
    driver = dash_duo.driver

    green = FRESHNESS_COLOURS[Freshness.FRESH]
    shown = wait_until(
        driver,
        lambda d: (
            (t := _trace(d, "overview-sitemap", "factories")) and green in (t["color"] or []) and t
        ),
        "the demo map with freshness colours",
    )
    assert sorted(shown["customdata"]) == sorted(factories)
    assert shown["color"].count(green) == 11
    assert shown["color"].count(FRESHNESS_COLOURS[Freshness.LATE]) == 3
    # Click the first factory: its sensors fill the picker, the trend shows its power.
    wait_until(driver, lambda d: click_point(d, "#overview-sitemap", factories[0]), "a click on a factory")
    dash_duo.wait_for_text_to_equal(
        "#overview-focus", f"Sensors of {demo.factories[factories[0]].name}"
    )
    dash_duo.wait_for_contains_text(
        "#overview-sensor", SiteIndex(demo).sensor_label(trend_sensor)[:30]
    )
    dash_duo.find_element("#overview-range input[value='1h']").click()
    wait_until(
        driver,
        lambda d: (t := _trace(d, "overview-trend", "mean")) and len(t["y"]) > 1000,
        "the 1 h demo trend",
    )
    dash_duo.wait_for_contains_text("#overview-trend-status", "over 1 h")
    assert dash_duo.get_logs() == []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
