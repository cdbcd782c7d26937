"""Factory view: timeline segments and figure (pure), access checks, and the callbacks against a
real SQLite historian, called directly and over HTTP with forged inputs (a real Flask app)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.factory.callbacks import refresh_factory, refresh_timeline, refresh_trend, sensor_choices
from dashboards.pages.factory.timeline import (
    STATE_COLOURS,
    Segment,
    state_name,
    state_segments,
    timeline_figure,
    timeline_window_ms,
)
from dashboards.pages.factory.view import (
    RANGES,
    allowed_factory,
    factory_id_from_search,
    machine_rows,
    visible_factories,
)
from dashboards.trend import MAX_POINTS
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import Window, open_historian
from twin.model import MachineState
from twin.timespec import now_ms

NOW = now_ms()
TINY = load_complex("tiny")
OPS = User("ops", "operator")
ENG = User("eng", "engineer")
ALPHA = User("alpha", "tenant", "alpha-elec")
BUSY, IDLE, DOWN = (float(MachineState(s).code) for s in ("busy", "idle", "down"))


def _w(start: int, last: float, sid: str = "s") -> Window:
    return Window(sid, start, last, last, last, last, 1)


# ---- timeline segments (pure) ----------------------------------------------------------


def test_state_names_from_codes_and_anything_else_is_unknown() -> None:
    assert [state_name(c) for c in (0, 1.0, 2, 3, 4)] == ["off", "idle", "busy", "setup", "down"]
    for bad in (2.5, -1, 9, float("nan"), float("inf"), None, "2", True):
        assert state_name(bad) == "unknown"


def test_consecutive_windows_in_one_state_merge_and_a_change_starts_a_segment() -> None:
    windows = [_w(t, BUSY) for t in range(0, 30_000, 5_000)] + [_w(t, DOWN) for t in range(30_000, 45_000, 5_000)]
    segs = state_segments(list(reversed(windows)), every_ms=1_000, period_ms=5_000)  # any order
    assert segs == [Segment("busy", 0, 30_000), Segment("down", 30_000, 45_000)]


def test_a_silence_past_the_limit_leaves_a_gap_not_a_guessed_state() -> None:
    windows = [_w(0, BUSY), _w(5_000, BUSY), _w(60_000, BUSY)]  # 55 s silence > 3 x 5 s
    segs = state_segments(windows, every_ms=1_000, period_ms=5_000)
    assert segs == [Segment("busy", 0, 10_000), Segment("busy", 60_000, 65_000)]


def test_segments_are_clipped_at_until_and_bad_codes_show_unknown() -> None:
    segs = state_segments([_w(0, IDLE), _w(1_000, 7.0)], every_ms=1_000, period_ms=1_000, until_ms=1_500)
    assert segs == [Segment("idle", 0, 1_000), Segment("unknown", 1_000, 1_500)]
    with pytest.raises(ValueError):
        state_segments([], every_ms=0, period_ms=1_000)


@pytest.mark.parametrize("machines", [1, 2, 4, 7, 40])
@pytest.mark.parametrize("key", list(RANGES))
def test_timeline_window_keeps_all_machines_under_the_point_budget(key: str, machines: int) -> None:
    range_ms = RANGES[key][1]
    every = timeline_window_ms(range_ms, machines)
    assert machines * (range_ms // every + 1) <= MAX_POINTS + machines


def test_timeline_figure_has_a_named_trace_per_state_with_text_on_the_bars() -> None:
    rows = {
        "SMT placer": [Segment("busy", 0, 60_000), Segment("down", 60_000, 90_000)],
        "AOI": [Segment("idle", 0, 90_000)],
    }
    fig = timeline_figure(rows, 0, 90_000)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"busy", "down", "idle"}
    down = by_name["down"]
    assert list(down.y) == ["SMT placer"] and list(down.x) == [30_000] and list(down.text) == ["down"]
    assert down.marker.color == STATE_COLOURS["down"] and down.marker.pattern.shape == "x"
    assert fig.layout.xaxis.type == "date"
    assert list(fig.layout.yaxis.categoryarray) == ["AOI", "SMT placer"]  # first machine on top
    empty = timeline_figure({"AOI": []}, 0, 1)
    assert not empty.data and "no machine state" in empty.layout.annotations[0].text


# ---- who may open which factory (pure) -----------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("?id=alpha-f1", "alpha-f1"),
        ("id=beta-f1", "beta-f1"),
        ("?id=alpha-f1&id=beta-f1", "alpha-f1"),
        ("?id=%3Cscript%3E", "<script>"),
        ("", None),
        ("?", None),
        ("?factory=alpha-f1", None),
        (None, None),
        (42, None),
        (["?id=alpha-f1"], None),
        ({"id": "alpha-f1"}, None),
        ("?id=" + "a" * 600, None),
        ("&".join(f"x{i}=1" for i in range(20)), None),
    ],
)
def test_factory_id_from_any_query_string(search: object, expected: str | None) -> None:
    assert factory_id_from_search(search) == expected


def test_tenant_opens_only_its_own_factories() -> None:
    assert allowed_factory(TINY, ALPHA, "alpha-f1") is TINY.factories["alpha-f1"]
    assert allowed_factory(TINY, ALPHA, "beta-f1") is None
    assert allowed_factory(TINY, OPS, "beta-f1") is TINY.factories["beta-f1"]
    assert allowed_factory(TINY, ENG, "alpha-f1") is not None
    assert allowed_factory(TINY, None, "alpha-f1") is None
    assert allowed_factory(TINY, OPS, "nope") is None
    assert allowed_factory(TINY, OPS, ["alpha-f1"]) is None
    assert allowed_factory(TINY, User("ghost", "tenant", "no-such-tenant"), "alpha-f1") is None
    assert [f.id for f in visible_factories(TINY, ALPHA)] == ["alpha-f1"]
    assert [f.id for f in visible_factories(TINY, OPS)] == ["alpha-f1", "beta-f1"]


def test_machine_state_now_follows_the_live_twins_rule() -> None:
    """A fresh state sensor first, else the power draw (off/idle/busy), else unknown."""
    f = TINY.factories["alpha-f1"]
    fresh = {"alpha-smt-state": Reading("alpha-smt-state", NOW - 2_000, DOWN), "alpha-smt-power": Reading(
        "alpha-smt-power", NOW - 500, 0.3)}
    rows = {r.machine: r for r in machine_rows(f, fresh, NOW)}
    assert rows["alpha-smt"].state == "down" and rows["alpha-smt"].power_kw == 0.3
    assert rows["alpha-smt"].why == "state sensor"  # 0.3 kW alone would read as off
    assert rows["alpha-aoi"].state == "unknown" and rows["alpha-aoi"].why == "no state sensor"
    late = {"alpha-smt-state": Reading("alpha-smt-state", NOW - 60_000, BUSY)}
    row = machine_rows(f, late, NOW)[0]
    assert row.state == "unknown" and "late" in row.why and "busy" in row.why
    assert machine_rows(f, {}, NOW)[0].why == "state sensor never reported"

    # alpha-aoi has no state sensor; its draw is nearest idle (1 kW), then busy (3 kW).
    for kw, state in ((0.9, "idle"), (2.8, "busy"), (0.05, "off")):
        power = {"alpha-aoi-power": Reading("alpha-aoi-power", NOW - 500, kw)}
        aoi = {r.machine: r for r in machine_rows(f, power, NOW)}["alpha-aoi"]
        assert aoi.state == state
        assert aoi.why.startswith("from the power draw") and "no state sensor" in aoi.why
    # A late state sensor with a fresh draw: the draw decides, and the row says why.
    both = {"alpha-smt-state": Reading("alpha-smt-state", NOW - 60_000, DOWN),
            "alpha-smt-power": Reading("alpha-smt-power", NOW - 500, 7.5)}
    row = machine_rows(f, both, NOW)[0]
    assert row.state == "busy" and "state sensor late" in row.why
    # A late draw tells nothing.
    stale = {"alpha-aoi-power": Reading("alpha-aoi-power", NOW - 60_000, 2.8)}
    assert {r.machine: r for r in machine_rows(f, stale, NOW)}["alpha-aoi"].state == "unknown"


# ---- callbacks against a real historian -----------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    """alpha-smt: busy for 50 min, down 10 min until now (state every 5 s); 1 Hz power for 2 h,
    hourly power for 30 days; the factory's KPIs; beta-f1 has data too (that must not leak)."""
    url = "sqlite://" + str(tmp_path_factory.mktemp("factory") / "history.db")
    with open_historian(url) as h:
        h.store([Reading("alpha-smt-state", NOW - i * 5_000, DOWN if i < 120 else BUSY) for i in range(720)])
        h.store([Reading("alpha-smt-power", NOW - i * 1_000, 8.0 + (i % 3)) for i in range(7_200)])
        h.store([Reading("alpha-smt-power", NOW - 7_200_000 - i * 3_600_000, 5.0) for i in range(30 * 24)])
        h.store([Reading("beta-reactor-power", NOW - i * 1_000, 44.0) for i in range(600)])
        h.store(
            [
                Reading(f"kpi.shift.factory.alpha-f1.{k}", NOW - 3_000, v)
                for k, v in (("oee", 0.42), ("availability", 0.6), ("performance", 0.8), ("quality", 0.875),
                             ("throughput_uph", 55.0))
            ]
            + [Reading("kpi.shift.machine.alpha-smt.oee", NOW - 3_000, 0.5),
               Reading("kpi.day.factory.alpha-f1.energy_kwh", NOW - 3_000, 96.5)]
        )
    return url


def _ctx(url: str) -> DashboardContext:
    return DashboardContext(TINY, HistorianSource(url), clock=lambda: NOW)


def test_operator_sees_lines_machines_states_and_live_oee(history: str) -> None:
    header, tiles, machines = refresh_factory(_ctx(history), OPS, "?id=alpha-f1")
    text = str(header)
    assert "Alpha PCB plant" in text and TINY.tenants[0].name in text and "zone Zone A" in text
    by_id = {t.id: str(t) for t in tiles}
    assert "58.0" not in by_id["factory-tile-oee"] and "42.0 %" in by_id["factory-tile-oee"]
    assert "96.5 kWh" in by_id["factory-tile-energy"] and "55.0 units/h" in by_id["factory-tile-throughput"]
    table = str(machines)
    assert "factory-machine-alpha-smt" in table and "factory-machine-alpha-aoi" in table
    assert "state-down" in table and "50.0 %" in table and "Line alpha-l1" in table


@pytest.mark.parametrize(
    "search", ["?id=beta-f1", "?id=nope", "?id=alpha-f1%00", "?id=", None, 7, {"id": "beta-f1"}, "?id=" + "x" * 5000]
)
def test_tenant_gets_nothing_for_another_tenants_or_a_forged_factory(history: str, search: object) -> None:
    ctx = _ctx(history)
    header, tiles, machines = refresh_factory(ctx, ALPHA, search)
    assert tiles == [] and "factory-machine-" not in str(machines)
    text = str(header)
    assert "Beta" not in text and "beta-f1" not in text  # another tenant's factory is not even named
    assert "alpha-f1" in text  # only its own factory is offered
    assert sensor_choices(ctx, ALPHA, search) == ([], None)
    fig, status = refresh_timeline(ctx, ALPHA, search, "1h")
    assert not fig.data and status == ""
    fig, status = refresh_trend(ctx, ALPHA, search, "beta-reactor-power", "1h")
    assert not fig.data and status == ""


def test_without_login_nothing_at_all(history: str) -> None:
    header, tiles, machines = refresh_factory(_ctx(history), None, "?id=alpha-f1")
    assert tiles == [] and "alpha-f1" not in str(header)


def test_sensor_picker_lists_the_factory_sensors_only(history: str) -> None:
    options, first = sensor_choices(_ctx(history), ALPHA, "?id=alpha-f1")
    values = [o["value"] for o in options]
    assert first == "alpha-smt-power" and "alpha-f1-smoke" in values
    assert all(TINY.sensors[v].factory == "alpha-f1" for v in values)


def test_timeline_shows_the_stored_states(history: str) -> None:
    fig, status = refresh_timeline(_ctx(history), ENG, "?id=alpha-f1", "1h")
    names = {t.name for t in fig.data}
    assert names == {"busy", "down"}
    down = next(t for t in fig.data if t.name == "down")
    assert list(down.y) == ["SMT placer"] and 9 * 60_000 <= sum(down.x) <= 11 * 60_000
    assert "1 machine(s) without a state sensor" in status


@pytest.mark.parametrize("key", list(RANGES))
def test_timeline_and_trend_stay_under_the_point_budget_for_every_range(history: str, key: str) -> None:
    ctx = _ctx(history)
    fig, _ = refresh_timeline(ctx, OPS, "?id=alpha-f1", key)
    assert sum(len(t.x) for t in fig.data) <= MAX_POINTS
    fig, status = refresh_trend(ctx, OPS, "?id=alpha-f1", "alpha-smt-power", key)
    mean = next(t for t in fig.data if t.name == "mean")
    assert 0 < len(mean.y) <= MAX_POINTS + 1
    assert f"over {RANGES[key][0]}" in status


def test_thirty_days_reach_back_thirty_days(history: str) -> None:
    fig, _ = refresh_trend(_ctx(history), OPS, "?id=alpha-f1", "alpha-smt-power", "30d")
    mean = next(t for t in fig.data if t.name == "mean")
    assert min(mean.y) == 5.0 and max(mean.y) > 8.0  # the hourly month and the 1 Hz last hours


@pytest.mark.parametrize(
    ("sensor", "range_key"),
    [
        ("beta-reactor-power", "1h"),  # a sensor of another factory
        ("nope", "1h"),
        (None, "1h"),
        (["alpha-smt-power"], "1h"),
        ("alpha-smt-power", "1y"),
        ("alpha-smt-power", None),
        ("alpha-smt-power", {"k": 1}),
    ],
)
def test_forged_trend_inputs_give_an_empty_figure(history: str, sensor: object, range_key: object) -> None:
    fig, status = refresh_trend(_ctx(history), OPS, "?id=alpha-f1", sensor, range_key)
    assert not fig.data and status == ""


def test_historian_unavailable_is_said_not_raised(tmp_path: Path) -> None:
    ctx = _ctx("sqlite://" + str(tmp_path / "not-yet.db"))
    _, tiles, machines = refresh_factory(ctx, OPS, "?id=alpha-f1")
    assert all("no data" in str(t) for t in tiles[:3]) and "historian unavailable" in str(tiles[0])
    assert "factory-machine-alpha-smt" in str(machines)  # the structure is from the config
    fig, _ = refresh_timeline(ctx, OPS, "?id=alpha-f1", "1h")
    assert "historian unavailable" in fig.layout.annotations[0].text
    fig, _ = refresh_trend(ctx, OPS, "?id=alpha-f1", "alpha-smt-power", "1h")
    assert "historian unavailable" in fig.layout.annotations[0].text


# ---- over HTTP, as a logged-in tenant, with forged bodies ----------------------------------

SECRET = b"0123456789abcdef-test-only-secret"


@pytest.fixture(scope="module")
def app(history: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, User("ops", "operator"), "ops-pass")
    add_user(path, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    users = load_users(path, [t.id for t in TINY.tenants])
    return create_app(TINY, history, clock=lambda: NOW, auth=AuthConfig(users, SECRET))


def _login(app, user: str):  # type: ignore[no-untyped-def]
    client = app.server.test_client()
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)  # sent back when the form has one
    form = {"username": user, "password": f"{user}-pass", "next": "/"}
    if token:
        form["csrf_token"] = token.group(1).decode()
    r = client.post("/login", data=form)
    assert r.status_code == 302, r.data[:200]
    return client


def _machines_body(client, search: object) -> dict:  # type: ignore[no-untyped-def]
    deps = json.loads(client.get("/_dash-dependencies").data)
    dep = next(d for d in deps if "factory-machines.children" in d["output"])
    values = {"shell-url": search, "factory-tick": 1}
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in dep["output"].strip(".").split("...")]
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [{**i, "value": values.get(i["id"])} for i in dep["inputs"]],
        "state": [],
        "changedPropIds": ["shell-url.search"],
    }


def test_http_tenant_cannot_open_another_tenants_factory(app) -> None:  # type: ignore[no-untyped-def]
    alpha = _login(app, "alpha")
    own = alpha.post("/_dash-update-component", json=_machines_body(alpha, "?id=alpha-f1"))
    assert own.status_code == 200 and b"factory-machine-alpha-smt" in own.data
    other = alpha.post("/_dash-update-component", json=_machines_body(alpha, "?id=beta-f1"))
    assert other.status_code == 200
    assert b"beta-reactor" not in other.data and b"Beta resin" not in other.data
    assert b"factory-machine-" not in other.data
    for forged in ("?id=beta-f1&id=alpha-f1", ["?id=alpha-f1"], "?id=" + "b" * 10_000, {"x": 1}):
        r = alpha.post("/_dash-update-component", json=_machines_body(alpha, forged))
        assert r.status_code == 200 and b"beta-reactor" not in r.data


def test_http_operator_opens_any_factory_and_anonymous_gets_nothing(app) -> None:  # type: ignore[no-untyped-def]
    ops = _login(app, "ops")
    r = ops.post("/_dash-update-component", json=_machines_body(ops, "?id=beta-f1"))
    assert r.status_code == 200 and b"factory-machine-beta-reactor" in r.data
    anonymous = app.server.test_client()
    r = anonymous.post("/_dash-update-component", json=_machines_body(ops, "?id=alpha-f1"))
    assert r.status_code == 401 and b"alpha-smt" not in r.data


def test_factory_alarm_tile_counts_its_own_alarms_and_names_a_disaster_in_its_zone() -> None:
    from dashboards.kpi_tiles import TileState
    from dashboards.pages.factory.view import factory_tiles

    f = TINY.factories["alpha-f1"]
    own = {"id": "1", "severity": "minor", "state": "active_unack", "zones": ["A"], "factory": "alpha-f1"}
    other = {"id": "2", "severity": "critical", "state": "active_unack", "zones": ["B"], "factory": "beta-f1"}
    tiles = {t.key: t for t in factory_tiles(TINY, f, latest={}, alarms=[own, other], now_ms=NOW)}
    assert tiles["alarms"].value == "1" and tiles["alarms"].state is TileState.WARN
    flood = {"id": "3", "severity": "critical", "state": "active_unack", "zones": ["A"], "type": "flood",
             "disaster": True, "factory": None}
    tiles = {t.key: t for t in factory_tiles(TINY, f, latest={}, alarms=[own, flood, "junk"], now_ms=NOW)}
    assert tiles["alarms"].value == "1" and tiles["alarms"].state is TileState.ALARM
    assert tiles["alarms"].detail.startswith("zone A: CRITICAL · FLOOD · 2 alarms")  # the zone: both
    tiles = {t.key: t for t in factory_tiles(TINY, f, latest=None, alarms=None, now_ms=NOW, alarms_problem="down")}
    assert all(t.value == "no data" for t in tiles.values()) and tiles["alarms"].detail == "down"
