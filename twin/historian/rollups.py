"""Rollup maths shared by every backend: window alignment, partial aggregates, query plans.

Pure: no I/O. A backend keeps raw readings plus 1-minute and 1-hour rollups; a range
query for windows of ``every_ms`` is answered from the coarsest level whose window
divides ``every_ms``. Range edges that do not fall on that level's boundaries are
answered from the next finer level, so the result equals what the raw readings give.

Rollups store count, sum, min, max and last (not the mean) so that merging them is
exact: the mean of merged windows is count-weighted, min/max/last are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from twin.historian.base import Window

__all__ = [
    "RAW",
    "MINUTE_MS",
    "HOUR_MS",
    "ROLLUP_LEVELS",
    "LEVEL_NAMES",
    "Partial",
    "Segment",
    "window_start",
    "merge",
    "coarsest_level",
    "finer_level",
    "plan",
    "aggregate",
    "aggregate_sorted",
    "WindowArrays",
    "window_arrays",
    "rollup",
    "concat_partials",
    "to_window",
]

#: Level "0" means raw readings.
RAW = 0
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
#: Rollup levels, coarsest first.
ROLLUP_LEVELS = (HOUR_MS, MINUTE_MS)
LEVEL_NAMES = {RAW: "raw", MINUTE_MS: "1m", HOUR_MS: "1h"}


class Partial(NamedTuple):
    """Aggregate of some readings of one sensor inside the window starting at ``start_ms``.

    ``last_ts`` is the time of ``last`` when the source knows it; merging falls back
    to "the later argument wins" when either side does not. A named tuple: queries
    build thousands of these, and tuples are the cheapest immutable records.
    """

    start_ms: int
    count: int  # type: ignore[assignment]  # shadows tuple.count on purpose: the readings in the window
    total: float
    min: float
    max: float
    last: float
    last_ts: int | None = None

    @property
    def mean(self) -> float:
        return self.total / self.count


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of a query range answered from one level: ``[since_ms, until_ms)``."""

    level_ms: int
    since_ms: int
    until_ms: int


def window_start(ts_ms: int, every_ms: int) -> int:
    """Start of the epoch-aligned window holding ``ts_ms`` (floor, also before 1970)."""
    return ts_ms - ts_ms % every_ms


def merge(earlier: Partial, later: Partial) -> Partial:
    """Combine two partials of the same window; ``later`` covers later (or equal) times."""
    last_ts: int | None
    if earlier.last_ts is not None and later.last_ts is not None and earlier.last_ts > later.last_ts:
        last, last_ts = earlier.last, earlier.last_ts
    else:
        last, last_ts = later.last, later.last_ts
    return Partial(
        earlier.start_ms,
        earlier.count + later.count,
        earlier.total + later.total,
        min(earlier.min, later.min),
        max(earlier.max, later.max),
        last,
        last_ts,
    )


def coarsest_level(every_ms: int) -> int:
    """The coarsest rollup whose windows tile windows of ``every_ms``, or RAW."""
    if every_ms <= 0:
        raise ValueError(f"window must be > 0 ms, got {every_ms}")
    for level in ROLLUP_LEVELS:
        if every_ms % level == 0:
            return level
    return RAW


def finer_level(level_ms: int) -> int:
    """The level below ``level_ms`` (hour -> minute -> raw)."""
    if level_ms == HOUR_MS:
        return MINUTE_MS
    return RAW


def _split(since: int, until: int, level: int) -> list[Segment]:
    if level == RAW:
        return [Segment(RAW, since, until)]
    first = -(-since // level) * level  # ceil to a level boundary
    last = until // level * level  # floor
    if first >= last:
        return _split(since, until, finer_level(level))
    out: list[Segment] = []
    if since < first:
        out += _split(since, first, finer_level(level))
    out.append(Segment(level, first, last))
    if last < until:
        out += _split(last, until, finer_level(level))
    return out


def plan(since_ms: int, until_ms: int, every_ms: int) -> list[Segment]:
    """Segments, in time order, that answer windows of ``every_ms`` over the range."""
    level = coarsest_level(every_ms)
    if since_ms >= until_ms:
        return []
    return _split(since_ms, until_ms, level)


def aggregate(points: Iterable[tuple[int, float]], every_ms: int) -> list[Partial]:
    """Partials per window of ``(ts_ms, value)`` points in any order, sorted by window.

    Several points with the same timestamp must already be resolved by the caller.
    """
    acc: dict[int, list] = {}
    for ts, value in points:
        start = ts - ts % every_ms
        cur = acc.get(start)
        if cur is None:
            acc[start] = [1, value, value, value, value, ts]
            continue
        cur[0] += 1
        cur[1] += value
        if value < cur[2]:
            cur[2] = value
        if value > cur[3]:
            cur[3] = value
        if ts > cur[5]:
            cur[4] = value
            cur[5] = ts
    return [Partial(start, *acc[start]) for start in sorted(acc)]


def aggregate_sorted(rows: Iterable[tuple[tuple[str, int], float]], every_ms: int) -> list[tuple[str, Partial]]:
    """``(sensor, Partial)`` per window of ``((sensor, ts), value)`` rows sorted by sensor, ts.

    The hot path of a batch write: one pass, no per-window dictionaries.
    """
    out: list[tuple[str, Partial]] = []
    cs: str | None = None
    cstart = n = last_ts = 0
    total = lo = hi = last = 0.0
    for (s, ts), v in rows:
        start = ts - ts % every_ms
        if s == cs and start == cstart:
            n += 1
            total += v
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
            last, last_ts = v, ts
            continue
        if cs is not None:
            out.append((cs, Partial(cstart, n, total, lo, hi, last, last_ts)))
        cs, cstart, n, total, lo, hi, last, last_ts = s, start, 1, v, v, v, v, ts
    if cs is not None:
        out.append((cs, Partial(cstart, n, total, lo, hi, last, last_ts)))
    return out


@dataclass(frozen=True, slots=True)
class WindowArrays:
    """Per-window aggregates of several groups of readings, as parallel arrays.

    ``group[i]`` is the index of the group (e.g. the sensor) window ``i`` belongs to.
    """

    group: np.ndarray
    start: np.ndarray
    count: np.ndarray
    total: np.ndarray
    min: np.ndarray
    max: np.ndarray
    last: np.ndarray
    last_ts: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def partials(self) -> list[Partial]:
        return [
            Partial(*row)
            for row in zip(
                self.start.tolist(),
                self.count.tolist(),
                self.total.tolist(),
                self.min.tolist(),
                self.max.tolist(),
                self.last.tolist(),
                self.last_ts.tolist(),
                strict=True,
            )
        ]

    def rows(self, names: Sequence[str]) -> list[tuple]:
        """``(name, start, count, total, min, max, last, last_ts)`` per window."""
        return list(
            zip(
                [names[g] for g in self.group.tolist()],
                self.start.tolist(),
                self.count.tolist(),
                self.total.tolist(),
                self.min.tolist(),
                self.max.tolist(),
                self.last.tolist(),
                self.last_ts.tolist(),
                strict=True,
            )
        )


def window_arrays(
    ts: np.ndarray, values: np.ndarray, every_ms: int, group_starts: Sequence[int] | np.ndarray = (0,)
) -> WindowArrays:
    """Aggregates per window of ``every_ms`` of readings sorted by time within each group.

    The readings of group ``g`` are ``ts[group_starts[g]:group_starts[g + 1]]``;
    windows never span two groups. Vectorised: no Python loop per reading.
    """
    n = len(ts)
    if n == 0:
        empty_i, empty_f = np.empty(0, np.int64), np.empty(0, np.float64)
        return WindowArrays(empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f, empty_i)
    w = ts - ts % every_ms
    brk = np.empty(n, dtype=bool)
    brk[0] = True
    brk[1:] = w[1:] != w[:-1]
    starts = np.asarray(group_starts, dtype=np.int64)
    starts = starts[starts < n]
    brk[starts] = True
    idx = np.flatnonzero(brk)
    ends = np.append(idx[1:], n)
    return WindowArrays(
        group=np.searchsorted(starts, idx, side="right") - 1,
        start=w[idx],
        count=ends - idx,
        total=np.add.reduceat(values, idx),
        min=np.minimum.reduceat(values, idx),
        max=np.maximum.reduceat(values, idx),
        last=values[ends - 1],
        last_ts=ts[ends - 1],
    )


def rollup(partials: Iterable[Partial], every_ms: int) -> list[Partial]:
    """Coarser partials from finer ones (in time order), sorted by window."""
    out: dict[int, Partial] = {}
    for p in partials:
        start = p.start_ms - p.start_ms % every_ms
        cur = out.get(start)
        out[start] = Partial(start, p.count, p.total, p.min, p.max, p.last, p.last_ts) if cur is None else merge(cur, p)
    return [out[s] for s in sorted(out)]


def concat_partials(parts: Iterable[list[Partial]]) -> list[Partial]:
    """Partials of consecutive, time-ordered segments as one list.

    Segments are disjoint in time, so only the last window of one segment and the
    first of the next can be the same window: those two are merged.
    """
    out: list[Partial] = []
    for part in parts:
        if out and part and out[-1].start_ms == part[0].start_ms:
            out[-1] = merge(out[-1], part[0])
            out.extend(part[1:])
        else:
            out.extend(part)
    return out


def to_window(sensor_id: str, p: Partial) -> Window:
    return Window(sensor_id, p.start_ms, p.total / p.count, p.min, p.max, p.last, p.count)
