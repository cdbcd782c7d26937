"""The schematic site map figure and the site index behind it: pure, from the configs."""

from __future__ import annotations

from pathlib import Path

import pytest

import twin
from dashboards.freshness import AssetFreshness, Freshness
from dashboards.pickers import sensor_options
from dashboards.site import GROUP_PREFIX, AssetKind, SiteIndex
from dashboards.sitemap import (
    ALARM_ZONE_COLOURS,
    FACTORY_TRACE,
    FRESHNESS_COLOURS,
    HAZARD_TRACE,
    LOGISTICS_TRACE,
    ROADS_TRACE,
    SELECTED_TRACE,
    TRUCK_TRACE,
    hazard_marks,
    mark_sensor_ids,
    sensor_alarms,
    site_map_figure,
    truck_marks,
)
from twin.codec import Reading
from twin.config import load_complex


@pytest.fixture(scope="module", params=["tiny", "demo"])
def site(request: pytest.FixtureRequest) -> SiteIndex:
    return SiteIndex(load_complex(request.param))


def _trace(fig, name):  # type: ignore[no-untyped-def]
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, f"expected one trace named {name!r}, got {len(matches)}"
    return matches[0]


def test_one_marker_per_factory_at_its_position(site: SiteIndex) -> None:
    fig = site_map_figure(site)
    factories = _trace(fig, FACTORY_TRACE)
    c = site.complex
    assert list(factories.customdata) == list(c.factories)
    assert len(factories.x) == len(c.factories)
    for fid, x, y in zip(factories.customdata, factories.x, factories.y, strict=True):
        assert (x, y) == (c.factories[fid].position.x, c.factories[fid].position.y)
    assert list(factories.text) == [f.name for f in c.factories.values()]


def test_every_zone_is_drawn_as_its_rectangle(site: SiteIndex) -> None:
    fig = site_map_figure(site)
    rects = {s.name: s for s in fig.layout.shapes if s.type == "rect"}
    for z in site.complex.zones:
        r = rects[f"zone {z.id}"]
        assert (r.x0, r.y0, r.x1, r.y1) == (
            z.area.x,
            z.area.y,
            z.area.x + z.area.w,
            z.area.y + z.area.h,
        )
    labels = " ".join(a.text for a in fig.layout.annotations)
    assert all(z.name in labels for z in site.complex.zones)


def test_logistics_centre_and_roads_are_drawn(site: SiteIndex) -> None:
    fig = site_map_figure(site)
    logistics = site.complex.logistics
    assert logistics is not None
    hub = _trace(fig, LOGISTICS_TRACE)
    assert list(hub.customdata) == [logistics.centre.id]
    roads = _trace(fig, ROADS_TRACE)
    points = [(x, y) for x, y in zip(roads.x, roads.y, strict=True) if x is not None]
    assert points == [(p.x, p.y) for road in logistics.roads for p in road]
    assert list(roads.x).count(None) == len(logistics.roads)  # separate lines, not one zig-zag


def test_axes_are_the_site_extent_with_equal_scale(site: SiteIndex) -> None:
    fig = site_map_figure(site)
    assert tuple(fig.layout.xaxis.range) == (0, site.complex.site.width_m)
    assert tuple(fig.layout.yaxis.range) == (0, site.complex.site.height_m)
    assert fig.layout.yaxis.scaleanchor == "x"


def test_factories_are_coloured_by_freshness() -> None:
    site = SiteIndex(load_complex("tiny"))
    fresh = {
        "alpha-f1": AssetFreshness(Freshness.FRESH, 3, 0, 0, 1),
        "beta-f1": AssetFreshness(Freshness.LATE, 1, 1, 0, 1),
        "hub": AssetFreshness(Freshness.NO_DATA, 0, 0, 1, None),
    }
    fig = site_map_figure(site, fresh)
    factories = _trace(fig, FACTORY_TRACE)
    colours = dict(zip(factories.customdata, factories.marker.color, strict=True))
    assert colours == {
        "alpha-f1": FRESHNESS_COLOURS[Freshness.FRESH],
        "beta-f1": FRESHNESS_COLOURS[Freshness.LATE],
    }
    assert list(_trace(fig, LOGISTICS_TRACE).marker.color) == [FRESHNESS_COLOURS[Freshness.NO_DATA]]
    hover = dict(zip(factories.customdata, factories.hovertext, strict=True))
    assert "data: late (1/2 sensors fresh, 1 late)" in hover["beta-f1"]  # not colour alone


def test_unknown_freshness_is_grey() -> None:
    site = SiteIndex(load_complex("tiny"))
    factories = _trace(site_map_figure(site), FACTORY_TRACE)
    assert set(factories.marker.color) == {FRESHNESS_COLOURS[Freshness.NO_DATA]}


def test_selected_asset_is_ringed_and_unknown_selection_ignored() -> None:
    site = SiteIndex(load_complex("tiny"))
    ring = _trace(site_map_figure(site, selected="beta-f1"), SELECTED_TRACE)
    assert (ring.x[0], ring.y[0]) == (700, 400)
    assert all(t.name != SELECTED_TRACE for t in site_map_figure(site, selected="<script>").data)


def test_names_are_escaped_in_plotly_text() -> None:
    c = load_complex("tiny")
    data = c.model_dump()
    data["tenants"][0]["factories"][0]["name"] = "<b onclick=x>Evil</b>"
    evil = SiteIndex(type(c).model_validate(data))
    factories = _trace(site_map_figure(evil), FACTORY_TRACE)
    assert "&lt;b onclick=x&gt;Evil&lt;/b&gt;" in factories.text
    assert all("<b onclick" not in h for h in factories.hovertext)


def test_site_index_assets_carry_their_sensors() -> None:
    site = SiteIndex(load_complex("tiny"))
    alpha = site.assets["alpha-f1"]
    assert alpha.kind is AssetKind.FACTORY and alpha.owner == "alpha-elec"
    assert set(alpha.sensor_ids) == {
        "alpha-f1-smoke",
        "alpha-f1-temp",
        "alpha-smt-power",
        "alpha-smt-state",
        "alpha-smt-good",
        "alpha-aoi-power",
        "alpha-aoi-vib",
    }
    assert site.assets["hub"].kind is AssetKind.LOGISTICS
    assert site.assets["hub"].sensor_ids == ("hub-occupancy",)


def test_picker_groups_every_sensor_once_under_a_disabled_header(site: SiteIndex) -> None:
    options = sensor_options(site)
    values = [o["value"] for o in options if not o.get("disabled")]
    assert sorted(values) == sorted(site.complex.sensors)
    headers = [o for o in options if o.get("disabled")]
    assert headers and all(str(o["value"]).startswith(GROUP_PREFIX) for o in headers)
    assert options[0]["disabled"] is True  # every option sits under a header


def test_picker_for_one_factory_lists_only_its_sensors() -> None:
    site = SiteIndex(load_complex("tiny"))
    options = sensor_options(site, "beta-f1")
    values = {o["value"] for o in options if not o.get("disabled")}
    assert values == {
        "beta-f1-gas",
        "beta-reactor-power",
        "beta-reactor-temp",
        "beta-reactor-press",
    }
    label = next(o["label"] for o in options if o["value"] == "beta-reactor-power")
    assert label == "beta-reactor-power · power [kW]"  # the id already names the device
    search = next(o["search"] for o in options if o["value"] == "beta-reactor-power")
    assert search == next(o["label"] for o in options if o.get("disabled")).strip("— ")  # the group's name


def test_a_sensor_id_that_does_not_name_its_device_gets_the_device_in_its_label(tmp_path: Path) -> None:
    text = (Path(twin.__file__).parent / "data" / "tiny-complex.yaml").read_text()
    assert text.count("beta-reactor-power") >= 1
    path = tmp_path / "complex.yaml"
    path.write_text(text.replace("beta-reactor-power", "rx-power"))
    site = SiteIndex(load_complex(path))
    assert site.sensor_label("rx-power") == "beta-reactor · rx-power · power [kW]"


def test_neighbouring_labels_are_placed_on_opposite_sides() -> None:
    site = SiteIndex(load_complex("demo"))
    fig = site_map_figure(site)
    factories = _trace(fig, FACTORY_TRACE)
    pos = dict(zip(factories.customdata, factories.textposition, strict=True))
    # Hanbit plants 1 and 2 stand 350 m apart on one row: their names would overlap.
    assert {pos["hanbit-f1"], pos["hanbit-f2"]} == {"top center", "bottom center"}
    # A factory alone on its row keeps its label on top.
    assert pos["hyundo-f1"] == "top center"


# ---- hazard detectors and trucks ------------------------------------------------------------

NOW = 1_800_000_000_000


def test_every_hazard_detector_is_drawn_where_the_config_puts_it(site: SiteIndex) -> None:
    c = site.complex
    detectors = {sid: info for sid, info in c.sensors.items() if info.hazard}
    latest = {sid: Reading(sid, NOW - 1_000, 12.5) for sid in list(detectors)[:2]}
    marks = hazard_marks(c, latest, NOW)
    assert {m.id for m in marks} == set(detectors) and all(m.sensor == m.id for m in marks)
    for m in marks:
        pos = detectors[m.id].sensor.position
        assert (m.x, m.y) == (pos.x, pos.y)
        assert m.state is (Freshness.FRESH if m.id in latest else Freshness.NO_DATA)
        assert ("12.5 " in m.hover) is (m.id in latest) and (m.state.label in m.hover)
    fig = site_map_figure(site, hazards=marks)
    trace = _trace(fig, HAZARD_TRACE)
    assert list(trace.customdata) == [m.id for m in marks]  # a click names the detector's sensor
    assert list(trace.marker.color) == [FRESHNESS_COLOURS[m.state] for m in marks]
    assert [t.name for t in site_map_figure(site).data].count(HAZARD_TRACE) == 0  # none given, none drawn


def test_trucks_are_drawn_where_their_position_sensors_put_them() -> None:
    c = load_complex("demo")
    t1, t2, t3 = c.logistics.trucks[:3]  # type: ignore[union-attr]
    at = {s.kind: s.id for s in t1.sensors}
    late = {s.kind: s.id for s in t2.sensors}
    latest = {
        at["position_x"]: Reading(at["position_x"], NOW - 500, 812.0),
        at["position_y"]: Reading(at["position_y"], NOW - 500, 455.5),
        at["speed"]: Reading(at["speed"], NOW - 500, 18.0),
        late["position_x"]: Reading(late["position_x"], NOW - 3_600_000, 100.0),
        late["position_y"]: Reading(late["position_y"], NOW - 500, 200.0),
        # t3 has only an x reading: no place to draw it
        {s.kind: s.id for s in t3.sensors}["position_x"]: Reading("x", NOW - 500, 1.0),
    }
    marks = {m.id: m for m in truck_marks(c, latest, NOW)}
    assert set(marks) == {t1.id, t2.id}
    assert (marks[t1.id].x, marks[t1.id].y, marks[t1.id].state) == (812.0, 455.5, Freshness.FRESH)
    assert "speed 18 km/h" in marks[t1.id].hover and marks[t1.id].sensor == at["speed"]
    assert (marks[t2.id].x, marks[t2.id].y, marks[t2.id].state) == (100.0, 200.0, Freshness.LATE)
    assert "last known" in marks[t2.id].hover
    fig = site_map_figure(SiteIndex(c), trucks=list(marks.values()))
    trace = _trace(fig, TRUCK_TRACE)
    assert list(trace.marker.symbol) == ["diamond", "diamond-open"]  # a late position is hollow
    assert truck_marks(c, {}, NOW) == []



def _alarm(source: object, severity: object, state: object = "active_unack", kind: object = "sensor") -> dict:
    return {"source": source, "source_kind": kind, "severity": severity, "state": state}


def test_sensor_alarms_names_the_worst_active_alarm_per_sensor() -> None:
    alarms = [
        _alarm("gas-1", "minor"),
        _alarm("gas-1", "critical", "active_ack"),
        _alarm("gas-2", "major", "cleared_unack"),  # cleared: the detector is quiet again
        _alarm("zone-a", "critical", kind="zone"),  # a zone's disaster: the zone's outline, not a detector
        _alarm("gas-3", "no-such-severity"),  # unknown severity: counted, as the mildest
        _alarm(["gas-4"], "critical"),  # malformed entries are ignored
        "not an alarm",
        {"state": "active_unack"},
    ]
    assert sensor_alarms(alarms) == {"gas-1": "critical", "gas-3": "warning"}
    assert sensor_alarms([]) == {}


def test_a_detector_in_alarm_is_ringed_in_its_severity_and_says_so(site: SiteIndex) -> None:
    c = site.complex
    detectors = [sid for sid, info in c.sensors.items() if info.hazard]
    loud, quiet = detectors[0], detectors[1]
    marks = {m.id: m for m in hazard_marks(c, {}, NOW, {loud: "critical", "not-a-detector": "major"})}
    assert marks[loud].alarm == "critical" and "CRITICAL ALARM" in marks[loud].hover
    assert marks[quiet].alarm is None and "ALARM" not in marks[quiet].hover
    trace = _trace(site_map_figure(site, hazards=list(marks.values())), HAZARD_TRACE)
    by_id = {sid: i for i, sid in enumerate(trace.customdata)}
    assert trace.marker.line.color[by_id[loud]] == ALARM_ZONE_COLOURS["critical"]
    assert trace.marker.size[by_id[loud]] > trace.marker.size[by_id[quiet]]
    assert trace.marker.line.width[by_id[loud]] > trace.marker.line.width[by_id[quiet]]


def test_mark_sensor_ids_are_what_the_marks_read() -> None:
    c = load_complex("demo")
    ids = mark_sensor_ids(c)
    assert len(ids) == len(set(ids))
    assert {sid for sid, info in c.sensors.items() if info.hazard} <= set(ids)
    t1 = c.logistics.trucks[0]  # type: ignore[union-attr]
    assert {s.id for s in t1.sensors if s.kind in ("position_x", "position_y", "speed")} <= set(ids)
    # Marks drawn from only these sensors' readings are the marks drawn from all readings.
    latest = {sid: Reading(sid, NOW - 500, 10.0) for sid in c.sensors}
    only = {sid: r for sid, r in latest.items() if sid in set(ids)}
    assert hazard_marks(c, only, NOW) == hazard_marks(c, latest, NOW)
    assert truck_marks(c, only, NOW) == truck_marks(c, latest, NOW)
