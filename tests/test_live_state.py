"""twin.live.state: machine state from the state sensor, else from power, else unknown."""

from __future__ import annotations

import pytest

from tests.live_helpers import T0, ms, tiny_with
from twin.live.state import MachineTracker, classify_power, power_levels
from twin.model import MachineState


def tracker(machine: str, intervals: list | None = None, counts: list | None = None) -> MachineTracker:
    c = tiny_with()
    m = c.machines[machine]
    return MachineTracker(
        m,
        "l",
        "f",
        3.0,
        (lambda *a: intervals.append(a)) if intervals is not None else None,
        (lambda *a: counts.append(a)) if counts is not None else None,
    )


def test_state_sensor_wins_while_fresh_then_power_then_unknown() -> None:
    t = tracker("alpha-smt")  # state period 5 s (stale after 15 s), power period 1 s (after 3 s)
    t.on_reading("alpha-smt-state", ms(0), MachineState.SETUP.code)
    t.on_reading("alpha-smt-power", ms(0), 8.1)
    assert t.state_at(ms(10)) == (MachineState.SETUP, ms(0), "state_sensor")
    t.on_reading("alpha-smt-power", ms(14), 8.0)
    # state sensor silent; power was silent too before 14 s, so its busy state began then
    assert t.state_at(ms(15.001)) == (MachineState.BUSY, ms(14), "power")
    assert t.state_at(ms(17.001)) == (None, None, "none")
    assert t.power_at(ms(17.001)) is None


def test_since_is_when_the_state_began() -> None:
    t = tracker("alpha-smt")
    for s, state in ((0, 1), (5, 2), (10, 2), (15, 2), (20, 4)):
        t.on_reading("alpha-smt-state", ms(s), state)
    assert t.state_at(ms(21)) == (MachineState.DOWN, ms(20), "state_sensor")
    t.on_reading("alpha-smt-state", ms(25), 4)
    assert t.state_at(ms(26))[1] == ms(20)
    t.on_reading("alpha-smt-state", ms(100), 4)  # after a silence the state starts anew
    assert t.state_at(ms(101))[1] == ms(100)


def test_power_picks_the_nearest_configured_draw() -> None:
    levels = power_levels(tiny_with().machines["alpha-aoi"])  # off 0, idle 1, busy 3
    assert classify_power(levels, 0.3) is MachineState.OFF
    assert classify_power(levels, 1.6) is MachineState.IDLE
    assert classify_power(levels, 2.2) is MachineState.BUSY
    assert classify_power(levels, 9.0) is MachineState.BUSY


def test_intervals_report_time_in_the_known_state_and_skip_silences() -> None:
    got: list = []
    t = tracker("alpha-smt", intervals=got)
    t.on_reading("alpha-smt-state", ms(0), 2)
    t.on_reading("alpha-smt-state", ms(5), 1)
    t.on_reading("alpha-smt-state", ms(10), 1)
    t.on_reading("alpha-smt-state", ms(60), 2)  # 50 s of silence: unknown, not idle
    t.on_reading("alpha-smt-state", ms(65), 2)
    t.flush()
    assert [(a[1] - T0, a[2] - T0, a[3]) for a in got] == [
        (0, 5000, MachineState.BUSY),
        (5000, 10000, MachineState.IDLE),
        (60000, 65000, MachineState.BUSY),
    ]
    assert [a[4] for a in got] == [8.0, 2.0, 8.0]  # no fresh power reading: the configured draw


def test_contiguous_spans_of_one_state_are_reported_together() -> None:
    got: list = []
    t = tracker("alpha-smt", intervals=got)
    for k in range(40):  # 4 readings a second, busy, power wobbling around 8 kW
        t.on_reading("alpha-smt-state", ms(k / 4), 2)
        t.on_reading("alpha-smt-power", ms(k / 4), 7.5 if k % 2 else 8.5)
    t.flush()
    assert [(a[1] - T0, a[2] - T0, a[3]) for a in got] == [(0, 9750, MachineState.BUSY)]
    assert got[0][4] == pytest.approx(8.0, abs=0.03)  # energy kept: the average draw


def test_counter_increments_and_resets() -> None:
    counts: list = []
    t = tracker("alpha-smt", counts=counts)
    for s, v in ((0, 100), (5, 103), (10, 103), (15, 2), (20, 5)):
        t.on_reading("alpha-smt-good", ms(s), v)
    assert [(a[1] - T0, a[2]) for a in counts] == [(5000, 3.0), (15000, 2.0), (20000, 3.0)]


def test_a_machine_is_stale_only_when_all_its_sensors_are() -> None:
    t = tracker("alpha-smt")
    last = {"alpha-smt-state": ms(0)}
    assert not t.stale(ms(10), last.get, ms(0))  # power never heard, but state fresh
    assert t.stale(ms(15.001), last.get, ms(0))
