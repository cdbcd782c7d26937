"""Shift calendar and local time of day for the site (pure: time comes in as epoch ms).

Shifts are given in the site's local time zone (``site.timezone``); a shift may
cross midnight. Back-to-back shifts (06-14, 14-22, 22-06) make a 24/7 plant in
which every shift change is still a boundary (a changeover).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twin.model import Shift

__all__ = ["ShiftSlot", "ShiftCalendar", "load_timezone"]

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

#: Shifts starting in this local-hour window count as night shifts (lower utilisation).
NIGHT_START_HOURS = frozenset({20, 21, 22, 23, 0, 1, 2, 3})


#: The one endless "shift" of a site without shifts.
_ALWAYS_BOUND_MS = 2**62


def load_timezone(name: str) -> ZoneInfo:
    """``ZoneInfo(name)`` with an error that says which setting is wrong."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"site.timezone {name!r} is not a known IANA time zone") from exc


@dataclass(frozen=True, slots=True)
class ShiftSlot:
    """One occurrence of a shift: which shift, and its UTC bounds [start_ms, end_ms)."""

    index: int
    start_ms: int
    end_ms: int
    night: bool


_ALWAYS = ShiftSlot(-1, -_ALWAYS_BOUND_MS, _ALWAYS_BOUND_MS, False)


class ShiftCalendar:
    """Answers "which shift is on at t" and "when does that change" for a site."""

    def __init__(self, shifts: Sequence[Shift], timezone: str = "UTC"):
        self.tz = load_timezone(timezone)
        self._shifts = tuple(shifts)
        self._starts = []
        for s in self._shifts:
            hh, mm = (int(p) for p in s.start.split(":"))
            self._starts.append((time(hh, mm), round(s.hours * _HOUR_MS), hh in NIGHT_START_HOURS))
        self._by_day: dict[date, tuple[ShiftSlot, ...]] = {}
        self._offset_by_hour: dict[int, int] = {}

    @property
    def always_on(self) -> bool:
        """No shifts configured: the plant runs around the clock without changeovers."""
        return not self._shifts

    # ---- local time ---------------------------------------------------------

    def utc_offset_ms(self, ts_ms: int) -> int:
        hour = ts_ms // _HOUR_MS  # offsets change on whole hours (or half hours) only
        got = self._offset_by_hour.get(hour)
        if got is None:
            dt = datetime.fromtimestamp(hour * _HOUR_MS / 1000, UTC).astimezone(self.tz)
            off = dt.utcoffset()
            got = int(off.total_seconds() * 1000) if off is not None else 0
            if len(self._offset_by_hour) > 10_000:
                self._offset_by_hour.clear()
            self._offset_by_hour[hour] = got
        return got

    def local_hour(self, ts_ms: int) -> float:
        """Local time of day in hours, 0 <= h < 24."""
        return ((ts_ms + self.utc_offset_ms(ts_ms)) % _DAY_MS) / _HOUR_MS

    def day_of_year(self, ts_ms: int) -> float:
        """Local day of year (0-based, fractional) for seasonal patterns."""
        local_days = (ts_ms + self.utc_offset_ms(ts_ms)) / _DAY_MS
        # 1970-01-01 is day 0 of its year; 365.2425 keeps the phase within a day over centuries.
        return math.fmod(local_days, 365.2425)

    # ---- shifts -------------------------------------------------------------

    def _local_date(self, ts_ms: int) -> date:
        return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.tz).date()

    def _slots_of(self, day: date) -> tuple[ShiftSlot, ...]:
        got = self._by_day.get(day)
        if got is None:
            slots = []
            for i, (start, length_ms, night) in enumerate(self._starts):
                local = datetime.combine(day, start, tzinfo=self.tz)
                begin = int(local.timestamp() * 1000)
                slots.append(ShiftSlot(i, begin, begin + length_ms, night))
            got = tuple(slots)
            if len(self._by_day) > 64:
                self._by_day.clear()
            self._by_day[day] = got
        return got

    def _slots_near(self, ts_ms: int) -> list[ShiftSlot]:
        d = self._local_date(ts_ms)
        out: list[ShiftSlot] = []
        for k in (-1, 0, 1):
            out.extend(self._slots_of(d + timedelta(days=k)))
        return out

    def shift_at(self, ts_ms: int) -> ShiftSlot | None:
        """The shift on at ``ts_ms`` (the latest started if shifts overlap), or None."""
        if self.always_on:
            return _ALWAYS
        best: ShiftSlot | None = None
        for s in self._slots_near(ts_ms):
            if s.start_ms <= ts_ms < s.end_ms and (best is None or s.start_ms > best.start_ms):
                best = s
        return best

    def next_change_ms(self, ts_ms: int) -> int:
        """The first shift start or end strictly after ``ts_ms``."""
        if self.always_on:
            return ts_ms + _DAY_MS
        candidates = [
            b for s in self._slots_near(ts_ms) for b in (s.start_ms, s.end_ms) if b > ts_ms
        ]
        if not candidates:  # only if every shift lasts 0 h, which the model forbids
            return ts_ms + _DAY_MS
        return min(candidates)
