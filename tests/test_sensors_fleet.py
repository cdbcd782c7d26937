"""The fleet schedule, the simulated clock and the paced loop (pure; fake clocks, fake sink)."""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence

import pytest
import yaml

from sensors.fleet import STAGGER_MAX_MS, FleetSchedule, SimClock, period_ms
from sensors.runner import MAX_READINGS_PER_MESSAGE, FleetRunner, device_messages
from sensors.signals import SyntheticSource
from tests.test_sensors_signals import CONFIGS, HOUR, T0, load_named
from twin.codec import Reading
from twin.config import load_complex, parse_complex, tiny_config_path

# ---- schedule --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_each_sensor_is_due_once_per_period_over_a_simulated_hour(name: str) -> None:
    c = load_named(name)
    sched = FleetSchedule(c, T0)
    counts: Counter[str] = Counter()
    for b in sched.pop_until(T0 + HOUR - 1):
        counts.update(b.sensor_ids)
    for sid, info in c.sensors.items():
        expected = HOUR / period_ms(info.sensor.period_s)
        assert abs(counts[sid] - expected) <= 1, (sid, counts[sid], expected)


@pytest.mark.parametrize("name", CONFIGS)
def test_batches_are_one_per_device_and_time_in_time_order(name: str) -> None:
    c = load_named(name)
    sched = FleetSchedule(c, T0)
    batches = sched.pop_until(T0 + 10 * 60_000)
    seen: set[tuple[int, str, str]] = set()
    last_ts = T0
    for b in batches:
        assert b.ts_ms >= last_ts
        last_ts = b.ts_ms
        key = (b.ts_ms, b.owner, b.device)
        assert key not in seen, f"two messages for {b.owner}/{b.device} at {b.ts_ms}"
        seen.add(key)
        assert set(b.sensor_ids) <= set(c.devices[(b.owner, b.device)])
        assert len(set(b.sensor_ids)) == len(b.sensor_ids)


@pytest.mark.parametrize("name", CONFIGS)
def test_samples_are_exactly_one_period_apart(name: str) -> None:
    c = load_named(name)
    times: dict[str, list[int]] = defaultdict(list)
    for b in FleetSchedule(c, T0).pop_until(T0 + 15 * 60_000):
        for sid in b.sensor_ids:
            times[sid].append(b.ts_ms)
    for sid, ts in times.items():
        p = period_ms(c.sensors[sid].sensor.period_s)
        assert {b - a for a, b in zip(ts, ts[1:], strict=False)} <= {p}, sid
        assert T0 <= ts[0] < T0 + p


@pytest.mark.parametrize("name", CONFIGS)
def test_first_samples_are_staggered_but_a_device_stays_aligned(name: str) -> None:
    c = load_named(name)
    first: dict[str, int] = {}
    for b in FleetSchedule(c, T0).pop_until(T0 + 3_600_000):
        for sid in b.sensor_ids:
            first.setdefault(sid, b.ts_ms)
    per_ms = Counter(first.values())
    # no millisecond carries more than a tenth of the fleet (plus one device's worth)
    biggest_device = max(len(s) for s in c.devices.values())
    assert max(per_ms.values()) <= max(biggest_device, len(c.sensors) // 10)
    assert len(per_ms) >= len(c.devices) // 2
    for sids in c.devices.values():
        phases = {first[s] - T0 for s in sids}
        shortest = min(period_ms(c.sensors[s].sensor.period_s) for s in sids)
        assert all(ph < shortest for ph in phases)
        # all sensors of a device share its phase: they come in the same batches
        assert len(phases) == 1


def test_slow_devices_still_start_within_the_stagger_cap() -> None:
    data = yaml.safe_load(tiny_config_path().read_text())
    for z in data["zones"]:
        for h in z.get("hazard_sensors", []):
            h["period_s"] = 600
    c = parse_complex(data)
    first: dict[str, int] = {}
    for b in FleetSchedule(c, T0).pop_until(T0 + 600_000):
        for sid in b.sensor_ids:
            first.setdefault(sid, b.ts_ms)
    assert len(first) == len(c.sensors)
    for z in c.zones:
        phases = {first[h.id] - T0 for h in z.hazard_sensors}
        assert len(phases) == 1 and 0 <= phases.pop() < STAGGER_MAX_MS


def test_stagger_off_fires_everything_at_the_start() -> None:
    c = load_complex("tiny")
    batches = FleetSchedule(c, T0, stagger=False).pop_until(T0)
    assert sum(len(b.sensor_ids) for b in batches) == len(c.sensors)


def test_bounded_pops_give_the_same_sequence_and_never_split_a_time() -> None:
    c = load_named(CONFIGS[-1])
    whole = FleetSchedule(c, T0).pop_until(T0 + 5 * 60_000)
    sched = FleetSchedule(c, T0)
    parts = []
    while True:
        chunk = sched.pop_until(T0 + 5 * 60_000, max_batches=7)
        if not chunk:
            break
        if parts:
            assert chunk[0].ts_ms > parts[-1].ts_ms  # a due time is never split between calls
        parts.extend(chunk)
    assert parts == whole


def test_schedule_rejects_a_negative_start() -> None:
    with pytest.raises(ValueError, match="start_ms"):
        FleetSchedule(load_complex("tiny"), -1)


# ---- simulated clock -------------------------------------------------------------------------


def test_clock_runs_fast_from_the_past_then_real_time_and_never_ahead() -> None:
    wall0 = T0
    clock = SimClock(wall0 - 24 * HOUR, wall0, 60.0)
    catch_up = wall0 + math.ceil(24 * HOUR / 59)  # 60 x sim vs 1 x wall: gains 59 s per second
    assert clock.sim_at(wall0) == wall0 - 24 * HOUR
    assert clock.sim_at(wall0 + 1000) == wall0 - 24 * HOUR + 60_000
    assert not clock.caught_up(catch_up - 1000)
    assert clock.caught_up(catch_up + 1)
    for wall in range(wall0, wall0 + 2 * (catch_up - wall0), 7_919):
        assert clock.sim_at(wall) <= wall
    assert clock.sim_at(catch_up + HOUR) == catch_up + HOUR  # real time after catching up


def test_clock_wall_at_is_the_inverse_of_sim_at() -> None:
    for speed in (0.5, 1.0, 7.0, 600.0):
        clock = SimClock(T0 - HOUR, T0, speed)
        for sim in range(T0 - HOUR, T0 + HOUR, 611_111):
            w = clock.wall_at(sim)
            assert clock.sim_at(w) >= sim
            assert clock.sim_at(w - 1) < sim


@pytest.mark.parametrize("speed", [0.0, -1.0, math.nan, math.inf])
def test_clock_rejects_bad_speeds(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        SimClock(T0, T0, speed)


def test_clock_refuses_a_start_in_the_future() -> None:
    with pytest.raises(ValueError, match="future"):
        SimClock(T0 + 1, T0, 1.0)


# ---- the paced loop, on fake time ------------------------------------------------------------


class FakeTime:
    """Wall and monotonic clocks that only move when the loop waits."""

    def __init__(self, wall_ms: int):
        self.wall = wall_ms
        self.mono = 1000.0
        self.waits: list[float] = []

    def wall_ms(self) -> int:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.advance(seconds)
        return False

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += round(seconds * 1000)


class FakeSink:
    """Accepts batches (optionally refusing some first) and records what it got."""

    def __init__(self, clock: FakeTime, refuse: int = 0, refuse_forever: bool = False):
        self.clock = clock
        self.refuse = refuse
        self.refuse_forever = refuse_forever
        self.got: list[tuple[str, str, list[Reading], int]] = []
        self.flushed = False

    def offer(
        self, owner: str, device: str, readings: Sequence[Reading], timeout: float = 0.2
    ) -> bool:
        if self.refuse_forever or self.refuse > 0:
            self.refuse -= 1
            self.clock.advance(timeout)  # a full window costs time
            return False
        self.got.append((owner, device, list(readings), self.clock.wall))
        return True

    def poll(self) -> int:
        return 0

    def flush(self, timeout: float) -> bool:
        self.flushed = True
        return True


def _runner(name: str, clock: SimClock, t: FakeTime, sink: FakeSink) -> FleetRunner:
    c = load_named(name)
    return FleetRunner(
        FleetSchedule(c, clock.sim_start_ms),
        SyntheticSource(c),
        sink,
        clock,
        wall_ms=t.wall_ms,
        monotonic=t.monotonic,
        wait=t.wait,
    )


def test_loop_at_speed_publishes_sim_time_and_never_a_future_timestamp() -> None:
    t = FakeTime(T0)
    clock = SimClock(T0 - HOUR, T0, 60.0)
    sink = FakeSink(t)
    result = _runner("tiny", clock, t, sink).run(threading.Event(), duration_s=30)
    assert result.stopped_by == "duration" and sink.flushed
    stamps = [r.ts_ms for _, _, rs, _ in sink.got for r in rs]
    assert all(r.ts_ms <= wall for _, _, rs, wall in sink.got for r in rs)
    # 30 s of wall time at 60 x is 30 simulated minutes, minus at most one step of lag
    assert 29 * 60_000 <= max(stamps) - (T0 - HOUR) <= 30 * 60_000
    assert result.readings == len(stamps)


def test_loop_after_catching_up_runs_at_real_time() -> None:
    t = FakeTime(T0)
    clock = SimClock(T0 - 10_000, T0, 11.0)  # catches up after 1 s of wall time
    sink = FakeSink(t)
    _runner("tiny", clock, t, sink).run(threading.Event(), duration_s=20)
    stamps = [r.ts_ms for _, _, rs, _ in sink.got for r in rs]
    assert max(stamps) <= t.wall
    assert max(stamps) >= t.wall - 1000  # right behind the wall clock, not racing ahead
    assert all(r.ts_ms <= wall for _, _, rs, wall in sink.got for r in rs)


def test_loop_waits_for_room_instead_of_dropping() -> None:
    t = FakeTime(T0)
    clock = SimClock(T0, T0, 1.0)
    full = FakeSink(t, refuse=25)
    result = _runner("tiny", clock, t, full).run(threading.Event(), duration_s=20)
    free_t = FakeTime(T0)
    free = FakeSink(free_t)
    _runner("tiny", SimClock(T0, T0, 1.0), free_t, free).run(threading.Event(), duration_s=20)
    # the refusals cost time but no reading: what went out is the free run up to that time
    got = [(r.sensor_id, r.ts_ms, r.value) for _, _, rs, _ in full.got for r in rs]
    want = {(r.sensor_id, r.ts_ms, r.value) for _, _, rs, _ in free.got for r in rs}
    last = max(ts for _, ts, _ in got)
    assert len(got) == len(set(got)) > 0
    assert set(got) == {w for w in want if w[1] <= last}
    assert result.unsent_readings == 0


def test_loop_stops_on_request_even_while_the_broker_holds_it_up() -> None:
    t = FakeTime(T0)
    clock = SimClock(T0 - HOUR, T0, 100.0)
    sink = FakeSink(t, refuse_forever=True)
    stop = threading.Event()
    runner = _runner("tiny", clock, t, sink)
    original = t.advance

    def advance(seconds: float) -> None:
        original(seconds)
        if t.mono > 1005:
            stop.set()  # "Ctrl-C" five seconds in

    t.advance = advance  # type: ignore[method-assign]
    result = runner.run(stop)
    assert result.stopped_by == "stop"
    assert result.readings == 0 and result.unsent_readings > 0
    assert sink.flushed


def test_at_real_time_a_message_is_one_sample_of_one_device() -> None:
    t = FakeTime(T0)
    sink = FakeSink(t)
    _runner("tiny", SimClock(T0, T0, 1.0), t, sink).run(threading.Event(), duration_s=30)
    c = load_complex("tiny")
    assert len(sink.got) > 50
    for owner, device, readings, _ in sink.got:
        assert len({r.ts_ms for r in readings}) == 1
        assert {r.sensor_id for r in readings} <= set(c.devices[(owner, device)])


def test_faster_than_real_time_a_message_carries_a_tick_of_one_device() -> None:
    t = FakeTime(T0)
    sink = FakeSink(t)
    result = _runner("tiny", SimClock(T0 - HOUR, T0, 600.0), t, sink).run(
        threading.Event(), duration_s=5
    )
    c = load_complex("tiny")
    multi = 0
    for owner, device, readings, _ in sink.got:
        assert {r.sensor_id for r in readings} <= set(c.devices[(owner, device)])
        assert [r.ts_ms for r in readings] == sorted(r.ts_ms for r in readings)
        multi += len({r.ts_ms for r in readings}) > 1
    assert multi > len(sink.got) // 2  # most messages bundle several samples
    assert result.messages == len(sink.got)
    # far fewer messages than due batches: the message rate is bounded by devices x ticks
    n_due = len(FleetSchedule(c, T0 - HOUR).pop_until(result.sim_now_ms))
    assert len(sink.got) < n_due / 10


def test_device_messages_split_past_the_size_cap() -> None:
    c = load_complex("tiny")
    sched = FleetSchedule(c, T0)
    batches = [b for b in sched.pop_until(T0 + 2 * HOUR) if b.device == "A"]
    msgs = device_messages(batches, SyntheticSource(c))
    sizes = [len(rs) for _, _, rs in msgs]
    assert max(sizes) == MAX_READINGS_PER_MESSAGE
    assert sum(sizes) == sum(len(b.sensor_ids) for b in batches)
    flat = [r for _, _, rs in msgs for r in rs]
    assert [r.ts_ms for r in flat] == sorted(r.ts_ms for r in flat)


def test_runner_rejects_a_zero_tick() -> None:
    c = load_complex("tiny")
    t = FakeTime(T0)
    with pytest.raises(ValueError, match="tick_s"):
        FleetRunner(
            FleetSchedule(c, T0), SyntheticSource(c), FakeSink(t), SimClock(T0, T0, 1.0), tick_s=0
        )
