"""The starting state from the live twin's snapshots: observed states override the model's prior."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.live_state import (
    observed_snapshots,
    prior_state,
    state_from_snapshots,
    time_of_day_s,
)
from simulations.model import build_model
from simulations.settings import DISASTER_KINDS, ModelSettings
from twin.config import load_complex
from twin.model import MachineState
from twin.snapshot import AlarmCounts, FactorySnapshot, MachineSnapshot

H = 3600.0
TEN_AM_MS = 1_795_654_800_000  # 2026-11-26T10:00+09:00


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


def _snap(c, fid: str, states: dict[str, str], *, stale=(), disasters=(), ts=TEN_AM_MS):
    f = c.factories[fid]
    machines = tuple(
        MachineSnapshot(
            m.id,
            ln.id,
            states.get(m.id, "unknown"),
            ts - 60_000,
            "state_sensor",
            None,
            None,
            None,
            ts,
            m.id in stale,
        )
        for ln in f.lines
        for m in ln.machines
    )
    return FactorySnapshot(
        fid,
        c.factory_tenant[fid],
        f.zone,
        ts,
        machines,
        {},
        0.0,
        1,
        0,
        (),
        (),
        AlarmCounts(),
        tuple(disasters),
    )


def test_time_of_day_is_site_time(tiny):
    assert time_of_day_s(tiny, TEN_AM_MS) == 10 * H
    assert time_of_day_s(tiny, TEN_AM_MS + 15 * H * 1000 + 1500) == pytest.approx(1 * H + 1.5)


def test_observed_states_override_the_prior_and_the_rest_is_estimated(tiny):
    snaps = {
        "alpha-f1": _snap(tiny, "alpha-f1", {"alpha-smt": "down", "alpha-aoi": "busy"}),
        "beta-f1": _snap(tiny, "beta-f1", {"beta-reactor": "idle"}, stale={"beta-reactor"}),
    }
    est = state_from_snapshots(tiny, snaps, seed=3)
    prior, _ = prior_state(tiny, ModelSettings(), 10 * H, seed=3)
    st_ = est.state
    assert st_.time_s == 10 * H
    assert sorted(est.observed) == ["alpha-aoi", "alpha-smt"]
    assert est.estimated == ["beta-reactor"]  # stale: the prior's state is kept
    assert st_.machines["beta-reactor"] == prior.machines["beta-reactor"]
    smt = st_.machines["alpha-smt"]
    assert smt.state is MachineState.DOWN and smt.repair_left_s is None  # drawn at build
    aoi = st_.machines["alpha-aoi"]
    assert aoi.state is MachineState.BUSY and aoi.job is not None
    assert st_.wip_units > 0  # buffers and lots from the prior: lines are not empty
    assert "2/3 machine states observed" in est.summary()
    model = build_model(tiny, state=st_, seed=1)  # the model accepts it
    model.run(st_.time_s + H)


def test_an_idle_machine_gives_its_lot_back_to_the_buffer(tiny):
    prior, _ = prior_state(tiny, ModelSettings(), 10 * H, seed=11)
    busy = [m for m, s in prior.machines.items() if s.job is not None and not s.blocked]
    assert busy, "the prior should have a machine working on a lot"
    mid = busy[0]
    fid = next(
        f.id for f in tiny.factories.values() for ln in f.lines for m in ln.machines if m.id == mid
    )
    est = state_from_snapshots(tiny, {fid: _snap(tiny, fid, {mid: "idle"})}, seed=11)
    assert est.state.machines[mid].state is MachineState.IDLE
    assert est.state.machines[mid].job is None
    assert est.lots_dropped == 0 and est.state.wip_units == prior.wip_units  # nothing lost...
    assert est.state.buffers[mid][0] == prior.machines[mid].job  # ...it waits in front again


def test_a_machine_observed_busy_always_has_a_lot(tiny):
    est = state_from_snapshots(
        tiny, {"beta-f1": _snap(tiny, "beta-f1", {"beta-reactor": "busy"})}, seed=5
    )
    m = est.state.machines["beta-reactor"]
    assert m.state is MachineState.BUSY and m.job is not None and m.job.quantity >= 1


def test_active_disaster_stops_the_factory_and_its_down_machines_are_not_failures(tiny):
    snaps = {
        "alpha-f1": _snap(
            tiny, "alpha-f1", {"alpha-smt": "down", "alpha-aoi": "down"}, disasters=("flood",)
        ),
        "beta-f1": _snap(tiny, "beta-f1", {"beta-reactor": "busy"}, disasters=("meteor",)),
    }
    est = state_from_snapshots(tiny, snaps, seed=2)
    prior, _ = prior_state(tiny, ModelSettings(), 10 * H, seed=2)
    restart = ModelSettings().emergency.restart.mean
    assert est.stopped == {"alpha-f1": "flood"}  # an unknown kind is ignored
    assert est.state.factory_stops["alpha-f1"] == DISASTER_KINDS["flood"][0] * H + restart
    assert "alpha-smt" in est.estimated  # down because of the stop: the prior's state is kept
    assert est.state.machines["alpha-smt"] == prior.machines["alpha-smt"]
    model = build_model(tiny, state=est.state, seed=1)
    model.run(est.state.time_s + H)
    assert model.kpis()["machine.alpha-smt.disaster_share"] == pytest.approx(1.0)


def test_missing_factories_are_reported_and_no_snapshot_at_all_is_an_error(tiny):
    est = state_from_snapshots(tiny, {"beta-f1": _snap(tiny, "beta-f1", {})}, seed=1)
    assert est.missing_factories == ["alpha-f1"]
    with pytest.raises(ValueError, match="no snapshot"):
        state_from_snapshots(tiny, {})


def test_a_perfect_observer_reproduces_the_models_machine_states(tiny):
    m = build_model(tiny, seed=4)
    m.run(34 * H)  # day 2, 10:00
    snaps = observed_snapshots(m, TEN_AM_MS)
    est = state_from_snapshots(tiny, snaps, seed=4)
    assert sorted(est.observed) == sorted(m.machines)
    for mid, sim in m.machines.items():
        got = est.state.machines[mid].state
        want = sim.state if sim.state is not MachineState.OFF else MachineState.IDLE
        assert got is want, mid


STATES = st.sampled_from(["off", "idle", "busy", "setup", "down", "unknown"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    states=st.lists(STATES, min_size=3, max_size=3),
    stale=st.lists(st.booleans(), min_size=3, max_size=3),
    hour=st.integers(0, 23),
    disaster=st.sampled_from([(), ("fire",), ("power_outage",)]),
)
def test_any_observation_gives_a_state_the_model_accepts(tiny, states, stale, hour, disaster):
    ids = ["alpha-smt", "alpha-aoi", "beta-reactor"]
    obs = dict(zip(ids, states, strict=True))
    stale_ids = {i for i, s in zip(ids, stale, strict=True) if s}
    ts = TEN_AM_MS + (hour - 10) * 3_600_000
    snaps = {
        "alpha-f1": _snap(tiny, "alpha-f1", obs, stale=stale_ids, disasters=disaster, ts=ts),
        "beta-f1": _snap(tiny, "beta-f1", obs, stale=stale_ids, ts=ts),
    }
    est = state_from_snapshots(tiny, snaps, seed=hour, warmup_h=8)
    model = build_model(tiny, state=est.state, seed=hour)
    model.run(est.state.time_s + 2 * H)
    assert model.kpis()["complex.throughput_uph"] >= 0
