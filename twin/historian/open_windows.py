"""The newest windows of each sensor, held in memory to compute rollups without reading back.

Pure: no I/O. A writer keeps, per sensor, the raw values of its newest minutes and
the 1-minute aggregates of its newest hours. A batch updates them (the last value
at a time wins, so a rewrite changes nothing) and yields the exact 1-minute and
1-hour windows to write. A window that is not in memory but may hold stored data
(it is not newer than the sensor's newest stored time) must be loaded from the
store first: :meth:`OpenWindows.needs` says which.

In steady state (readings arrive roughly in time order) nothing is ever loaded, so a
write costs no query - which matters on InfluxDB, where reading back freshly written
data is slow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from twin.historian.rollups import HOUR_MS, MINUTE_MS, Partial

__all__ = ["OpenWindows", "Needs", "Applied"]

#: Minutes and hours kept per sensor behind its newest reading.
KEEP_MINUTES = 3
KEEP_HOURS = 2


@dataclass(slots=True)
class Needs:
    """Windows to load from the store before a batch can be applied."""

    minutes: dict[str, set[int]] = field(default_factory=dict)  # sensor -> minute starts (raw values)
    hours: dict[str, set[int]] = field(default_factory=dict)  # sensor -> hour starts (1-minute rollups)

    def __bool__(self) -> bool:
        return bool(self.minutes or self.hours)


@dataclass(slots=True)
class Applied:
    """What a batch changed: windows to write, and how to undo it if writing fails."""

    minutes: list[tuple[str, Partial]]
    hours: list[tuple[str, Partial]]
    _undo: list[tuple[dict, object, object]] = field(default_factory=list, repr=False)


def _minute_partial(start: int, points: Mapping[int, float]) -> Partial:
    values = points.values()
    last_ts = max(points)
    return Partial(start, len(points), sum(values), min(values), max(values), points[last_ts], last_ts)


def _hour_partial(start: int, minutes: Mapping[int, Partial]) -> Partial:
    parts = minutes.values()
    newest = minutes[max(minutes)]  # minutes are disjoint: the newest one holds the hour's last
    return Partial(
        start,
        sum(p.count for p in parts),
        sum(p.total for p in parts),
        min(p.min for p in parts),
        max(p.max for p in parts),
        newest.last,
        newest.last_ts,
    )


class OpenWindows:
    """Recent raw values and minute aggregates per sensor (see the module docstring)."""

    def __init__(self, keep_minutes: int = KEEP_MINUTES, keep_hours: int = KEEP_HOURS):
        self.keep_minutes = keep_minutes
        self.keep_hours = keep_hours
        self._raw: dict[tuple[str, int], dict[int, float]] = {}
        self._hours: dict[tuple[str, int], dict[int, Partial]] = {}
        #: Newest stored time per sensor (None: the sensor has nothing stored).
        self.newest: dict[str, int | None] = {}

    def unknown(self, sensors: Iterable[str]) -> list[str]:
        """Sensors whose newest stored time must be looked up first."""
        return [s for s in sensors if s not in self.newest]

    def needs(self, rows: Iterable[tuple[str, int]]) -> Needs:
        """Windows touched by ``(sensor, ts)`` rows that are neither in memory nor surely empty."""
        out = Needs()
        for s, ts in rows:
            newest = self.newest.get(s)
            if newest is None:
                continue  # nothing stored for this sensor: every window starts empty
            m = ts - ts % MINUTE_MS
            if (s, m) not in self._raw and m <= newest:
                out.minutes.setdefault(s, set()).add(m)
            h = ts - ts % HOUR_MS
            if (s, h) not in self._hours and h <= newest:
                out.hours.setdefault(s, set()).add(h)
        return out

    def load_minute(self, sensor: str, start: int, points: Iterable[tuple[int, float]]) -> None:
        """Stored raw values of one minute (before the batch's own values are applied)."""
        self._raw[(sensor, start)] = dict(points)

    def load_hour(self, sensor: str, start: int, minutes: Iterable[Partial]) -> None:
        """Stored 1-minute aggregates of one hour."""
        self._hours[(sensor, start)] = {p.start_ms: p for p in minutes}

    def apply(self, rows: Mapping[tuple[str, int], float]) -> Applied:
        """Merge a batch (``{(sensor, ts): value}``); returns the windows to write."""
        applied = Applied([], [])
        undo = applied._undo
        touched_minutes: dict[tuple[str, int], None] = {}
        for (s, ts), v in rows.items():
            key = (s, ts - ts % MINUTE_MS)
            if key not in touched_minutes:
                touched_minutes[key] = None
                raw = self._raw.get(key)
                undo.append((self._raw, key, None if raw is None else dict(raw)))
                if raw is None:
                    raw = self._raw[key] = {}
            self._raw[key][ts] = v
        touched_hours: dict[tuple[str, int], None] = {}
        for s, m in touched_minutes:
            p = _minute_partial(m, self._raw[(s, m)])
            applied.minutes.append((s, p))
            hkey = (s, m - m % HOUR_MS)
            if hkey not in touched_hours:
                touched_hours[hkey] = None
                cur = self._hours.get(hkey)
                undo.append((self._hours, hkey, None if cur is None else dict(cur)))
                if cur is None:
                    self._hours[hkey] = {}
            self._hours[hkey][m] = p
        for s, h in touched_hours:
            applied.hours.append((s, _hour_partial(h, self._hours[(s, h)])))
        for s, _ in touched_hours:
            undo.append((self.newest, s, self.newest.get(s, KeyError)))
        for s, ts in rows:
            newest = self.newest.get(s)
            if newest is None or ts > newest:
                self.newest[s] = ts
        return applied

    def undo(self, applied: Applied) -> None:
        """Forget a batch whose writes failed."""
        for store, key, before in reversed(applied._undo):
            if before is None or before is KeyError:
                store.pop(key, None)
            else:
                store[key] = before

    def forget(self, windows: Mapping[str, Iterable[int]]) -> None:
        """Drop minutes (and their hours) so they are loaded again, e.g. after another writer."""
        for s, minutes in windows.items():
            for m in minutes:
                self._raw.pop((s, m), None)
                self._hours.pop((s, m - m % HOUR_MS), None)

    def evict(self) -> None:
        """Keep only the newest minutes and hours of each sensor."""

        def old(key: tuple[str, int], span: int, keep: int) -> bool:
            newest = self.newest.get(key[0])
            return newest is None or key[1] < newest - newest % span - (keep - 1) * span

        for key in [k for k in self._raw if old(k, MINUTE_MS, self.keep_minutes)]:
            del self._raw[key]
        for key in [k for k in self._hours if old(k, HOUR_MS, self.keep_hours)]:
            del self._hours[key]

    def __len__(self) -> int:
        return len(self._raw) + len(self._hours)
