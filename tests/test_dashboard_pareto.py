"""Downtime Pareto of the tenant portal: pure computation, callback with hostile input, tenant isolation.

Machine states are written to a real SQLite historian as the fleet and the live twin write them
(``state`` codes of ``twin.model.MachineState`` every ``period_s``); the Pareto reads them back
through the same aggregated windows the page uses.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import yaml

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.tenant.callbacks import pareto, pareto_factories
from dashboards.pareto import CAUSES, add_window, pareto_rows, state_durations
from tests.dash_json import callback_body
from twin.codec import Reading
from twin.config import load_complex, tiny_config_path
from twin.historian import Window, open_historian
from twin.model import MachineState

DOWN, IDLE, SETUP, BUSY, OFF = (MachineState(s).code for s in ("down", "idle", "setup", "busy", "off"))
NOW = 1_795_000_000_000
H = 3_600_000
SECRET = b"pareto-test-secret-0123456789abcdef"


# ---- pure -------------------------------------------------------------------------------------


def test_rows_sorted_descending_with_cumulative_share() -> None:
    rows = pareto_rows({DOWN: 1 * H, IDLE: 3 * H, SETUP: 0.5 * H * 2, BUSY: 40 * H, OFF: 10 * H})
    assert [r.cause for r in rows] == [CAUSES[IDLE], CAUSES[DOWN], CAUSES[SETUP]]
    assert [r.hours for r in rows] == pytest.approx([3.0, 1.0, 1.0])
    assert [r.cumulative for r in rows] == pytest.approx([0.6, 0.8, 1.0])
    assert [r.share for r in rows] == pytest.approx([0.6, 0.2, 0.2])
    # busy is production and off is planned: neither is downtime
    assert pareto_rows({BUSY: H, OFF: H}) == [] and pareto_rows({}) == []


def test_windows_split_into_states() -> None:
    out: dict[int, float] = {}
    add_window(out, Window("m", 0, DOWN, DOWN, DOWN, DOWN, 12), 60_000, 5_000)  # one state: all of it
    assert out == {DOWN: 60_000}
    out = {}
    # busy (2) and down (4) in one window, 3 of 12 samples down: mean 2.5 -> a quarter down
    add_window(out, Window("m", 0, 2.5, BUSY, DOWN, DOWN, 12), 60_000, 5_000)
    assert out == pytest.approx({DOWN: 15_000, BUSY: 45_000})
    out = {}
    add_window(out, Window("m", 0, IDLE, IDLE, IDLE, IDLE, 2), 60_000, 5_000)  # a gap: 2 samples cover 10 s only
    assert out == {IDLE: 10_000}
    out = {}
    add_window(out, Window("m", 0, float("nan"), 0, 0, 0, 3), 60_000, 5_000)
    add_window(out, Window("m", 0, 1, 1, 1, 1, 0), 60_000, 5_000)
    assert out == {}
    ws = [Window("a", 0, SETUP, SETUP, SETUP, SETUP, 12), Window("other", 0, DOWN, DOWN, DOWN, DOWN, 12)]
    assert state_durations(ws, 60_000, {"a": 5_000}) == {SETUP: 60_000}  # unlisted sensors ignored


def test_state_durations_equal_add_window_for_every_window() -> None:
    """The vectorised sum is :func:`add_window` applied to each window: one state, two, three,
    gaps, empty and NaN windows, unlisted sensors, every period."""
    rnd = random.Random(7)
    periods = {"a": 5_000.0, "b": 1_000.0, "c": 60_000.0}
    windows = []
    for i in range(3_000):
        lo, hi = sorted(rnd.choice([0, 1, 2, 3, 4]) for _ in range(2))
        mean = rnd.uniform(lo, hi) if rnd.random() < 0.9 else float("nan")
        count = rnd.choice([0, 1, 2, 6, 12, 30, 60])
        sensor = rnd.choice(["a", "b", "c", "unlisted"])
        windows.append(Window(sensor, i * 30_000, mean, float(lo), float(hi), float(hi), count))
    expected: dict[int, float] = {}
    for w in windows:
        if w.sensor_id in periods:
            add_window(expected, w, 30_000, periods[w.sensor_id])
    got = state_durations(windows, 30_000, periods)
    assert set(got) == set(expected) and got == pytest.approx(expected)
    assert state_durations([], 30_000, periods) == {} and state_durations(windows, 30_000, {}) == {}


# ---- against a real historian -------------------------------------------------------------------


def _config(tmp_path: Path) -> Path:
    """The tiny complex with a state sensor on Beta's reactor too (tiny has one on Alpha's SMT only)."""
    data = yaml.safe_load(tiny_config_path().read_text(encoding="utf-8"))
    beta = next(t for t in data["tenants"] if t["id"] == "beta-chem")
    machine = beta["factories"][0]["lines"][0]["machines"][0]
    machine["sensors"].append(
        {"id": "beta-reactor-state", "kind": "state", "unit": "state", "period_s": 5, "range": [0, 4]}
    )
    path = tmp_path / "tiny-states.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _states(sensor: str, plan: list[tuple[int, float]], end_ms: int) -> list[Reading]:
    """Readings every 5 s following ``plan`` [(state code, hours), ...] up to ``end_ms``."""
    total = sum(h for _, h in plan)
    t = end_ms - int(total * H)
    out = []
    for code, hours in plan:
        stop = t + int(hours * H)
        while t < stop:
            out.append(Reading(sensor, t, float(code)))
            t += 5_000
    return out


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    complex_ = load_complex(_config(tmp_path))
    url = "sqlite://" + str(tmp_path / "history.db")
    with open_historian(url) as h:
        # Alpha: 2 h down, 1 h setup, 0.5 h idle in the last 8 h; Beta: 5 h down (must never leak)
        h.store(_states("alpha-smt-state", [(BUSY, 3), (DOWN, 2), (SETUP, 1), (IDLE, 0.5), (BUSY, 1.5)], NOW))
        h.store(_states("beta-reactor-state", [(BUSY, 3), (DOWN, 5)], NOW))
    users = tmp_path / "users.yaml"
    add_user(users, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    add_user(users, User("ops", "operator"), "ops-pass")
    ctx = DashboardContext(complex_, HistorianSource(url), clock=lambda: NOW)
    yield complex_, url, ctx, load_users(users)
    ctx.historian.close()


def _hours(fig: object) -> dict[str, float]:
    data = fig.to_plotly_json()["data"] if hasattr(fig, "to_plotly_json") else fig["data"]  # type: ignore[index,union-attr]
    bars = [t for t in data if t.get("type") == "bar"]
    return dict(zip(bars[0]["x"], bars[0]["y"], strict=True)) if bars else {}


def test_pareto_of_own_factories_from_the_historian(rig) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx, users = rig
    alpha = users.get("alpha")
    fig, status = pareto(ctx, alpha, "alpha-elec", "all", "8h")
    hours = _hours(fig)
    assert list(hours) == [CAUSES[DOWN], CAUSES[SETUP], CAUSES[IDLE]]  # descending
    assert hours[CAUSES[DOWN]] == pytest.approx(2.0, abs=0.02)
    assert hours[CAUSES[SETUP]] == pytest.approx(1.0, abs=0.02)
    assert hours[CAUSES[IDLE]] == pytest.approx(0.5, abs=0.02)
    line = [t for t in fig.to_plotly_json()["data"] if t.get("type") == "scatter"][0]
    assert line["y"][-1] == pytest.approx(100.0) and line["yaxis"] == "y2"
    assert "1 machine" in status
    fig, _ = pareto(ctx, alpha, "alpha-elec", "alpha-f1", "24h")
    assert _hours(fig)[CAUSES[DOWN]] == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    ("tenant", "factory", "range_key"),
    [
        ("beta-chem", "all", "8h"),  # another tenant
        ("alpha-elec", "beta-f1", "8h"),  # own tenant, another tenant's factory
        ("alpha-elec", ["beta-f1"], "8h"),
        ("alpha-elec", {"id": "beta-f1"}, "8h"),
        ("alpha-elec", "../beta-f1", "8h"),
        ("alpha-elec", "all", "forever"),
        ("alpha-elec", "all", ["8h"]),
        (["alpha-elec"], "all", "8h"),
        (None, None, None),
        ("x" * 10_000, "all", "8h"),
    ],
)
def test_hostile_or_foreign_selection_returns_nothing(rig, tenant, factory, range_key) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx, users = rig
    fig, status = pareto(ctx, users.get("alpha"), tenant, factory, range_key)
    assert _hours(fig) == {} and status == "no data for this selection"


def test_factory_picker_lists_own_factories_only(rig) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx, users = rig
    options, value = pareto_factories(ctx, users.get("alpha"), "alpha-elec")
    assert [o["value"] for o in options] == ["all", "alpha-f1"] and value == "all"
    assert pareto_factories(ctx, users.get("alpha"), "beta-chem") == ([], None)
    assert pareto_factories(ctx, None, "alpha-elec") == ([], None)
    fig, _ = pareto(ctx, None, "alpha-elec", "all", "8h")  # no session: nothing
    assert _hours(fig) == {}
    fig, _ = pareto(ctx, users.get("ops"), "beta-chem", "beta-f1", "8h")  # an operator sees any tenant
    assert _hours(fig)[CAUSES[DOWN]] == pytest.approx(5.0, abs=0.05)


def test_historian_down_is_a_message_not_an_error(tmp_path: Path) -> None:
    complex_ = load_complex(_config(tmp_path))
    (tmp_path / "not-a-db").mkdir()
    ctx = DashboardContext(complex_, HistorianSource("sqlite://" + str(tmp_path / "not-a-db")), clock=lambda: NOW)
    fig, status = pareto(ctx, User("ops", "operator"), "alpha-elec", "all", "8h")
    assert _hours(fig) == {} and status == "historian unavailable"


# ---- forged HTTP calls through the whole app (login, role and tenant checks, request guard) ----------


def _login(client, user: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": user, "password": f"{user}-pass", "csrf_token": token, "next": "/"})
    assert r.status_code == 302


def _pareto_body(client, tenant: object, factory: object, range_key: object = "8h") -> dict:  # type: ignore[no-untyped-def]
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "tenant-pareto.figure" in d["output"])
    values = {
        "tenant-select": tenant,
        "tenant-range": range_key,
        "tenant-pareto-factory": factory,
        "tenant-pareto-tick": 1,
    }
    return callback_body(dep, values, changed="tenant-pareto-factory.value")


def test_forged_callback_calls_across_tenants_return_nothing(rig) -> None:  # type: ignore[no-untyped-def]
    complex_, url, _, users = rig
    app = create_app(complex_, url, clock=lambda: NOW, auth=AuthConfig(users, SECRET))
    anon = app.server.test_client()
    alpha = app.server.test_client()
    _login(alpha, "alpha")
    body = _pareto_body(alpha, "alpha-elec", "all")
    r = anon.post("/_dash-update-component", json=body)
    assert r.status_code == 401 and b"down" not in r.data
    own = alpha.post("/_dash-update-component", json=body)
    assert own.status_code == 200 and b"down (failure" in own.data
    for tenant, factory in (
        ("beta-chem", "all"),
        ("beta-chem", "beta-f1"),
        ("alpha-elec", "beta-f1"),
        ("alpha-elec", {"$ne": 1}),
        ("alpha-elec", "a" * 5000),
    ):
        r = alpha.post("/_dash-update-component", json=_pareto_body(alpha, tenant, factory))
        assert r.status_code == 200, (tenant, factory, r.data[:200])
        doc = json.loads(r.data)
        assert "no data for this selection" in r.get_data(as_text=True)
        assert "down (failure" not in json.dumps(doc) and "beta-reactor" not in json.dumps(doc)
    r = alpha.post("/_dash-update-component", json=_pareto_body(alpha, "alpha-elec", "all", {"x": 1}))
    assert r.status_code == 200 and b"no data for this selection" in r.data
    r = alpha.post("/_dash-update-component", data=b"{not json", content_type="application/json")
    assert r.status_code == 400
