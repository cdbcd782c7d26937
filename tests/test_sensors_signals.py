"""Signals of the simulated fleet: in range, reproducible, physically consistent (pure, no I/O)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from sensors.fleet import FleetSchedule
from sensors.logistics import TruckActivity
from sensors.machines import FAST_TARGET, HEAT_TARGET, MachineProcess
from sensors.randomness import rng_for
from sensors.shifts import ShiftCalendar
from sensors.signals import SignalSource, SyntheticSource, UnknownSensor
from twin.codec import Codec, Reading, encode_batch
from twin.config import demo_config_path, load_complex, parse_complex
from twin.model import Complex, MachineState
from twin.topics import telemetry_topic

SEOUL = ZoneInfo("Asia/Seoul")
#: Monday 2 March 2026, 00:00 in Seoul: a fixed simulated day (no wall clock in these tests).
T0 = int(datetime(2026, 3, 2, 0, 0, tzinfo=SEOUL).timestamp() * 1000)
HOUR = 3_600_000
DAY = 24 * HOUR

#: Every sensor kind in every place it can sit, two shifts with a night gap (machines off),
#: frequent failures, a setup time, and trucks based at the centre and at a factory.
RICH_YAML = """
version: 1
site:
  id: rich
  name: Rich Park
  timezone: Asia/Seoul
  width_m: 2000
  height_m: 1000
  shifts:
    - {name: early, start: "06:00", hours: 8}
    - {name: late, start: "14:00", hours: 8}
zones:
  - id: Z1
    area: {x: 0, y: 0, w: 1000, h: 1000}
    hazard_sensors:
      - {id: z1-seis, kind: seismic, unit: gal, period_s: 1, range: [0, 2000],
         position: &z1 {x: 10, y: 10}}
      - {id: z1-water, kind: water_level, unit: m, period_s: 5, range: [0, 4], position: *z1}
      - {id: z1-temp, kind: temperature, unit: degC, period_s: 5, range: [-30, 60], position: *z1}
      - {id: z1-gas, kind: gas, unit: "%LEL", period_s: 2, range: [0, 100], position: *z1}
  - id: Z2
    area: {x: 1000, y: 0, w: 1000, h: 1000}
    hazard_sensors:
      - {id: z2-seis, kind: seismic, unit: g, period_s: 0.5, range: [0, 2],
         position: {x: 1500, y: 9}}
tenants:
  - id: acme
    name: Acme Metals
    industry: metals
    factories:
      - id: acme-f1
        zone: Z1
        position: &f1 {x: 300, y: 700}
        hazard_sensors:
          - {id: acme-f1-flame, kind: flame, unit: bool, period_s: 1, range: [0, 1], position: *f1}
          - {id: acme-f1-smoke, kind: smoke, unit: "%obs/m", period_s: 2, range: [0, 30],
             position: *f1}
          - {id: acme-f1-gas, kind: gas, unit: ppm, period_s: 2, range: [0, 500], position: *f1}
          - {id: acme-f1-htemp, kind: temperature, unit: degC, period_s: 2, range: [-20, 200],
             position: *f1}
        sensors:
          - {id: acme-f1-power, kind: power, unit: W, period_s: 10, range: [0, 200000]}
          - {id: acme-f1-energy, kind: energy, unit: kWh, period_s: 60, range: [0, 1.0e9]}
          - {id: acme-f1-temp, kind: temperature, unit: degC, period_s: 30, range: [-10, 50]}
          - {id: acme-f1-hum, kind: humidity, unit: "%RH", period_s: 30, range: [0, 100]}
          - {id: acme-f1-air, kind: pressure, unit: kPa, period_s: 10, range: [0, 1200]}
          - {id: acme-f1-current, kind: current, unit: A, period_s: 10, range: [0, 400]}
          - {id: acme-f1-good, kind: good_count, unit: count, period_s: 60, range: [0, 1.0e9]}
          - {id: acme-f1-state, kind: state, unit: state, period_s: 60, range: [0, 4]}
          - {id: acme-f1-load, kind: load, unit: "%", period_s: 60, range: [0, 100]}
          - {id: acme-f1-occ, kind: occupancy, unit: count, period_s: 60, range: [0, 50]}
        lines:
          - id: acme-l1
            machines:
              - id: press
                ideal_cycle_time_s: 5
                mtbf_h: 0.5
                mttr_h: 0.2
                scrap_rate: 0.1
                setup_time_s: 600
                power_kw: {idle: 5, busy: 30, setup: 8, down: 1}
                sensors:
                  - {id: press-power, kind: power, unit: kW, period_s: 1, range: [0, 60]}
                  - {id: press-current, kind: current, unit: A, period_s: 2, range: [0, 120]}
                  - {id: press-energy, kind: energy, unit: kWh, period_s: 60, range: [0, 1.0e9]}
                  - {id: press-vib, kind: vibration, unit: mm/s, period_s: 1, range: [0, 50]}
                  - {id: press-temp, kind: temperature, unit: degC, period_s: 5, range: [-10, 250]}
                  - {id: press-press, kind: pressure, unit: bar, period_s: 5, range: [0, 40]}
                  - {id: press-rpm, kind: speed, unit: rpm, period_s: 5, range: [0, 3000]}
                  - {id: press-hum, kind: humidity, unit: "%RH", period_s: 60, range: [0, 100]}
                  - {id: press-load, kind: load, unit: "%", period_s: 10, range: [0, 100]}
                  - {id: press-state, kind: state, unit: state, period_s: 5, range: [0, 4]}
                  - {id: press-good, kind: good_count, unit: count, period_s: 10, range: [0, 1.0e9]}
                  - {id: press-scrap, kind: scrap_count, unit: count, period_s: 10,
                     range: [0, 1.0e9]}
                  - {id: press-x, kind: position_x, unit: m, period_s: 60, range: [0, 2000]}
              - id: oven
                ideal_cycle_time_s: 120
                mtbf_h: 30
                mttr_h: 1
                scrap_rate: 0.02
                power_kw: {idle: 20, busy: 80, setup: 30}
                sensors:
                  - {id: oven-power, kind: power, unit: W, period_s: 2, range: [0, 150000]}
                  - {id: oven-temp, kind: temperature, unit: degC, period_s: 5, range: [0, 400]}
                  - {id: oven-state, kind: state, unit: state, period_s: 5, range: [0, 4]}
logistics:
  centre:
    id: hub
    zone: Z2
    position: &hub {x: 1500, y: 500}
    docks: [{id: d1, capacity: 1}, {id: d2, capacity: 2}]
    sensors:
      - {id: hub-occ-n, kind: occupancy, unit: count, period_s: 10, range: [0, 3]}
      - {id: hub-load, kind: load, unit: count, period_s: 30, range: [0, 5000]}
      - {id: hub-energy, kind: energy, unit: kWh, period_s: 60, range: [0, 1.0e9]}
      - {id: hub-power, kind: power, unit: kW, period_s: 10, range: [0, 300]}
      - {id: hub-temp, kind: temperature, unit: degC, period_s: 30, range: [-30, 60]}
    hazard_sensors:
      - {id: hub-smoke, kind: smoke, unit: "%obs/m", period_s: 2, range: [0, 30], position: *hub}
  trucks:
    - id: t1
      capacity: 20
      speed_kmh: 30
      home: hub
      sensors:
        - {id: t1-x, kind: position_x, unit: m, period_s: 5, range: [0, 2000]}
        - {id: t1-y, kind: position_y, unit: m, period_s: 5, range: [0, 1000]}
        - {id: t1-speed, kind: speed, unit: km/h, period_s: 5, range: [0, 60]}
        - {id: t1-load, kind: load, unit: count, period_s: 10, range: [0, 20]}
    - id: t2
      capacity: 10
      home: hub
      tenant: acme
      sensors:
        - {id: t2-load, kind: load, unit: "%", period_s: 10, range: [0, 100]}
        - {id: t2-rpm, kind: speed, unit: rpm, period_s: 5, range: [0, 4000]}
    - id: t3
      capacity: 10
      home: acme-f1
      sensors:
        - {id: t3-x, kind: position_x, unit: m, period_s: 5, range: [0, 2000]}
        - {id: t3-y, kind: position_y, unit: m, period_s: 5, range: [0, 1000]}
    - {id: t4, capacity: 10, home: hub}
  roads:
    - [{x: 0, y: 500}, {x: 2000, y: 500}]
    - [{x: 300, y: 0}, {x: 300, y: 1000}]
"""


def rich_complex() -> Complex:
    return parse_complex(yaml.safe_load(RICH_YAML), "<rich>")


def load_named(name: str) -> Complex:
    return rich_complex() if name == "rich" else load_complex(name)


#: The demo complex joins as soon as it ships (it is package data written by another module).
CONFIGS = ["tiny", "rich"] + (["demo"] if demo_config_path().exists() else [])
#: Sample every sensor every this many ms over the simulated day (a prime, to hit odd phases).
STRIDE_MS = 127_000


@dataclass
class Day:
    complex: Complex
    source: SyntheticSource
    #: sensor -> [(ts, value)] in time order
    series: dict[str, list[tuple[int, float]]]
    #: machine -> [(ts, state)] sampled at the same instants as the sensors
    states: dict[str, list[tuple[int, MachineState]]]
    #: (owner, device, readings) exactly as they would be published
    batches: list[tuple[str, str, list[Reading]]]


def simulate_day(complex_: Complex, seed: int = 7, start: int = T0, span: int = DAY) -> Day:
    src = SyntheticSource(complex_, seed=seed)
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    states: dict[str, list[tuple[int, MachineState]]] = defaultdict(list)
    batches = []
    for ts in range(start, start + span, STRIDE_MS):
        for (owner, device), sids in complex_.devices.items():
            readings = src.sample(sids, ts)
            batches.append((owner, device, readings))
            for r in readings:
                series[r.sensor_id].append((r.ts_ms, r.value))
        for mid in complex_.machines:
            states[mid].append((ts, src.machine_state(mid, ts)))
    return Day(complex_, src, series, states, batches)


@pytest.fixture(scope="module", params=CONFIGS)
def day(request: pytest.FixtureRequest) -> Day:
    return simulate_day(load_named(request.param))


# ---- range and contract ----------------------------------------------------------------------


def test_every_sensor_stays_in_its_range_over_a_simulated_day(day: Day) -> None:
    assert set(day.series) == set(day.complex.sensors)
    for sid, points in day.series.items():
        lo, hi = day.complex.sensors[sid].sensor.range
        bad = [(ts, v) for ts, v in points if not (math.isfinite(v) and lo <= v <= hi)]
        assert not bad, f"{sid}: {len(bad)} value(s) outside [{lo}, {hi}], e.g. {bad[:3]}"


def test_every_published_reading_passes_the_ingest_codec(day: Day) -> None:
    codec = Codec(day.complex)
    now = T0 + DAY  # a fixed "now" at the end of the day: nothing is in the future
    total = 0
    for owner, device, readings in day.batches:
        got = codec.decode(telemetry_topic(owner, device), encode_batch(readings), now)
        assert got.rejections == [], got.rejections[:3]
        assert got.readings == readings
        total += len(readings)
    assert total == sum(len(p) for p in day.series.values())


def test_signals_are_not_flat(day: Day) -> None:
    """Analog signals move (noise, patterns); a constant output means a broken generator."""
    moving_kinds = {
        "power",
        "vibration",
        "temperature",
        "humidity",
        "seismic",
        "smoke",
        "gas",
        "water_level",
    }
    for sid, info in day.complex.sensors.items():
        if info.sensor.kind in moving_kinds:
            values = {v for _, v in day.series[sid]}
            assert len(values) > 5, (
                f"{sid} ({info.sensor.kind}) barely changes: {sorted(values)[:5]}"
            )


def test_source_implements_the_swappable_interface() -> None:
    src = SyntheticSource(load_complex("tiny"))
    assert isinstance(src, SignalSource)
    got = src.sample(["alpha-smt-power", "B-seis-1"], T0)
    assert [r.sensor_id for r in got] == ["alpha-smt-power", "B-seis-1"]
    assert all(r.ts_ms == T0 and isinstance(r.value, float) for r in got)


def test_unknown_sensor_is_a_clear_error() -> None:
    src = SyntheticSource(load_complex("tiny"))
    with pytest.raises(UnknownSensor, match="nope"):
        src.sample(["nope"], T0)


def test_bad_timezone_fails_fast_with_the_setting_named() -> None:
    data = yaml.safe_load(RICH_YAML)
    data["site"]["timezone"] = "Mars/Olympus"
    with pytest.raises(ValueError, match="site.timezone 'Mars/Olympus'"):
        SyntheticSource(parse_complex(data))


# ---- reproducibility -------------------------------------------------------------------------


def _run(complex_: Complex, seed: int, minutes: int = 10) -> list[Reading]:
    src = SyntheticSource(complex_, seed=seed)
    sched = FleetSchedule(complex_, T0 + 7 * HOUR, seed=seed)
    out = []
    for b in sched.pop_until(T0 + 7 * HOUR + minutes * 60_000):
        out.extend(src.sample(b.sensor_ids, b.ts_ms))
    return out


@pytest.mark.parametrize("name", CONFIGS)
def test_same_seed_gives_identical_readings_and_another_seed_does_not(name: str) -> None:
    c = load_named(name)
    a, b = _run(c, seed=3), _run(c, seed=3)
    assert a == b and len(a) > 100
    other = _run(c, seed=4)
    assert [r.value for r in other] != [r.value for r in a]


def test_machine_history_does_not_depend_on_how_often_it_is_sampled() -> None:
    c = rich_complex()
    cal = ShiftCalendar(c.site.shifts, c.site.timezone)
    m = c.machines["press"]
    dense = MachineProcess(m, cal, rng_for(1, "machine", "press"), 99)
    sparse = MachineProcess(m, cal, rng_for(1, "machine", "press"), 99)
    dense.segment_at(T0)
    sparse.segment_at(T0)
    for ts in range(T0, T0 + DAY, 1000):
        dense.state_at(ts)
    for ts in range(T0, T0 + DAY, 600_000):
        assert sparse.state_at(ts) == dense.state_at(ts)
        assert sparse.good_at(ts) == dense.good_at(ts)
        assert sparse.energy_kwh_at(ts) == pytest.approx(dense.energy_kwh_at(ts))


# ---- machines --------------------------------------------------------------------------------


def _values(day: Day, sid: str) -> list[float]:
    return [v for _, v in day.series[sid]]


def test_counters_never_decrease_and_do_count(day: Day) -> None:
    counted = 0
    for sid, info in day.complex.sensors.items():
        if info.sensor.kind in ("good_count", "scrap_count", "energy"):
            vals = _values(day, sid)
            drops = [(a, b) for a, b in zip(vals, vals[1:], strict=False) if b < a]
            assert not drops, f"{sid} decreased: {drops[:3]}"
            counted += vals[-1] > vals[0]
    assert counted > 0, "no counter moved over a whole day"


def test_power_matches_the_machine_state(day: Day) -> None:
    """Power is the configured power_kw of the state plus a few percent of noise."""
    checked = 0
    seen_states: set[MachineState] = set()
    for sid, info in day.complex.sensors.items():
        if info.machine is None or info.sensor.kind != "power":
            continue
        m = day.complex.machines[info.machine]
        scale = 1000.0 if info.sensor.unit == "W" else 1.0
        hi = info.sensor.range[1]
        for (ts, value), (ts2, state) in zip(
            day.series[sid], day.states[info.machine], strict=True
        ):
            assert ts == ts2
            nominal = min(m.power_kw.for_state(state) * scale, hi)
            if nominal == 0:
                assert value == 0.0, f"{sid} at {ts}: {state} draws nothing, read {value}"
            else:
                assert abs(value - nominal) <= 0.12 * nominal, f"{sid} at {ts}: {state} -> {value}"
            seen_states.add(state)
            checked += 1
    assert checked > 0
    assert {MachineState.BUSY, MachineState.IDLE} <= seen_states


def test_state_sensor_reports_the_state_code(day: Day) -> None:
    for sid, info in day.complex.sensors.items():
        if info.machine is not None and info.sensor.kind == "state":
            codes = [MachineState.from_code(v) for v in _values(day, sid)]
            assert codes == [s for _, s in day.states[info.machine]]


def test_machines_are_off_outside_shifts_and_set_up_at_shift_start() -> None:
    d = simulate_day(rich_complex())
    for mid, states in d.states.items():
        for ts, state in states:
            hour = datetime.fromtimestamp(ts / 1000, SEOUL).hour
            if hour >= 22 or hour < 6:  # no shift: off, unless a repair runs on
                assert state in (MachineState.OFF, MachineState.DOWN), (mid, ts, state)
    src = d.source
    assert (
        src.machine_state("press", T0 + 6 * HOUR + 60_000) is MachineState.SETUP
    )  # 06:01, setup 10 min
    # back-to-back shifts: a changeover at 14:00 too (unless the press is broken right then)
    seg = src.machines["press"].segment_at(T0 + 14 * HOUR + 60_000)
    assert seg.state in (MachineState.SETUP, MachineState.DOWN)


def test_failures_follow_mtbf_and_repairs_follow_mttr() -> None:
    c = rich_complex()
    cal = ShiftCalendar((), "UTC")  # around the clock: only failures stop the machine
    m = c.machines["press"]  # MTBF 0.5 h of busy time, MTTR 0.2 h
    p = MachineProcess(m, cal, rng_for(11, "machine", "press"), 5)
    busy = down = failures = 0
    ts, end = T0, T0 + 20 * DAY
    p.segment_at(ts)
    while ts < end:
        seg = p.segment_at(ts)
        length = seg.end_ms - seg.start_ms
        if seg.state is MachineState.BUSY:
            busy += length
        elif seg.state is MachineState.DOWN:
            down += length
            failures += 1
        ts = seg.end_ms
    assert failures > 300
    assert busy / failures / HOUR == pytest.approx(0.5, rel=0.2)
    assert down / failures / HOUR == pytest.approx(0.2, rel=0.2)


def test_vibration_and_heat_rise_and_decay_smoothly() -> None:
    c = rich_complex()
    src = SyntheticSource(c, seed=2)
    p = src.machines["oven"]
    p.segment_at(T0)
    # find an off -> working transition (the morning shift start)
    start = next(
        s
        for s in (p.segment_at(t) for t in range(T0 + 5 * HOUR, T0 + 7 * HOUR, 60_000))
        if s.state is not MachineState.OFF
    )
    heat = [start.heat_level(start.start_ms + k * 10_000) for k in range(30)]
    assert all(b > a for a, b in zip(heat, heat[1:], strict=False)), "heat must rise gradually"
    assert heat[-1] - heat[0] < 0.5, "heat must not jump to its target"
    fast = [start.fast_level(start.start_ms + k * 1000) for k in range(60)]
    assert fast[-1] == pytest.approx(FAST_TARGET[start.state], abs=0.05)
    # and back down at night: the oven cools after the late shift
    evening = p.segment_at(T0 + 22 * HOUR + 1)
    if evening.state is MachineState.OFF:
        assert evening.heat_level(evening.start_ms + 2 * HOUR) < evening.heat0
        assert evening.heat_level(evening.start_ms + 2 * HOUR) > HEAT_TARGET[MachineState.OFF]


def test_busy_machines_run_hotter_and_shake_more(day: Day) -> None:
    for sid, info in day.complex.sensors.items():
        if info.machine is None or info.sensor.kind not in ("temperature", "vibration"):
            continue
        by_state: dict[MachineState, list[float]] = defaultdict(list)
        for (_, v), (_, s) in zip(day.series[sid], day.states[info.machine], strict=True):
            by_state[s].append(v)
        calm = by_state.get(MachineState.OFF) or by_state.get(MachineState.IDLE)
        if by_state.get(MachineState.BUSY) and calm:
            busy_mean = sum(by_state[MachineState.BUSY]) / len(by_state[MachineState.BUSY])
            assert busy_mean > sum(calm) / len(calm), sid


def test_parts_are_counted_at_the_cycle_rate_with_the_scrap_rate() -> None:
    c = rich_complex()
    cal = ShiftCalendar((), "UTC")
    m = c.machines["press"]  # 5 s ideal cycle, 10 % scrap
    p = MachineProcess(m, cal, rng_for(4, "machine", "press"), 8)
    ts, end, busy = T0, T0 + 2 * DAY, 0
    p.segment_at(ts)
    while ts < end:
        seg = p.segment_at(ts)
        busy += (seg.end_ms - seg.start_ms) if seg.state is MachineState.BUSY else 0
        ts = seg.end_ms
    parts = p.parts_at(ts - 1)
    assert busy / 5000 / 1.16 < parts <= busy / 5000
    assert p.scrap_at(ts - 1) / parts == pytest.approx(0.1, abs=0.01)
    assert p.good_at(ts - 1) + p.scrap_at(ts - 1) == parts


# ---- hazards, environment, logistics -------------------------------------------------------------


def test_hazard_sensors_are_quiet(day: Day) -> None:
    for sid, info in day.complex.sensors.items():
        if not info.hazard:
            continue
        s = info.sensor
        lo, hi = s.range
        vals = _values(day, sid)
        if s.kind == "flame":
            assert set(vals) == {lo}, sid
        elif s.kind == "gas":
            assert max(vals) < lo + 0.02 * (hi - lo), sid
        elif s.kind == "smoke":
            assert max(vals) < 0.2, sid
        elif s.kind == "seismic":
            g = 980.665 if s.unit == "gal" else 1.0
            assert max(vals) < 0.02 * g, sid
        elif s.kind == "water_level":
            assert max(vals) - min(vals) < 0.15 * (hi - lo), sid
        elif s.kind == "temperature":
            assert -20 < min(vals) and max(vals) < 45, sid


def test_outdoor_temperature_follows_day_and_season() -> None:
    src = SyntheticSource(rich_complex(), seed=1)
    afternoons = [src.outdoor_temp_c(T0 + d * DAY + 15 * HOUR) for d in range(10)]
    dawns = [src.outdoor_temp_c(T0 + d * DAY + 5 * HOUR) for d in range(10)]
    assert all(a > b for a, b in zip(afternoons, dawns, strict=True))
    january = int(datetime(2026, 1, 15, 15, tzinfo=SEOUL).timestamp() * 1000)
    august = int(datetime(2026, 8, 5, 15, tzinfo=SEOUL).timestamp() * 1000)
    assert src.outdoor_temp_c(august) - src.outdoor_temp_c(january) > 15


def _near_polyline(
    p: tuple[float, float], pts: tuple[tuple[float, float], ...], tol: float
) -> bool:
    if len(pts) == 1:
        return math.dist(p, pts[0]) <= tol
    for a, b in zip(pts, pts[1:], strict=False):
        dx, dy = b[0] - a[0], b[1] - a[1]
        den = dx * dx + dy * dy or 1.0
        t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / den))
        if math.dist(p, (a[0] + t * dx, a[1] + t * dy)) <= tol:
            return True
    return False


def test_trucks_drive_along_their_routes_and_dock_at_the_centre() -> None:
    src = SyntheticSource(rich_complex(), seed=5)
    fleet = src.fleet
    activities: Counter[TruckActivity] = Counter()
    occupancy = []
    places_visited: dict[str, set[str]] = defaultdict(set)
    for ts in range(T0, T0 + DAY, 30_000):
        for tid, proc in fleet.trucks.items():
            leg = proc.leg_at(ts)
            pos = proc.position_at(ts)
            assert _near_polyline(pos, leg.path, 1e-6), (tid, ts, pos, leg.activity)
            if leg.activity is TruckActivity.DRIVING:
                assert proc.speed_kmh_at(ts) > 0
            else:
                assert proc.speed_kmh_at(ts) == 0
                places_visited[tid].add(leg.place or "")
            activities[leg.activity] += 1
        docked = fleet.docked_at(ts)
        assert 0 <= docked <= fleet.dock_capacity == 3
        occupancy.append(docked)
    assert set(activities) == set(TruckActivity)  # parked at night, driving and stopping by day
    assert max(occupancy) > 0
    assert places_visited["t2"] <= {"hub", "acme-f1"}  # dedicated to acme
    assert places_visited["t3"] == {"acme-f1", "hub"}  # based at its factory, shuttles to the hub


def test_routes_follow_the_roads() -> None:
    src = SyntheticSource(rich_complex(), seed=5)
    route = src.fleet.roads.route("hub", "acme-f1")
    # hub (1500, 500) -> road y=500 -> crossing (300, 500) -> road x=300 -> factory (300, 700)
    assert route == ((1500.0, 500.0), (300.0, 500.0), (300.0, 700.0))


def test_truck_positions_and_occupancy_sensors_report_the_fleet() -> None:
    c = rich_complex()
    src = SyntheticSource(c, seed=5)
    for ts in range(T0 + 8 * HOUR, T0 + 10 * HOUR, 60_000):
        x, y, occ, load = (
            r.value for r in src.sample(["t1-x", "t1-y", "hub-occ-n", "t2-load"], ts)
        )
        tx, ty = src.fleet.trucks["t1"].position_at(ts)
        assert math.dist((x, y), (tx, ty)) < 10  # GPS jitter of a metre or two
        assert occ == src.fleet.docked_at(ts)
        assert load == pytest.approx(100 * round(src.fleet.trucks["t2"].load_at(ts)) / 10, abs=0.01)


# ---- shift calendar --------------------------------------------------------------------------


def test_shift_calendar_in_site_time_with_a_shift_across_midnight() -> None:
    tiny = load_complex("tiny")  # 06-14, 14-22, 22-06 in Asia/Seoul
    cal = ShiftCalendar(tiny.site.shifts, tiny.site.timezone)
    at = lambda h, m=0: T0 + h * HOUR + m * 60_000  # noqa: E731
    assert cal.shift_at(at(5, 59)).index == 2  # the night shift that began at 22:00 the day before
    assert cal.shift_at(at(6)).index == 0
    assert cal.shift_at(at(23)).index == 2
    assert cal.next_change_ms(at(7)) == at(14)
    assert cal.local_hour(at(13, 30)) == pytest.approx(13.5)
    rich = rich_complex()
    cal2 = ShiftCalendar(rich.site.shifts, rich.site.timezone)
    assert cal2.shift_at(at(23)) is None
    assert cal2.next_change_ms(at(23)) == at(30)  # 06:00 next day
    assert cal2.shift_at(at(6)).night is False
