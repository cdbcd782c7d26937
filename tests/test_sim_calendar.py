"""Shift calendars with planned downtime."""

from __future__ import annotations

import math

import pytest

from simulations.calendar import DAY_S, WorkCalendar, parse_hhmm

H = 3600.0


def test_two_shifts_with_a_daily_break():
    cal = WorkCalendar.build([("06:00", 8), ("14:00", 8)], [("12:00", 0.5, 1, 0)])
    assert cal.windows == ((6 * H, 12 * H), (12.5 * H, 22 * H))
    assert cal.is_working(7 * H) and not cal.is_working(12.2 * H) and not cal.is_working(23 * H)
    assert cal.next_change(7 * H) == 12 * H
    assert cal.next_change(12 * H) == 12.5 * H
    assert cal.next_change(22 * H) == DAY_S + 6 * H
    assert cal.working_fraction == pytest.approx(15.5 / 24)
    # 1 h of work starting at 11:30 ends at 13:00 (the break does not count).
    assert cal.advance(11.5 * H, 1 * H) == pytest.approx(13 * H)
    # 20 h of work from 21:00: 1 h today, 15.5 h tomorrow, 3.5 h the day after from 06:00.
    assert cal.advance(21 * H, 20 * H) == pytest.approx(2 * DAY_S + 9.5 * H)
    assert cal.working_time(0, 2 * DAY_S) == pytest.approx(31 * H)


def test_night_shift_wraps_midnight_and_weekly_maintenance():
    cal = WorkCalendar.build([("22:00", 8)], [("00:00", 24, 7, 6)])
    assert cal.period_s == 7 * DAY_S
    assert cal.is_working(23 * H) and cal.is_working(DAY_S + 5 * H) and not cal.is_working(DAY_S + 7 * H)
    # Day 6 (the seventh) is off all day: day 5's night shift stops at midnight, day 6's
    # does not start, and work resumes at midnight into day 7 (the next cycle).
    assert not cal.is_working(6 * DAY_S + 2 * H)
    assert not cal.is_working(6 * DAY_S + 22.5 * H)
    assert cal.is_working(7 * DAY_S + 1 * H)
    assert cal.working_time(0, 7 * DAY_S) == pytest.approx(6 * 8 * H)


def test_advance_over_many_periods_matches_working_time():
    cal = WorkCalendar.build([("08:00", 9)], [("12:00", 1, 1, 0)])
    for start in (0.0, 9.5 * H, 17.2 * H, 3.3 * DAY_S):
        for work in (10.0, 8 * H, 40 * H, 1000 * H):
            end = cal.advance(start, work)
            assert cal.working_time(start, end) == pytest.approx(work, rel=1e-9, abs=1e-6)


def test_always_open_and_errors():
    cal = WorkCalendar.always()
    assert cal.is_always and cal.is_working(123.0) and math.isinf(cal.next_change(5.0))
    assert WorkCalendar.build([]).is_always
    with pytest.raises(ValueError, match="no working time"):
        WorkCalendar.build([("06:00", 1)], [("06:00", 1, 1, 0)])
    with pytest.raises(ValueError, match="every_days"):
        WorkCalendar.build([("06:00", 8)], [("06:00", 1, 2, 2)])
    with pytest.raises(ValueError, match="between 00:00 and 23:59"):
        parse_hhmm("25:00")
