"""The model-driven signal source: readings valid and consistent with the SimPy model;
injected and scheduled disasters show their signature in the right sensors and stop the
right factories."""

from __future__ import annotations

import pytest

from sensors.fleet import FleetSchedule
from sensors.injection import InjectCommand
from sensors.model_source import ModelSource
from sensors.signals import SignalSource
from simulations.settings import ModelSettings
from twin.codec import Codec, encode_batch
from twin.config import load_complex
from twin.model import MachineState
from twin.topics import telemetry_topic

START = 1_795_654_800_000  # 2026-11-26T01:00:00Z = 10:00 in Asia/Seoul, inside the day shift
S = 1000
MIN = 60 * S


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


@pytest.fixture(scope="module")
def demo():
    return load_complex("demo")


def _series(src: ModelSource, sensors: list[str], minutes: float, step_s: float = 10):
    """{sensor: [(ts, value)]} sampled every ``step_s`` from START for ``minutes``."""
    out: dict[str, list[tuple[int, float]]] = {s: [] for s in sensors}
    t = START
    while t <= START + minutes * MIN:
        for r in src.sample(sensors, t):
            out[r.sensor_id].append((t, r.value))
        t += round(step_s * S)
    return out


def _at(series: list[tuple[int, float]], ts: int) -> float:
    return next(v for t, v in series if t >= ts)


def _peak(series: list[tuple[int, float]], t0: int, t1: int) -> float:
    return max(v for t, v in series if t0 <= t <= t1)


def test_is_a_signal_source_and_starts_at_the_site_time_of_day(tiny):
    src = ModelSource(tiny, START, seed=1)
    assert isinstance(src, SignalSource)
    assert src.t0_s == 10 * 3600.0  # 10:00 site time: simulation second 36000 of day 1
    assert src.model.env.now == src.t0_s  # warmed up to the start, not beyond
    assert src.to_ms(src.sim_s(START + 12_345)) == START + 12_345


def test_readings_pass_the_codec_and_follow_the_models_machines(tiny):
    src = ModelSource(tiny, START, seed=3)
    codec = Codec(tiny)
    sched = FleetSchedule(tiny, START, seed=3)
    model = src.model
    base_good = {mid: m.good for mid, m in model.machines.items()}
    base_scrap = {mid: m.scrap for mid, m in model.machines.items()}
    last: dict[str, float] = {}
    seen_states: set[MachineState] = set()
    end = START + 2 * 3600 * S
    checked = 0
    while True:
        batches = sched.pop_until(end, 500)
        if not batches:
            break
        for b in batches:
            readings = src.sample(b.sensor_ids, b.ts_ms)
            dec = codec.decode(
                telemetry_topic(b.owner, b.device), encode_batch(readings), b.ts_ms + 1000
            )
            assert not dec.rejections, dec.rejections[:3]
            for r in readings:
                info = tiny.sensors[r.sensor_id]
                if info.machine is None:
                    continue
                m = model.machines[info.machine]  # the model itself, at this very instant
                kind = info.sensor.kind
                if kind == "state":
                    assert r.value == m.state.code
                    seen_states.add(m.state)
                elif kind == "power":
                    expected = tiny.machines[m.id].power_kw.for_state(m.state)
                    assert expected == m.power_kw
                    if expected == 0:
                        assert r.value == 0.0
                    else:
                        assert r.value == pytest.approx(expected, rel=0.1)
                    checked += 1
                elif kind == "good_count":
                    assert r.value == m.good - base_good[m.id]
                    assert r.value >= last.get(r.sensor_id, 0.0)
                elif kind == "scrap_count":
                    assert r.value == m.scrap - base_scrap[m.id]
                last[r.sensor_id] = r.value
    assert checked > 10_000
    assert {MachineState.BUSY, MachineState.IDLE} <= seen_states
    assert last["alpha-smt-good"] > 0  # the line produced in two hours
    g, _ = src.counters("alpha-smt")
    assert g == last["alpha-smt-good"]
    # the model's own KPIs cover exactly the published run (for live-vs-model OEE checks)
    k = src.kpis()
    assert k["machine.alpha-smt.good"] == g
    assert src.now_ms == b.ts_ms


def test_vibration_and_temperature_follow_the_state_through_lags(tiny):
    src = ModelSource(tiny, START, seed=5)
    s = _series(src, ["alpha-aoi-vib", "beta-reactor-temp"], 240, step_s=5)
    vib = [v for _, v in s["alpha-aoi-vib"]]
    assert max(vib) > 2.0 and min(vib) < 2.0  # busy about 4 mm/s, idle about 1
    temp = [v for _, v in s["beta-reactor-temp"]]
    steps = [abs(b - a) for a, b in zip(temp, temp[1:], strict=False)]
    assert max(temp) - min(temp) > 5.0 and max(steps) < 5.0  # moves, but smoothly


def test_trucks_follow_the_model_and_docks_match_its_occupancy(tiny):
    src = ModelSource(tiny, START, seed=2)
    lg = src.model.logistics
    assert lg is not None
    xs, occ = [], []
    t = START
    while t <= START + 8 * 3600 * S:
        x, y, o = src.sample(["truck-1-x", "truck-1-y", "hub-occupancy"], t)
        xs.append(x.value)
        occ.append(o.value)
        assert 0 <= x.value <= 1000 and 0 <= y.value <= 600
        assert o.value == lg.docks.count
        truck = next(tr for tr in lg.trucks if tr.id == "truck-1")
        track = src.view.trucks["truck-1"]
        if not track.driving:  # standing: GPS jitter around the model's place
            px, py = lg.network.places[truck.location]
            assert abs(x.value - px) < 10 and abs(y.value - py) < 10
        t += 30 * S
    assert max(xs) - min(xs) > 100  # it drove somewhere
    assert max(occ) >= 1


def test_same_seed_same_readings(tiny):
    a = _series(ModelSource(tiny, START, seed=9), ["alpha-smt-power", "A-seis-1"], 30)
    b = _series(ModelSource(tiny, START, seed=9), ["alpha-smt-power", "A-seis-1"], 30)
    assert a == b


# ---- disasters ---------------------------------------------------------------------------


def _inject(src: ModelSource, at_min: float, cmd: InjectCommand, replies: list) -> None:
    src.advance(START + round(at_min * MIN))
    src.request(cmd, replies.append)


def test_injected_fire_in_one_factory_spreads_smoke_to_neighbours_and_stops_only_it(demo):
    src = ModelSource(demo, START, seed=4)
    phases: list[tuple[int, str]] = []
    src.on_disaster = lambda ts, d: phases.append((ts, d["phase"]))
    replies: list = []
    _inject(src, 5, InjectCommand("f1", "fire", factories=("hanbit-f1",), duration_h=1.0), replies)
    sensors = ["hanbit-f1-smoke", "hanbit-f1-temp", "hanbit-f2-smoke", "daesung-f1-smoke"]
    s = _series(src, sensors, 60, step_s=10)
    assert replies[0].ok and replies[0].factories == ("hanbit-f1",)
    onset = replies[0].ts_ms
    assert onset == START + 5 * MIN
    assert (onset, "start") in phases
    # quiet before, then the burning factory: smoke and heat
    assert _peak(s["hanbit-f1-smoke"], START, onset - S) < 0.5
    assert _at(s["hanbit-f1-smoke"], onset + 10 * MIN) > 10.0
    assert _at(s["hanbit-f1-temp"], onset + 20 * MIN) > 100.0
    # the neighbour 350 m away later and weaker; another zone not at all
    assert _at(s["hanbit-f2-smoke"], onset + 5 * MIN) < 0.5
    assert (
        1.0
        < _at(s["hanbit-f2-smoke"], onset + 40 * MIN)
        < _at(s["hanbit-f1-smoke"], onset + 40 * MIN)
    )
    assert _peak(s["daesung-f1-smoke"], START, START + 60 * MIN) < 0.5
    # the model stopped the burning factory only
    for ln in demo.factories["hanbit-f1"].lines:
        for m in ln.machines:
            assert src.model.machines[m.id].category == "disaster"
            assert (
                src.sample([f"{m.id}-state"], START + 60 * MIN)[0].value == MachineState.DOWN.code
            )
    assert all(
        src.model.machines[m.id].category != "disaster"
        for ln in demo.factories["hanbit-f2"].lines
        for m in ln.machines
    )


def test_injected_gas_leak_flood_and_earthquake_in_the_tiny_complex(tiny):
    src = ModelSource(tiny, START, seed=6)
    phases: list[tuple[int, dict]] = []
    src.on_disaster = lambda ts, d: phases.append((ts, d))
    replies: list = []
    _inject(src, 2, InjectCommand("g1", "gas", zones=("B",), duration_h=0.5), replies)
    _inject(src, 3, InjectCommand("w1", "flood", zones=("A",), duration_h=2), replies)
    _inject(src, 4, InjectCommand("q1", "earthquake", zones=("A",), duration_h=1), replies)
    s = _series(src, ["beta-f1-gas", "A-water-1", "A-seis-1", "B-seis-1"], 150, step_s=1)
    assert [r.ok for r in replies] == [True, True, True]
    assert _peak(s["beta-f1-gas"], START, START + 2 * MIN - S) < 20  # background: a few ppm
    assert _at(s["beta-f1-gas"], START + 12 * MIN) > 300  # ppm at the leak
    # the team closes the leak (response, then 30 min); the gas then clears within half an hour
    closed = next(t for t, d in phases if d["kind"] == "gas_leak" and d["phase"] == "contained")
    assert closed - START >= 32 * MIN
    peak = _peak(s["beta-f1-gas"], START, closed)
    assert _at(s["beta-f1-gas"], closed + 30 * MIN) < 0.1 * peak
    water0 = _at(s["A-water-1"], START + 3 * MIN - S)
    assert _at(s["A-water-1"], START + 90 * MIN) > water0 + 50  # cm
    quake = START + 4 * MIN
    seis_a = _peak(s["A-seis-1"], quake, quake + MIN)
    seis_b = _peak(s["B-seis-1"], quake, quake + MIN)
    assert seis_a > seis_b > 0.05 > _peak(s["A-seis-1"], START, quake - S)
    assert _peak(s["A-seis-1"], quake + 10 * MIN, quake + 20 * MIN) < 0.05  # the shaking is over
    # the model stopped the target factories
    started = [(d["kind"], tuple(d["factories"])) for _, d in phases if d["phase"] == "start"]
    assert started == [
        ("gas_leak", ("beta-f1",)),
        ("flood", ("alpha-f1",)),
        ("earthquake", ("alpha-f1",)),
    ]
    assert src.model.machines["alpha-smt"].category == "disaster"  # the flood still holds it


def test_power_outage_takes_machine_power_to_zero_until_it_is_back(tiny):
    src = ModelSource(tiny, START, seed=7)
    replies: list = []
    _inject(src, 1, InjectCommand("p1", "power", factories=("alpha-f1",), duration_h=0.5), replies)
    s = _series(
        src, ["alpha-smt-power", "alpha-aoi-power", "beta-reactor-power", "alpha-smt-state"], 120, 5
    )
    on = START + MIN
    for sid in ("alpha-smt-power", "alpha-aoi-power"):
        during = [v for t, v in s[sid] if on <= t < on + 30 * MIN]
        assert during and all(v == 0.0 for v in during)
    assert all(
        v == MachineState.DOWN.code for t, v in s["alpha-smt-state"] if on <= t < on + 30 * MIN
    )
    assert max(v for t, v in s["beta-reactor-power"] if on <= t < on + 30 * MIN) > 5  # not hit
    # power back at containment (down draw while restarting), production after the restart
    assert _at(s["alpha-smt-power"], on + 31 * MIN) > 0.0
    assert _peak(s["alpha-smt-power"], on + 70 * MIN, on + 119 * MIN) > 5.0


def test_scheduled_disaster_from_the_scenario_settings(tiny):
    settings = ModelSettings.model_validate(
        {"disasters": [{"kind": "fire", "factory": "alpha-f1", "at_h": 10.25, "duration_h": 1}]}
    )
    src = ModelSource(tiny, START, settings, seed=8)
    phases: list[tuple[int, dict]] = []
    src.on_disaster = lambda ts, d: phases.append((ts, d))
    s = _series(src, ["alpha-f1-smoke"], 40, step_s=10)
    assert phases[0][0] == START + 15 * MIN and phases[0][1]["phase"] == "start"
    assert _peak(s["alpha-f1-smoke"], START, START + 15 * MIN - S) < 0.5
    assert _at(s["alpha-f1-smoke"], START + 35 * MIN) > 10.0


def test_a_command_the_model_refuses_gets_an_error_answer_and_the_fleet_goes_on(tiny):
    src = ModelSource(tiny, START, seed=1)
    replies: list = []
    # the listener checks targets against the config; a command that slipped past that
    # (a zone of another config) is refused by the model, not raised
    src.request(InjectCommand("z1", "fire", zones=("Q",)), replies.append)
    src.sample(["alpha-smt-power"], START + S)
    assert replies[0].ok is False and "Q" in replies[0].error
    assert src.sample(["alpha-smt-power"], START + 2 * S)[0].value >= 0
    assert not src.model.disasters.records
