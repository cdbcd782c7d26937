"""Shifts and days of the site in its own time zone (pure: time comes in as epoch ms).

The live KPIs cover the current *shift* and the current *day*. A day runs from local
midnight to local midnight (23 or 25 hours on daylight-saving days). Shifts come from
``site.shifts`` and may cross midnight; outside every shift there is no current shift.
A site without shifts has one shift per day, equal to the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twin.model import SiteInfo

__all__ = ["Period", "SiteCalendar"]

_CACHE_DAYS = 64


@dataclass(frozen=True, slots=True)
class Period:
    """One occurrence of a shift or a day: ``[start_ms, end_ms)`` in UTC, and its name."""

    kind: str  # "shift" or "day"
    name: str  # shift name, or the local date (YYYY-MM-DD)
    start_ms: int
    end_ms: int

    def __contains__(self, ts_ms: object) -> bool:
        return isinstance(ts_ms, int) and self.start_ms <= ts_ms < self.end_ms


class SiteCalendar:
    """Answers "which shift / which day is it at t" for a site."""

    def __init__(self, site: SiteInfo):
        try:
            self.tz = ZoneInfo(site.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"site.timezone {site.timezone!r} is not a known IANA time zone") from exc
        self._shifts = []
        for s in site.shifts:
            hh, mm = (int(p) for p in s.start.split(":"))
            self._shifts.append((s.name, time(hh, mm), timedelta(hours=s.hours)))
        self._days: dict[date, Period] = {}
        self._shift_cache: dict[date, tuple[Period, ...]] = {}

    @property
    def has_shifts(self) -> bool:
        return bool(self._shifts)

    def _local_date(self, ts_ms: int) -> date:
        return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.tz).date()

    def _utc_ms(self, d: date, t: time) -> int:
        return int(datetime.combine(d, t, tzinfo=self.tz).timestamp() * 1000)

    def _day_of(self, d: date) -> Period:
        got = self._days.get(d)
        if got is None:
            if len(self._days) > _CACHE_DAYS:
                self._days.clear()
            got = Period(
                "day",
                d.isoformat(),
                self._utc_ms(d, time()),
                self._utc_ms(d + timedelta(days=1), time()),
            )
            self._days[d] = got
        return got

    def day(self, ts_ms: int) -> Period:
        """The local calendar day holding ``ts_ms``."""
        return self._day_of(self._local_date(ts_ms))

    def _shifts_starting(self, d: date) -> tuple[Period, ...]:
        got = self._shift_cache.get(d)
        if got is None:
            if len(self._shift_cache) > _CACHE_DAYS:
                self._shift_cache.clear()
            out = []
            for name, start, length in self._shifts:
                begin = datetime.combine(d, start, tzinfo=self.tz)
                end = begin.astimezone(UTC) + length  # hours of work, whatever the clocks do
                out.append(Period("shift", name, int(begin.timestamp() * 1000), int(end.timestamp() * 1000)))
            got = tuple(out)
            self._shift_cache[d] = got
        return got

    def shift(self, ts_ms: int) -> Period | None:
        """The shift running at ``ts_ms`` (the latest-started one if shifts overlap), or None."""
        if not self._shifts:
            whole = self.day(ts_ms)
            return Period("shift", "day", whole.start_ms, whole.end_ms)
        d = self._local_date(ts_ms)
        best: Period | None = None
        for day in (d - timedelta(days=1), d):
            for p in self._shifts_starting(day):
                if p.start_ms <= ts_ms < p.end_ms and (best is None or p.start_ms > best.start_ms):
                    best = p
        return best

    def period(self, kind: str, ts_ms: int) -> Period | None:
        return self.day(ts_ms) if kind == "day" else self.shift(ts_ms)
