"""Readings as packed arrays: a batch grouped per sensor, split per hour, merged last-wins.

Pure: no I/O. The SQLite backend stores a sensor's readings as chunks of packed
little-endian int64 timestamps and float64 values, one or more per sensor and hour.
A 5,000-reading batch over 300 sensors is then 300 rows rather than 5,000, which is
what lets a fully synchronous SQLite take hundreds of thousands of readings a second.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from twin.codec import Reading
from twin.errors import HistorianError
from twin.historian.base import check_sensor_id
from twin.historian.rollups import HOUR_MS

__all__ = [
    "TS_DTYPE", "VALUE_DTYPE", "Series", "Batch", "group_batch", "sort_unique_last", "split_hours", "merge_last_wins", "pack", "unpack"]

TS_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f8")


@dataclass(slots=True)
class Series:
    """Readings of one sensor: timestamps strictly increasing, values aligned."""

    sensor_id: str
    ts: np.ndarray
    values: np.ndarray


def _bad_reading(readings: Iterable[Reading]) -> str:
    for r in readings:
        try:
            array("q", [r.ts_ms])
            array("d", [r.value])
        except (TypeError, OverflowError):
            return f"reading {str(r.sensor_id)[:80]!r} at {r.ts_ms!r} (value {r.value!r})"
    return "a reading"


def sort_unique_last(ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by time; of several values at one time the last given wins."""
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return ts, values
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]  # keep the last of each run of equal times
    return ts[keep], values[keep]


@dataclass(slots=True)
class Batch:
    """Readings of several sensors as flat arrays: group ``g`` is ``[starts[g], starts[g+1])``.

    Within a group timestamps are strictly increasing.
    """

    names: list[str]
    ts: np.ndarray
    values: np.ndarray
    starts: np.ndarray  # len(names) + 1 offsets

    def __len__(self) -> int:
        return len(self.ts)

    def group_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.names)), np.diff(self.starts))

    def series(self, g: int) -> Series:
        a, b = int(self.starts[g]), int(self.starts[g + 1])
        return Series(self.names[g], self.ts[a:b], self.values[a:b])

    def select(self, groups: np.ndarray) -> Batch:
        """The sub-batch of the groups whose flag is true."""
        keep = np.repeat(groups, np.diff(self.starts))
        sizes = np.diff(self.starts)[groups]
        return Batch(
            [n for n, g in zip(self.names, groups.tolist(), strict=True) if g],
            self.ts[keep],
            self.values[keep],
            np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        )

    def hour_chunks(self) -> list[tuple[str, int, int, int, int, bytes, bytes]]:
        """``(sensor, hour, first, last, n, ts_blob, values_blob)`` per sensor and hour window."""
        n = len(self.ts)
        if n == 0:
            return []
        hours = self.ts - self.ts % HOUR_MS
        brk = np.zeros(n, dtype=bool)
        brk[0] = True
        brk[1:] = hours[1:] != hours[:-1]
        brk[self.starts[:-1][self.starts[:-1] < n]] = True
        idx = np.flatnonzero(brk)
        ends = np.append(idx[1:], n)
        gid = (np.searchsorted(self.starts, idx, side="right") - 1).tolist()
        ts_blob, val_blob = pack(self.ts, self.values)
        first, last = self.ts[idx].tolist(), self.ts[ends - 1].tolist()
        return [
            (self.names[g], h, f, la, b - a, ts_blob[a * 8 : b * 8], val_blob[a * 8 : b * 8])
            for g, h, f, la, a, b in zip(gid, hours[idx].tolist(), first, last, idx.tolist(), ends.tolist(), strict=True)
        ]


def group_batch(readings: Iterable[Reading], min_ts_ms: int | None = None) -> tuple[Batch, int]:
    """Validate a batch and group it per sensor: ``(batch, dropped)``.

    Duplicates of one (sensor, time) are resolved last-wins. Readings older than
    ``min_ts_ms`` are left out and counted in ``dropped``. Raises
    :class:`HistorianError` for a non-integer time, a non-finite or non-numeric value
    or a bad sensor id: the whole batch is refused.
    """
    readings = readings if isinstance(readings, list | tuple) else list(readings)
    groups: dict[str, tuple[array, array]] = {}
    try:
        for r in readings:
            g = groups.get(r.sensor_id)
            if g is None:
                g = groups[r.sensor_id] = (array("q"), array("d"))
            g[0].append(r.ts_ms)
            g[1].append(r.value)
    except (TypeError, OverflowError):
        raise HistorianError(
            f"{_bad_reading(readings)} needs an integer epoch-ms time and a numeric value"
        ) from None
    names = list(groups)
    for name in names:
        check_sensor_id(name)
    ts = np.frombuffer(b"".join(g[0] for g in groups.values()), dtype=np.int64)
    values = np.frombuffer(b"".join(g[1] for g in groups.values()), dtype=np.float64)
    sizes = np.fromiter((len(g[0]) for g in groups.values()), dtype=np.int64, count=len(names))
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        gid = np.repeat(np.arange(len(names)), sizes)
        raise HistorianError(f"reading {names[gid[i]][:80]!r} at {int(ts[i])}: value {values[i]} is not finite")
    dropped = 0
    gid = None
    if min_ts_ms is not None:
        keep = ts >= min_ts_ms
        if not keep.all():
            dropped = int(len(ts) - keep.sum())
            gid = np.repeat(np.arange(len(names)), sizes)[keep]
            ts, values = ts[keep], values[keep]
            sizes = np.bincount(gid, minlength=len(names))
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    # Strictly increasing within every group? Then nothing to sort (the normal case).
    inc = ts[1:] > ts[:-1]
    inc[starts[1:-1][starts[1:-1] < len(ts)] - 1] = True  # group boundaries do not count
    if len(ts) > 1 and not inc.all():
        if gid is None:
            gid = np.repeat(np.arange(len(names)), sizes)
        order = np.lexsort((ts, gid))  # stable: equal (group, time) keep their order
        ts, values, gid = ts[order], values[order], gid[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = (ts[1:] != ts[:-1]) | (gid[1:] != gid[:-1])  # last of each duplicate run
        ts, values, gid = ts[keep], values[keep], gid[keep]
        sizes = np.bincount(gid, minlength=len(names))
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    batch = Batch(names, ts, values, starts)
    empty = sizes == 0
    if empty.any():
        batch = batch.select(~empty)
    return batch, dropped


def split_hours(ts: np.ndarray, values: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(hour_start, ts, values)`` per hour window of sorted readings."""
    hours = ts - ts % HOUR_MS
    cuts = np.flatnonzero(hours[1:] != hours[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(ts)]
    return [(int(hours[a]), ts[a:b], values[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def merge_last_wins(
    old_ts: np.ndarray, old_values: np.ndarray, new_ts: np.ndarray, new_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Stored readings merged with new ones (new wins at equal times); ``changed`` if different."""
    ts, values = sort_unique_last(np.concatenate([old_ts, new_ts]), np.concatenate([old_values, new_values]))
    changed = len(ts) != len(old_ts) or not np.array_equal(values, old_values) or not np.array_equal(ts, old_ts)
    return ts, values, changed


def pack(ts: np.ndarray, values: np.ndarray) -> tuple[bytes, bytes]:
    return ts.astype(TS_DTYPE, copy=False).tobytes(), values.astype(VALUE_DTYPE, copy=False).tobytes()


def unpack(ts_blobs: Iterable[bytes], value_blobs: Iterable[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated arrays of several chunks (in the order given)."""
    ts = np.frombuffer(b"".join(ts_blobs), dtype=TS_DTYPE).astype(np.int64)
    values = np.frombuffer(b"".join(value_blobs), dtype=VALUE_DTYPE).astype(np.float64)
    return ts, values
