"""Working time: shifts and planned downtime as a periodic calendar.

Simulation time is in seconds; t = 0 is 00:00 site time of the first simulated
day. A calendar is a set of working windows repeating every ``period_s`` (one day,
or several days when planned downtime recurs every N days). Outside the windows
a factory is *planned* off: that time is not part of the planned busy time of
ISO 22400 and costs no availability.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["DAY_S", "WorkCalendar", "parse_hhmm"]

DAY_S = 86_400.0


def parse_hhmm(text: str) -> float:
    """``"06:30"`` -> seconds after midnight."""
    try:
        hh, mm = text.split(":")
        h, m = int(hh), int(mm)
    except (ValueError, AttributeError):
        raise ValueError(f"time of day must look like 06:30 (got {text!r})") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"time of day must be between 00:00 and 23:59 (got {text!r})")
    return h * 3600.0 + m * 60.0


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(base: list[tuple[float, float]], cut: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a, b in base:
        pieces = [(a, b)]
        for c, d in cut:
            nxt = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if x < c:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out.extend(pieces)
    return _union(out)


@dataclass(frozen=True)
class WorkCalendar:
    """Working windows ``[start, end)`` within one period, repeating forever."""

    period_s: float
    windows: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.period_s > 0 or not math.isfinite(self.period_s):
            raise ValueError(f'"period_s" must be a finite number > 0 (got {self.period_s!r})')
        if not self.windows:
            raise ValueError("a calendar needs at least one working window")
        prev = 0.0
        for a, b in self.windows:
            if not (prev <= a < b <= self.period_s):
                raise ValueError(f"windows must be sorted, disjoint and inside [0, {self.period_s}] (got {a}, {b})")
            prev = b
        object.__setattr__(self, "_starts", [a for a, _ in self.windows])
        object.__setattr__(self, "_work_per_period", sum(b - a for a, b in self.windows))

    # ---- construction ----------------------------------------------------------

    @classmethod
    def always(cls) -> WorkCalendar:
        """Working around the clock."""
        return cls(DAY_S, ((0.0, DAY_S),))

    @classmethod
    def build(
        cls,
        shifts: Sequence[tuple[str, float]],
        downtime: Sequence[tuple[str, float, int, int]] = (),
    ) -> WorkCalendar:
        """From shifts ``(start "HH:MM", hours)`` and planned downtime windows
        ``(start "HH:MM", hours, every_days, day)``: off for ``hours`` from ``start``
        on day ``day`` (0-based) of every ``every_days``-day cycle.

        No shifts means working around the clock.
        """
        period_days = 1
        for _, _, every, day in downtime:
            if every < 1 or not 0 <= day < every:
                raise ValueError(
                    f"planned downtime needs every_days >= 1 and 0 <= day < every_days (got {every}, {day})"
                )
            period_days = math.lcm(period_days, every)
        period = period_days * DAY_S
        work: list[tuple[float, float]] = []
        if not shifts:
            work = [(0.0, period)]
        for start, hours in shifts:
            if not 0 < hours <= 24:
                raise ValueError(f"shift hours must be in (0, 24] (got {hours!r})")
            s = parse_hhmm(start)
            for d in range(period_days + 1):  # +1: a night shift wraps into the next period
                a = d * DAY_S + s
                b = a + hours * 3600.0
                work.append((a, b))
        # Fold everything onto [0, period): pieces past the end wrap to the start.
        folded: list[tuple[float, float]] = []
        for a, b in _union(work):
            for k in range(-1, 2):
                x, y = a + k * period, b + k * period
                x, y = max(x, 0.0), min(y, period)
                if x < y:
                    folded.append((x, y))
        merged = _union(folded)
        cut: list[tuple[float, float]] = []
        for start, hours, every, day in downtime:
            if not 0 < hours <= 24 * every:
                raise ValueError(f"planned downtime hours must be in (0, {24 * every}] (got {hours!r})")
            s = parse_hhmm(start)
            for d in range(day, period_days, every):
                a = d * DAY_S + s
                b = a + hours * 3600.0
                for k in range(-1, 2):
                    x, y = max(a + k * period, 0.0), min(b + k * period, period)
                    if x < y:
                        cut.append((x, y))
        windows = _subtract(merged, _union(cut))
        if not windows:
            raise ValueError("the shifts and planned downtime leave no working time")
        return cls(period, tuple(windows))

    # ---- queries ---------------------------------------------------------------

    @property
    def is_always(self) -> bool:
        return self.windows == ((0.0, self.period_s),)

    @property
    def working_fraction(self) -> float:
        return self._work_per_period / self.period_s  # type: ignore[attr-defined]

    def _locate(self, t: float) -> tuple[float, int, bool]:
        """(period base, window index, inside?) for absolute time ``t``."""
        base = math.floor(t / self.period_s) * self.period_s
        x = t - base
        i = bisect.bisect_right(self._starts, x) - 1  # type: ignore[attr-defined]
        inside = i >= 0 and x < self.windows[i][1]
        return base, i, inside

    def is_working(self, t: float) -> bool:
        return self._locate(t)[2]

    def next_change(self, t: float) -> float:
        """The first time > t at which working status flips (``inf`` if it never does)."""
        if self.is_always:
            return math.inf
        base, i, inside = self._locate(t)
        if inside:
            end = base + self.windows[i][1]
            if end > t:
                return end
        nxt = i + 1
        if nxt < len(self.windows):
            return base + self.windows[nxt][0]
        return base + self.period_s + self.windows[0][0]

    def advance(self, t: float, work_s: float) -> float:
        """The time at which ``work_s`` seconds of working time have passed since ``t``."""
        if work_s <= 0 or self.is_always:
            return t + max(work_s, 0.0)
        per = self._work_per_period  # type: ignore[attr-defined]
        base, i, inside = self._locate(t)
        x = t - base
        left = work_s
        # Skip whole periods at once so long waits stay O(windows).
        while True:
            for a, b in self.windows[max(i, 0) :]:
                if b <= x:
                    continue
                start = max(a, x)
                span = b - start
                if left <= span:
                    return base + start + left
                left -= span
            base += self.period_s
            x = 0.0
            i = 0
            if left > per:
                k = math.floor(left / per) - (1 if left % per == 0 else 0)
                base += k * self.period_s
                left -= k * per

    def working_time(self, a: float, b: float) -> float:
        """Working seconds inside ``[a, b)``."""
        if b <= a:
            return 0.0
        if self.is_always:
            return b - a
        per = self._work_per_period  # type: ignore[attr-defined]

        def upto(t: float) -> float:
            base = math.floor(t / self.period_s) * self.period_s
            x = t - base
            done = sum(max(0.0, min(w1, x) - w0) for w0, w1 in self.windows)
            return (base / self.period_s) * per + done

        return upto(b) - upto(a)
