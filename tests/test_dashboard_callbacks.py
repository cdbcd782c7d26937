"""Overview callbacks called directly, against a real SQLite historian filled with readings."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.io.json
import pytest

from dashboards.app import create_app
from dashboards.auth.session import LOCAL_USER
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.freshness import Freshness
from dashboards.pages.overview import ids
from dashboards.pages.overview.callbacks import (
    initial_selection,
    refresh_map,
    refresh_trend,
    restores_nothing,
    select,
)
from dashboards.pages.overview.layout import layout
from dashboards.sitemap import FACTORY_TRACE, FRESHNESS_COLOURS, HAZARD_TRACE, LOGISTICS_TRACE, TRUCK_TRACE
from dashboards.trend import DEFAULT_RANGE, MAX_POINTS
from tests.dash_json import callback_body, column, find_props
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms

# Frozen for the whole module (the app gets this clock), near real time so that the
# historian's retention keeps the readings.
NOW = now_ms()
TINY = load_complex("tiny")


def _ctx(url: str) -> DashboardContext:
    return DashboardContext(TINY, HistorianSource(url), clock=lambda: NOW)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    """alpha-f1: every sensor fresh, 24 h of 1 Hz power; hub: late; beta-f1: nothing (read-only)."""
    url = "sqlite://" + str(tmp_path_factory.mktemp("dash") / "history.db")
    with open_historian(url) as h:
        day = [Reading("alpha-smt-power", NOW - i * 1000, 5.0 + (i % 7)) for i in range(86_400)]
        h.store(day)
        h.store(
            [
                Reading(sid, NOW - 500, 1.0)
                for sid in TINY.sensors
                if TINY.sensors[sid].factory == "alpha-f1" and sid != "alpha-smt-power"
            ]
        )
        h.store([Reading("hub-occupancy", NOW - 10 * 60_000, 1.0)])
    return url


def _named(fig, name):  # type: ignore[no-untyped-def]
    return next(t for t in fig.data if t.name == name)


def _message(fig) -> str:  # type: ignore[no-untyped-def]
    return " ".join(a.text for a in fig.layout.annotations)


# ---- map ------------------------------------------------------------------------------


def test_map_colours_factories_by_what_the_historian_holds(history: str) -> None:
    fig, legend = refresh_map(_ctx(history), None)
    factories = _named(fig, FACTORY_TRACE)
    colours = dict(zip(factories.customdata, factories.marker.color, strict=True))
    assert colours == {
        "alpha-f1": FRESHNESS_COLOURS[Freshness.FRESH],
        "beta-f1": FRESHNESS_COLOURS[Freshness.NO_DATA],
    }
    assert list(_named(fig, LOGISTICS_TRACE).marker.color) == [FRESHNESS_COLOURS[Freshness.LATE]]
    text = str(legend)
    assert "fresh: 1" in text and "late: 1" in text and "no data: 1" in text


def test_map_turns_amber_when_data_stops(history: str) -> None:
    later = DashboardContext(TINY, HistorianSource(history), clock=lambda: NOW + 60_000)
    fig, _ = refresh_map(later, None)
    factories = _named(fig, FACTORY_TRACE)
    assert (
        dict(zip(factories.customdata, factories.marker.color, strict=True))["alpha-f1"]
        == (FRESHNESS_COLOURS[Freshness.LATE])
    )


def test_map_without_historian_is_grey_and_says_why(tmp_path: Path) -> None:
    ctx = _ctx("sqlite://" + str(tmp_path / "not-yet.db"))
    fig, legend = refresh_map(ctx, {"asset": "alpha-f1"})
    assert set(_named(fig, FACTORY_TRACE).marker.color) == {FRESHNESS_COLOURS[Freshness.NO_DATA]}
    assert "historian unavailable" in str(legend)


def test_map_draws_hazard_detectors_and_trucks_from_the_historian(tmp_path: Path) -> None:
    url = "sqlite://" + str(tmp_path / "history.db")
    with open_historian(url) as h:
        h.store([Reading("A-seis-1", NOW - 1_000, 0.02), Reading("truck-1-x", NOW - 500, 420.0),
                 Reading("truck-1-y", NOW - 500, 260.0)])
    fig, _ = refresh_map(_ctx(url), None)
    hazards = _named(fig, HAZARD_TRACE)
    colours = dict(zip(hazards.customdata, hazards.marker.color, strict=True))
    assert colours["A-seis-1"] == FRESHNESS_COLOURS[Freshness.FRESH]
    assert set(colours) == {s for s, i in TINY.sensors.items() if i.hazard}
    trucks = _named(fig, TRUCK_TRACE)
    assert (list(trucks.x), list(trucks.y), list(trucks.customdata)) == ([420.0], [260.0], ["truck-1-x"])


# ---- trend ----------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "every_s"), [("15m", 1), ("1h", 2), ("24h", 60)])
def test_trend_is_aggregated_by_the_historian_under_the_budget(
    history: str, key: str, every_s: int
) -> None:
    fig, status = refresh_trend(_ctx(history), {"sensor": "alpha-smt-power"}, key)
    mean = _named(fig, "mean")
    assert 0 < len(mean.y) <= MAX_POINTS + 1
    # 86,400 readings over 24 h: windows of 60 s hold 60 readings each
    counts = [c for _, _, c in mean.customdata]
    assert max(counts) == every_s
    assert fig.layout.yaxis.title.text == "power [kW]"
    assert "last 5 kW" in status and "(fresh)" in status


def test_trend_values_are_the_stored_ones(history: str) -> None:
    fig, _ = refresh_trend(_ctx(history), {"sensor": "alpha-smt-power"}, "15m")
    mean = _named(fig, "mean")
    expected = [5.0 + (i % 7) for i in range(899, -1, -1)]  # readings i seconds before NOW
    assert list(mean.y)[-900:] == expected


def test_trend_of_sensor_without_readings_says_no_data(history: str) -> None:
    fig, status = refresh_trend(_ctx(history), {"sensor": "beta-reactor-temp"}, "1h")
    assert len(fig.data) == 0
    assert "no data for beta-reactor-temp" in _message(fig)
    assert fig.layout.yaxis.title.text == "temperature [degC]"
    assert status.startswith("no reading yet")


@pytest.mark.parametrize(
    ("stored", "range_key", "message"),
    [
        ({"sensor": "no-such-sensor"}, "15m", "unknown sensor no-such-sensor"),
        ({"sensor": "x" * 10_000}, "15m", "unknown sensor " + "x" * 40 + "…"),
        ({"sensor": "<img src=x onerror=alert(1)>"}, "15m", "unknown sensor &lt;img"),
        ({"sensor": ["alpha-smt-power"]}, "15m", "unknown sensor list"),
        ({"sensor": {"$ne": None}}, "15m", "unknown sensor dict"),
        ({"sensor": "alpha-smt-power"}, "1y", "unknown range 1y"),
        ({"sensor": "alpha-smt-power"}, None, "unknown range NoneType"),
        ("not-a-dict", "15m", "pick a sensor"),
        (None, "15m", "pick a sensor"),
    ],
)
def test_trend_with_hostile_input_is_an_empty_figure_with_a_message(
    history: str, stored: object, range_key: object, message: str
) -> None:
    fig, status = refresh_trend(_ctx(history), stored, range_key)
    assert len(fig.data) == 0
    assert message in _message(fig)
    assert status == ""


def test_trend_when_historian_is_missing_says_so(tmp_path: Path) -> None:
    fig, _ = refresh_trend(
        _ctx("sqlite://" + str(tmp_path / "nope.db")), {"sensor": "alpha-smt-power"}, "15m"
    )
    assert len(fig.data) == 0
    assert "historian unavailable" in _message(fig)


# ---- selection -------------------------------------------------------------------------


def _values(options: list[dict[str, object]]) -> set[object]:
    return {o["value"] for o in options if not o.get("disabled")}


def test_first_load_selects_a_default_sensor_and_lists_all(history: str) -> None:
    sel, options, value = select(_ctx(history), None, None, None, None)
    assert value == sel["sensor"] and value in TINY.sensors
    assert sel["asset"] is None
    assert _values(options) == set(TINY.sensors)


def test_first_load_restores_the_stored_selection(history: str) -> None:
    stored = {"sensor": "beta-reactor-temp", "asset": "beta-f1"}
    sel, options, value = select(_ctx(history), None, None, None, stored)
    assert sel == stored and value == "beta-reactor-temp"
    assert "alpha-smt-power" not in _values(options)


def test_clicking_a_factory_selects_its_sensors(history: str) -> None:
    click = {"points": [{"curveNumber": 1, "pointNumber": 1, "customdata": "beta-f1"}]}
    sel, options, value = select(
        _ctx(history), ids.SITEMAP, click, "alpha-smt-power", {"sensor": "alpha-smt-power"}
    )
    assert sel["asset"] == "beta-f1"
    assert _values(options) == {
        "beta-f1-gas",
        "beta-reactor-power",
        "beta-reactor-temp",
        "beta-reactor-press",
    }
    assert value in _values(options) and value == sel["sensor"]


def test_clicking_the_logistics_centre_selects_its_sensor(history: str) -> None:
    click = {"points": [{"customdata": ["hub"]}]}
    sel, _, value = select(_ctx(history), ids.SITEMAP, click, None, None)
    assert sel == {"sensor": "hub-occupancy", "asset": "hub"} and value == "hub-occupancy"


def test_clicking_a_hazard_detector_or_a_truck_shows_its_trend(history: str) -> None:
    stored = {"sensor": "beta-reactor-temp", "asset": "beta-f1"}
    sel, options, value = select(_ctx(history), ids.SITEMAP, {"points": [{"customdata": "A-seis-1"}]}, None, stored)
    assert sel == {"sensor": "A-seis-1", "asset": None} and value == "A-seis-1"  # outside beta-f1: widened
    assert _values(options) == set(TINY.sensors)
    sel, _, value = select(_ctx(history), ids.SITEMAP, {"points": [{"customdata": "truck-1-x"}]}, None, None)
    assert sel["sensor"] == value == "truck-1-x"


@pytest.mark.parametrize(
    "click",
    [
        None,
        "x",
        {"points": "x"},
        {"points": []},
        {"points": [{"customdata": "nope"}]},
        {"points": [{"customdata": None}]},
        {"points": [7]},
    ],
)
def test_hostile_or_empty_clicks_change_nothing(history: str, click: object) -> None:
    stored = {"sensor": "alpha-smt-power", "asset": None}
    sel, options, value = select(_ctx(history), ids.SITEMAP, click, None, stored)
    assert sel == stored and value == "alpha-smt-power"
    assert _values(options) == set(TINY.sensors)


def test_show_all_clears_the_focus_but_keeps_the_sensor(history: str) -> None:
    sel, options, value = select(
        _ctx(history), ids.SHOW_ALL, None, None, {"sensor": "beta-reactor-temp", "asset": "beta-f1"}
    )
    assert sel == {"sensor": "beta-reactor-temp", "asset": None}
    assert _values(options) == set(TINY.sensors) and value == "beta-reactor-temp"


def test_picking_a_sensor_stores_it_and_forged_picks_are_ignored(history: str) -> None:
    ctx = _ctx(history)
    sel, _, value = select(ctx, ids.SENSOR, None, "alpha-aoi-vib", {"sensor": "alpha-smt-power"})
    assert sel["sensor"] == value == "alpha-aoi-vib"
    for forged in ("group:alpha-f1", "nope", 42, None, ["alpha-aoi-vib"]):
        sel, _, value = select(ctx, ids.SENSOR, None, forged, {"sensor": "alpha-aoi-vib"})
        assert sel["sensor"] == value == "alpha-aoi-vib"


def test_forged_store_content_is_cleaned(history: str) -> None:
    sel, _, value = select(
        _ctx(history), None, None, None, {"sensor": "../../etc", "asset": {"x": 1}}
    )
    assert sel["asset"] is None and sel["sensor"] in TINY.sensors and value == sel["sensor"]


# ---- first view ------------------------------------------------------------------------


def _tree(component: object) -> object:
    """A layout as the browser receives it (JSON, typed arrays as base64)."""
    return json.loads(plotly.io.json.to_json_plotly(component))


def _props(tree: object, component_id: str) -> dict:
    props = find_props(tree, "id", component_id)
    assert props is not None, component_id
    return props


def _trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t.get("name") == name)


def test_first_view_comes_filled_for_the_default_selection(history: str) -> None:
    """A first load needs no callback: the layout holds the map, tiles and trend as they are now."""
    ctx = _ctx(history)
    tree = _tree(layout(ctx, LOCAL_USER))
    sel = initial_selection(ctx)
    assert sel == {"sensor": "alpha-smt-power", "asset": None}
    assert sel == select(ctx, None, None, None, None)[0]  # what the selection callback makes of nothing
    assert _props(tree, ids.SELECTION)["data"] == sel
    assert _props(tree, ids.SENSOR)["value"] == "alpha-smt-power"
    # The picker starts with the selected sensor alone; its full list follows (test below).
    assert [o["value"] for o in _props(tree, ids.SENSOR)["options"]] == ["alpha-smt-power"]
    assert _props(tree, ids.PICKER_FILL)["max_intervals"] == 1
    assert _props(tree, ids.FOCUS)["children"] == "All sensors"
    # The map is coloured by freshness, as the refresh colours it.
    factories = _trace(_props(tree, ids.SITEMAP)["figure"], FACTORY_TRACE)
    colours = dict(zip(column(factories["customdata"]), column(factories["marker"]["color"]), strict=True))
    assert colours == {
        "alpha-f1": FRESHNESS_COLOURS[Freshness.FRESH],
        "beta-f1": FRESHNESS_COLOURS[Freshness.NO_DATA],
    }
    assert "fresh: 1" in str(_props(tree, ids.MAP_LEGEND)["children"])
    assert "loading" not in str(_props(tree, ids.TILES)["children"])
    # The trend is the default sensor's over the default range, with its status line.
    mean = column(_trace(_props(tree, ids.TREND)["figure"], "mean")["y"])
    assert len(mean) > 0 and mean == list(_named(refresh_trend(ctx, sel, DEFAULT_RANGE)[0], "mean").y)
    status = _props(tree, ids.TREND_STATUS)["children"]
    assert status.startswith("last 5 kW at") and "(fresh)" in status


def test_validation_layout_reads_nothing(tmp_path: Path) -> None:
    """Without a user (Dash's own checks at start-up) the layout has placeholders only: the
    historian is not asked (a missing one would make the trend say "historian unavailable")."""
    ctx = DashboardContext(TINY, HistorianSource("sqlite://" + str(tmp_path / "missing.db")), clock=lambda: NOW)
    tree = _tree(layout(ctx, None))
    assert "loading" in str(_props(tree, ids.TREND)["figure"]["layout"]["annotations"])
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize(
    ("stored", "range_key", "nothing"),
    [
        ({"sensor": "alpha-smt-power", "asset": None}, DEFAULT_RANGE, True),
        ({"sensor": "alpha-smt-power", "asset": None}, "24h", False),  # a range restored by persistence
        ({"sensor": "beta-reactor-temp", "asset": "beta-f1"}, DEFAULT_RANGE, False),  # a stored selection
        ({"sensor": "alpha-smt-power", "asset": "alpha-f1"}, DEFAULT_RANGE, False),
        (None, DEFAULT_RANGE, False),
        ({"sensor": ["x"], "asset": 3}, DEFAULT_RANGE, False),  # forged: cleaned and applied, never trusted
        ({"sensor": "alpha-smt-power", "asset": None}, None, False),
    ],
)
def test_first_load_calls_back_only_to_restore_something(
    history: str, stored: object, range_key: object, nothing: bool
) -> None:
    assert restores_nothing(_ctx(history), stored, range_key) is nothing


def test_picker_list_follows_the_first_load_for_the_stored_focus(history: str) -> None:
    """The one-shot fill sends every sensor, or the focused asset's; a forged store gets all."""
    app = create_app(TINY, history, clock=lambda: NOW)
    client = app.server.test_client()
    dep = next(d for d in client.get("/_dash-dependencies").json if d["inputs"][0]["id"] == ids.PICKER_FILL)

    def fill(stored: object) -> set[object]:
        r = client.post("/_dash-update-component", json=callback_body(dep, {ids.PICKER_FILL: 1, ids.SELECTION: stored}))
        assert r.status_code == 200
        (out,) = r.json["response"].values()
        return _values(out["options"])

    assert fill({"sensor": "alpha-smt-power", "asset": None}) == set(TINY.sensors)
    assert fill({"sensor": "beta-reactor-temp", "asset": "beta-f1"}) == {
        "beta-f1-gas",
        "beta-reactor-power",
        "beta-reactor-temp",
        "beta-reactor-press",
    }
    assert fill({"sensor": "x", "asset": "../../etc"}) == set(TINY.sensors)
    assert fill("not a selection") == set(TINY.sensors)
