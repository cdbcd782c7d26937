"""Overview KPI tiles and the zone highlight: pure values from given data, then the callbacks
against a real SQLite historian and the live twin's retained alarm lists on a real Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.publish as publish
import pytest

from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.kpi_tiles import (
    KPI_LIVE_MS,
    TileState,
    active_alarm_counts,
    alarms_tile,
    complex_tiles,
    energy_tile,
    kpi_series,
    oee_tile,
    stale_sensor_counts,
    stale_tile,
    throughput_tile,
)
from dashboards.pages.overview import ids
from dashboards.pages.overview.callbacks import factory_link, refresh_map, refresh_tiles, select
from dashboards.pages.overview.tiles import tile_components
from dashboards.site import SiteIndex
from dashboards.sitemap import ALARM_ZONE_COLOURS, ZoneAlarm, site_map_figure, zone_alarms
from twin.alarms.commands import open_topic
from twin.alarms.records import Alarm, AlarmState
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.live.twin import open_alarms_doc
from twin.timespec import now_ms

NOW = now_ms()
TINY = load_complex("tiny")
SITE = SiteIndex(TINY)


def _r(sid: str, value: float, age_ms: int = 1_000) -> Reading:
    return Reading(sid, NOW - age_ms, value)


def _kpis(*readings: Reading) -> dict[str, Reading]:
    return {r.sensor_id: r for r in readings}


def _alarm(aid: str, severity: str, zones: tuple[str, ...], state: str = "active_unack", **kw: Any) -> dict[str, Any]:
    return {"id": aid, "severity": severity, "state": state, "zones": list(zones), "type": "smoke", **kw}


# ---- tile values (pure) ------------------------------------------------------------------


def test_oee_tile_shows_the_written_shift_oee_and_its_factors() -> None:
    kpis = _kpis(
        _r("kpi.shift.complex.oee", 0.6123),
        _r("kpi.shift.complex.availability", 0.83),
        _r("kpi.shift.complex.performance", 0.77),
        _r("kpi.shift.complex.quality", 0.958),
    )
    t = oee_tile(kpis, NOW, clock=lambda ms: "12:00:00")
    assert t.value == "61.2 %" and t.state is TileState.OK
    assert "A 83.0 % · P 77.0 % · Q 95.8 %" in t.detail and "as of 12:00:00" in t.detail


def test_kpi_tiles_say_no_data_when_the_live_twin_wrote_nothing() -> None:
    for tile in (oee_tile, throughput_tile, energy_tile):
        t = tile({}, NOW)
        assert t.value == "no data" and t.state is TileState.NO_DATA and "twin live" in t.detail


def test_kpi_tile_written_long_ago_is_marked_not_live_with_its_time() -> None:
    old = _r("kpi.shift.complex.throughput_uph", 141.0, age_ms=KPI_LIVE_MS + 1)
    t = throughput_tile(_kpis(old, _r("kpi.shift.complex.good", 1234, KPI_LIVE_MS + 1)), NOW, clock=lambda ms: "T")
    assert t.value == "141.0 units/h" and t.state is TileState.NOT_LIVE
    assert "not live: last written T" in t.detail and "1,234 good units" in t.detail


def test_energy_tile_is_today_with_energy_per_unit_of_the_shift() -> None:
    kpis = _kpis(_r("kpi.day.complex.energy_kwh", 1520.44), _r("kpi.shift.complex.energy_per_good_unit_kwh", 0.0612))
    t = energy_tile(kpis, NOW)
    assert t.value == "1,520.4 kWh" and "0.0612 kWh per good unit (shift)" in t.detail


def test_non_finite_kpi_is_no_data_not_nan() -> None:
    assert oee_tile(_kpis(_r("kpi.shift.complex.oee", float("nan"))), NOW).state is TileState.NO_DATA


def test_kpi_series_ids_follow_the_live_twin() -> None:
    assert kpi_series("shift", "factory", "oee", "alpha-f1") == "kpi.shift.factory.alpha-f1.oee"
    assert kpi_series("day", "complex", "energy_kwh") == "kpi.day.complex.energy_kwh"


def test_active_alarms_counted_by_severity_cleared_ones_apart() -> None:
    alarms = [
        _alarm("1", "critical", ("A",)),
        _alarm("2", "critical", ("A",), state="active_ack"),
        _alarm("3", "minor", ("B",)),
        _alarm("4", "major", ("B",), state="cleared_unack"),
        _alarm("5", "bogus", ()),
        "not an alarm",
        {"state": ["active_unack"]},
    ]
    n = active_alarm_counts(alarms)  # type: ignore[arg-type]
    assert (n["critical"], n["major"], n["minor"], n["warning"], n["other"]) == (2, 0, 1, 0, 1)
    assert n["cleared"] == 1 and n["unacknowledged"] == 3
    t = alarms_tile(alarms)
    assert t.value == "4" and t.state is TileState.ALARM
    assert ("critical", "critical 2") in t.chips and ("other", "other 1") in t.chips
    assert "1 cleared, awaiting acknowledgement" in t.detail


def test_alarm_tile_states_and_unavailable() -> None:
    assert alarms_tile([]).state is TileState.OK and alarms_tile([]).value == "0"
    assert alarms_tile([_alarm("1", "warning", ())]).state is TileState.WARN
    t = alarms_tile(None, "alarms unavailable: no broker configured")
    assert t.value == "no data" and "no broker" in t.detail


def test_stale_counts_use_the_map_freshness_rule() -> None:
    sensors = [i.sensor for i in TINY.sensors.values() if i.factory == "alpha-f1"]
    power = next(s for s in sensors if s.id == "alpha-smt-power")  # 1 s period: late after 3 s
    latest = {s.id: _r(s.id, 1.0, age_ms=500) for s in sensors}
    latest[power.id] = _r(power.id, 1.0, age_ms=3_001)
    del latest["alpha-aoi-vib"]
    assert stale_sensor_counts(sensors, latest, NOW) == (1, 1, len(sensors))
    t = stale_tile(sensors, latest, NOW)
    assert t.value == f"2 / {len(sensors)}" and t.state is TileState.WARN and "1 never reported" in t.detail
    assert stale_tile(sensors, {}, NOW).state is TileState.NO_DATA
    assert stale_tile(sensors, None, NOW, "historian unavailable").detail == "historian unavailable"


def test_complex_tiles_without_historian_are_all_honest() -> None:
    tiles = complex_tiles(kpis=None, alarms=None, sensors=[], latest=None, now_ms=NOW, alarms_problem="no broker")
    assert [t.key for t in tiles] == ["oee", "throughput", "energy", "alarms", "stale"]
    assert all(t.value == "no data" for t in tiles)


def test_tile_components_write_the_state_in_words() -> None:
    html = str(tile_components([alarms_tile([_alarm("1", "critical", ("A",))]), oee_tile({}, NOW)]))
    assert "overview-tile-alarms" in html and "ALARM" in html and "critical 1" in html
    assert "NO DATA" in html and "tile-no-data" in html


# ---- zone highlight (pure) ---------------------------------------------------------------


def test_zone_alarms_take_the_worst_active_severity_and_disaster_types() -> None:
    alarms = [
        _alarm("1", "minor", ("A",)),
        _alarm("2", "critical", ("A", "B"), type="fire", disaster=True),
        _alarm("3", "major", ("B",), state="cleared_unack"),  # cleared: no longer marks the zone
        _alarm("4", "warning", ("nowhere",)),  # not a zone of the config
        {"state": "active_unack", "zones": "A", "severity": "major"},  # zones not a list: ignored
        {"state": "active_unack", "zones": [["A"]], "severity": "critical"},
        42,
    ]
    z = zone_alarms(alarms, ["A", "B"])
    assert set(z) == {"A", "B"}
    assert z["A"] == ZoneAlarm("A", "critical", 2, ("fire",)) and z["A"].critical
    assert z["A"].label() == "CRITICAL · FIRE · 2 alarms"
    assert z["B"].count == 1
    assert zone_alarms([_alarm("1", "warning", ("B",))])["B"].label() == "WARNING · 1 alarm"


def test_alarmed_zone_is_outlined_filled_and_labelled_on_the_map() -> None:
    fig = site_map_figure(SITE, alarmed={"A": ZoneAlarm("A", "critical", 1, ("gas_leak",))})
    shapes = {s.name: s for s in fig.layout.shapes}
    hl = shapes["alarm zone A"]
    a = TINY.zones[0].area
    assert (hl.x0, hl.y0, hl.x1, hl.y1) == (a.x, a.y, a.x + a.w, a.y + a.h)
    assert hl.line.color == ALARM_ZONE_COLOURS["critical"] and hl.line.width >= 4 and hl.line.dash == "solid"
    assert "rgba(180, 35, 24" in hl.fillcolor
    labels = [an.text for an in fig.layout.annotations if an.name == "alarm zone A"]
    assert labels == ["<b>⚠ CRITICAL · GAS LEAK · 1 alarm</b>"]
    assert "alarm zone B" not in shapes
    assert "zone A" in shapes  # the zone's own rectangle stays


def test_minor_alarm_zone_is_dashed_so_it_differs_without_colour() -> None:
    fig = site_map_figure(SITE, alarmed={"B": ZoneAlarm("B", "minor", 3)})
    hl = next(s for s in fig.layout.shapes if s.name == "alarm zone B")
    assert hl.line.dash == "dash"


def test_map_without_alarms_has_no_highlight() -> None:
    fig = site_map_figure(SITE)
    assert not [s for s in fig.layout.shapes if s.name.startswith("alarm zone")]


# ---- callbacks: real historian, real broker ---------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    """alpha-f1 fresh, the complex's KPIs written 2 s ago by "the live twin"."""
    url = "sqlite://" + str(tmp_path_factory.mktemp("kpis") / "history.db")
    with open_historian(url) as h:
        h.store([Reading(sid, NOW - 500, 1.0) for sid, i in TINY.sensors.items() if i.factory == "alpha-f1"])
        h.store(
            [
                Reading("kpi.shift.complex.oee", NOW - 2_000, 0.58),
                Reading("kpi.shift.complex.availability", NOW - 2_000, 0.8),
                Reading("kpi.shift.complex.performance", NOW - 2_000, 0.75),
                Reading("kpi.shift.complex.quality", NOW - 2_000, 0.9667),
                Reading("kpi.shift.complex.throughput_uph", NOW - 2_000, 230.5),
                Reading("kpi.day.complex.energy_kwh", NOW - 2_000, 812.0),
            ]
        )
    return url


def _ctx(url: str, broker: str | None = None) -> DashboardContext:
    return DashboardContext(TINY, HistorianSource(url), broker_url=broker, clock=lambda: NOW)


def _record(aid: str, severity: str, zones: tuple[str, ...], **kw: Any) -> Alarm:
    base: dict[str, Any] = dict(
        id=aid, type="smoke", source="alpha-f1-smoke", source_kind="sensor", severity=severity,
        state=AlarmState.ACTIVE_UNACK, owner="alpha-elec", zones=zones, tenant="alpha-elec", factory="alpha-f1",
        machine=None, disaster=False, message="smoke", value=1.0, raised_ms=NOW - 10_000, active_ms=NOW - 10_000,
    )
    base.update(kw)
    return Alarm(**base)


def _publish_open(broker_port: int, owner: str, alarms: list[Alarm]) -> None:
    doc = open_alarms_doc(owner, alarms, NOW)
    publish.single(open_topic(owner), orjson.dumps(doc), qos=1, retain=True, hostname="127.0.0.1", port=broker_port)


def _until(fn, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15  # bound on waiting for retained messages, not a timing assertion
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_tiles_from_the_historian_without_broker(history: str) -> None:
    tiles = {t.key: t for t in refresh_tiles(_ctx(history))}
    assert tiles["oee"].value == "58.0 %" and tiles["oee"].state is TileState.OK
    assert tiles["throughput"].value == "230.5 units/h"
    assert tiles["energy"].value == "812.0 kWh"
    assert tiles["alarms"].value == "no data" and "no broker configured" in tiles["alarms"].detail
    n_alpha = sum(1 for i in TINY.sensors.values() if i.factory == "alpha-f1")
    assert tiles["stale"].value == f"{len(TINY.sensors) - n_alpha} / {len(TINY.sensors)}"


def test_tiles_and_map_before_anything_was_written(tmp_path: Path) -> None:
    ctx = _ctx("sqlite://" + str(tmp_path / "not-yet.db"))
    tiles = refresh_tiles(ctx)
    assert all(t.value == "no data" for t in tiles)
    assert "historian unavailable" in tiles[0].detail
    fig, legend = refresh_map(ctx, None)
    assert "historian unavailable" in str(legend)


def test_alarms_from_the_broker_count_and_highlight_their_zone(history: str, mosquitto) -> None:  # type: ignore[no-untyped-def]
    _publish_open(
        mosquitto.port,
        "alpha-elec",
        [_record("alm-1", "critical", ("A",)), _record("alm-2", "minor", ("A",), state=AlarmState.ACTIVE_ACK)],
    )
    _publish_open(
        mosquitto.port,
        "park",
        [_record("alm-3", "critical", ("B",), type="flood", disaster=True, owner="park", tenant=None, factory=None)],
    )
    ctx = _ctx(history, mosquitto.url)
    try:
        tiles = _until(
            lambda: (t := {x.key: x for x in refresh_tiles(ctx)}) and t["alarms"].value == "3" and t,
            "three open alarms from the retained lists",
        )
        assert tiles["alarms"].state is TileState.ALARM
        assert ("critical", "critical 2") in tiles["alarms"].chips and "2 unacknowledged" in tiles["alarms"].detail
        fig, legend = refresh_map(ctx, None)
        labels = {an.name: an.text for an in fig.layout.annotations if an.name.startswith("alarm zone")}
        assert labels == {
            "alarm zone A": "<b>⚠ CRITICAL · 2 alarms</b>",
            "alarm zone B": "<b>⚠ CRITICAL · FLOOD · 1 alarm</b>",
        }
        assert "zones with active alarms: A, B" in str(legend)
    finally:
        ctx.alarms.close()


def test_garbage_on_the_alarm_topics_is_ignored(history: str, mosquitto) -> None:  # type: ignore[no-untyped-def]
    port = mosquitto.port
    publish.single(open_topic("park"), b"\xff not json", qos=1, retain=True, hostname="127.0.0.1", port=port)
    publish.single(open_topic("evil"), orjson.dumps({"owner": "evil", "alarms": [1, "x", {"zones": "A"}]}),
                   qos=1, retain=True, hostname="127.0.0.1", port=port)
    _publish_open(port, "alpha-elec", [_record("alm-9", "major", ("B",))])
    ctx = _ctx(history, mosquitto.url)
    try:
        tiles = _until(
            lambda: (t := {x.key: x for x in refresh_tiles(ctx)}) and t["alarms"].value == "1" and t,
            "the one valid alarm",
        )
        assert tiles["alarms"].state is TileState.WARN
        fig, _ = refresh_map(ctx, None)
        assert [s.name for s in fig.layout.shapes if s.name.startswith("alarm")] == ["alarm zone B"]
    finally:
        ctx.alarms.close()


def test_broker_down_tiles_say_alarms_unavailable(history: str) -> None:
    from tests.fixtures.servers import free_port

    ctx = _ctx(history, f"mqtt://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        tiles = {t.key: t for t in refresh_tiles(ctx)}
        assert tiles["alarms"].value == "no data" and "unavailable" in tiles["alarms"].detail
        assert tiles["oee"].value == "58.0 %"  # the rest still works
    finally:
        ctx.alarms.close()


def test_clicked_factory_offers_a_link_to_its_factory_view(history: str) -> None:
    ctx = _ctx(history)
    sel, _, _ = select(ctx, ids.SITEMAP, {"points": [{"customdata": "beta-f1"}]}, None, None)
    link = factory_link(ctx, sel, lambda p: "/prefix" + p)
    assert link.href == "/prefix/factory?id=beta-f1" and "Beta resin plant" in link.children
    hub, _, _ = select(ctx, ids.SITEMAP, {"points": [{"customdata": "hub"}]}, None, None)
    assert factory_link(ctx, hub, lambda p: p) is None  # the logistics centre has no factory view
    forged, _, _ = select(ctx, ids.SITEMAP, {"points": [{"customdata": "<script>"}]}, None, {"asset": "x"})
    assert factory_link(ctx, forged, lambda p: p) is None
    assert factory_link(ctx, {"asset": ["beta-f1"]}, lambda p: p) is None  # type: ignore[dict-item]



@pytest.mark.parametrize(
    "stored",
    [None, [], "x" * 10_000, {"asset": 5, "sensor": ["a"]}, {"asset": "<script>", "sensor": None}, {"asset": "hub"}],
)
def test_forged_selection_still_gives_map_and_tiles(history: str, stored: object) -> None:
    ctx = _ctx(history)
    fig, legend = refresh_map(ctx, stored)
    assert any(t.name == "factories" for t in fig.data) and "updated" in str(legend)
    assert [t.key for t in refresh_tiles(ctx)] == ["oee", "throughput", "energy", "alarms", "stale"]


def test_forged_callback_body_over_http_is_answered_not_crashed(history: str) -> None:
    import json

    from dashboards.app import create_app

    app = create_app(TINY, history, clock=lambda: NOW)
    client = app.server.test_client()
    deps = json.loads(client.get("/_dash-dependencies").data)
    dep = next(d for d in deps if "overview-tiles.children" in d["output"])
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in dep["output"].strip(".").split("...")]
    for forged in ({"asset": {"$ne": 1}}, "' OR 1=1 --", 10**30, [None] * 50):
        values = {"overview-tick": "NaN", "overview-selection": forged}
        body = {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": [{**i, "value": values.get(i["id"])} for i in dep["inputs"]],
            "state": [],
            "changedPropIds": ["overview-selection.data"],
        }
        r = client.post("/_dash-update-component", json=body)
        assert r.status_code == 200, r.data[:200]
        assert b"overview-tile-oee" in r.data and b"58.0 %" in r.data
