"""twin.kpi: periods of the site, ISO 22400-2 maths, and live OEE from a sensor stream."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.live_helpers import T0, smt_with_scrap, tiny_with
from twin.codec import Reading
from twin.kpi.oee import OeeElements
from twin.kpi.periods import SiteCalendar
from twin.kpi.tracker import KpiTracker, kpi_series_id
from twin.live import LiveTwin
from twin.model import MachineState

SEOUL = ZoneInfo("Asia/Seoul")


def local_ms(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=SEOUL).timestamp() * 1000)


def test_shifts_and_days_in_the_site_time_zone() -> None:
    cal = SiteCalendar(tiny_with().site)
    night = cal.shift(local_ms(2026, 11, 28, 1, 30))
    assert night is not None and night.name == "night"
    assert (night.start_ms, night.end_ms) == (local_ms(2026, 11, 27, 22), local_ms(2026, 11, 28, 6))
    assert cal.shift(local_ms(2026, 11, 27, 14)).name == "swing"  # a boundary belongs to the new shift
    day = cal.day(local_ms(2026, 11, 28, 1, 30))
    assert (day.name, day.start_ms, day.end_ms) == (
        "2026-11-28",
        local_ms(2026, 11, 28, 0),
        local_ms(2026, 11, 29, 0),
    )


def test_gaps_between_shifts_belong_to_no_shift_and_no_shifts_means_the_day() -> None:
    site = tiny_with().site.model_copy(update={"shifts": tiny_with().site.shifts[:1]})
    cal = SiteCalendar(site)
    assert cal.shift(local_ms(2026, 11, 27, 15)) is None
    always = SiteCalendar(site.model_copy(update={"shifts": ()}))
    p = always.shift(local_ms(2026, 11, 27, 15))
    assert p is not None and (p.start_ms, p.end_ms) == (
        local_ms(2026, 11, 27, 0),
        local_ms(2026, 11, 28, 0),
    )


def test_elements_sum_then_divide_as_docs_kpis() -> None:
    # two machines: ratios of sums, not mean of ratios
    a = OeeElements(pbt_s=100, apt_s=80, apt_counted_s=80, ideal_s=60, produced=6, good=5, counted=True)
    b = OeeElements(pbt_s=300, apt_s=100, apt_counted_s=100, ideal_s=90, produced=10, good=10, counted=True)
    t = a + b
    assert t.availability == pytest.approx(180 / 400)
    assert t.performance == pytest.approx(150 / 180)
    assert t.quality == pytest.approx(15 / 16)
    assert t.oee == pytest.approx(t.availability * t.performance * t.quality)
    # a machine without counters weighs in availability only
    c = OeeElements(pbt_s=100, apt_s=100)
    assert (t + c).availability == pytest.approx(280 / 500)
    assert (t + c).performance == pytest.approx(t.performance)
    assert math.isnan(c.oee) and math.isnan(OeeElements().availability)
    assert OeeElements(pbt_s=10, counted=True).oee == 0.0  # planned time, nothing produced


def stream_hand_example(tw: LiveTwin) -> tuple[int, int]:
    """docs/kpis.md hand example through the sensors: shift 06-14, break 10:00-10:30 (off),
    two 30-min repairs (down), 318 good and 16 scrap; the good counter restarts at 0 once."""
    start = local_ms(2026, 11, 27, 6)
    plan = [
        (0, 180, MachineState.BUSY),
        (180, 210, MachineState.DOWN),
        (210, 240, MachineState.BUSY),
        (240, 270, MachineState.OFF),
        (270, 420, MachineState.BUSY),
        (420, 450, MachineState.DOWN),
        (450, 480, MachineState.BUSY),
    ]
    per_min = 12  # one reading every 5 s
    states = [next(s for a, b, s in plan if a * per_min <= k < b * per_min) for k in range(480 * per_min)]
    n_busy = states.count(MachineState.BUSY)
    reset_tick = 300 * per_min  # the device restarts: its good counter starts again at 0
    busy_done = 0
    good_at_reset = 0
    for k, state in enumerate(states):
        ts = start + k * 5000
        good, scrap = busy_done * 318 // n_busy, busy_done * 16 // n_busy
        if k == reset_tick:
            good_at_reset = good
        shown = good if k < reset_tick else good - good_at_reset
        tw.feed(
            [
                Reading("alpha-smt-state", ts, state.code),
                Reading("alpha-smt-good", ts, shown),
                Reading("alpha-smt-scrap", ts, scrap),
            ],
            ts,
        )
        busy_done += state is MachineState.BUSY
    end = start + 480 * 60_000
    tw.feed(
        [
            Reading("alpha-smt-good", end - 1, 318 - good_at_reset),
            Reading("alpha-smt-scrap", end - 1, 16),
        ],
        end - 1,
    )
    tw.feed([Reading("alpha-smt-state", end, MachineState.OFF.code)], end)  # closes the last interval
    return start, end


def test_live_oee_matches_the_iso_hand_example_of_docs_kpis() -> None:
    tw = LiveTwin(smt_with_scrap(60.0), start_ms=T0 - 86_400_000)
    start, end = stream_hand_example(tw)
    k = tw.kpis(end - 1)
    m = "kpi.shift.machine.alpha-smt."
    assert k[m + "pbt_h"] == pytest.approx(7.5)
    assert k[m + "apt_h"] == pytest.approx(6.5)
    assert k[m + "good"] == 318 and k[m + "scrap"] == 16 and k[m + "produced"] == 334
    assert k[m + "availability"] == pytest.approx(0.8667, abs=1e-4)
    assert k[m + "performance"] == pytest.approx(0.8564, abs=1e-4)
    assert k[m + "quality"] == pytest.approx(0.9521, abs=1e-4)
    assert k[m + "oee"] == pytest.approx(0.7067, abs=1e-4)
    # no power readings: energy from the configured draw per state (8 kW busy, 0.3 kW down)
    assert k[m + "energy_kwh"] == pytest.approx(6.5 * 8 + 1.0 * 0.3)
    assert k[m + "energy_per_good_unit_kwh"] == pytest.approx(52.3 / 318)
    assert k[m + "throughput_uph"] == pytest.approx(318 / 8, rel=1e-6)
    # the factory, its tenant and the complex hold only this machine's output: same OEE
    for level in ("factory.alpha-f1", "tenant.alpha-elec", "complex"):
        assert k[f"kpi.shift.{level}.oee"] == pytest.approx(0.7067, abs=1e-4), level
    assert tw.kpis(end - 1)["kpi.day.machine.alpha-smt.oee"] == pytest.approx(0.7067, abs=1e-4)


def test_finished_shift_is_written_once_at_its_last_millisecond() -> None:
    tw = LiveTwin(smt_with_scrap(60.0), start_ms=T0 - 86_400_000)
    start, end = stream_hand_example(tw)
    first = tw.kpi_readings(end + 120_000)
    sid = kpi_series_id("shift", "machine", "alpha-smt", "oee")
    mine = [r for r in first if r.sensor_id == sid]
    assert [(r.ts_ms, round(r.value, 4)) for r in mine] == [(end - 1, 0.7067)]
    assert all(math.isfinite(r.value) for r in first)
    assert not [r for r in tw.kpi_readings(end + 130_000) if r.sensor_id == sid]


def test_restart_continues_the_shift_from_the_historian_values() -> None:
    tw = LiveTwin(smt_with_scrap(60.0), start_ms=T0 - 86_400_000)
    start = local_ms(2026, 11, 27, 6)
    for k in range(0, 721):  # one hour busy, one good part a minute
        ts = start + k * 5000
        tw.feed([Reading("alpha-smt-state", ts, 2), Reading("alpha-smt-good", ts, k // 12)], ts)
    stored = {r.sensor_id: r for r in tw.kpi_readings(start + 3_600_000)}
    again = LiveTwin(smt_with_scrap(60.0), start_ms=start + 3_600_000)
    assert (
        again.restore_kpis({k: stored[k] for k in again.kpi.restore_series(0) if k in stored}, start + 3_601_000) == 2
    )  # this machine's shift and day
    before = tw.kpis(start + 3_600_000)
    after = again.kpis(start + 3_600_000)
    for name in ("availability", "good", "energy_kwh", "apt_h"):
        key = f"kpi.shift.machine.alpha-smt.{name}"
        assert after[key] == pytest.approx(before[key]), name


def test_tracker_splits_time_at_the_shift_boundary() -> None:
    c = tiny_with()
    kt = KpiTracker(c)
    t = local_ms(2026, 11, 27, 13, 59)
    kt.add_time("alpha-smt", t, t + 120_000, MachineState.BUSY, 8.0)
    day_shift = kt.values(t, "shift")
    swing = kt.values(t + 120_000, "shift")
    assert day_shift["kpi.shift.machine.alpha-smt.apt_h"] == pytest.approx(1 / 60)
    assert swing["kpi.shift.machine.alpha-smt.apt_h"] == pytest.approx(1 / 60)
    assert kt.values(t, "day")["kpi.day.machine.alpha-smt.apt_h"] == pytest.approx(2 / 60)
