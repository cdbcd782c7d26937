"""Readings as packed arrays: a batch grouped per sensor, split per hour, merged last-wins.

Pure: no I/O. The SQLite backend stores a sensor's readings as chunks of packed
little-endian int64 timestamps and float64 values, one or more per sensor and hour.
A 5,000-reading batch over 300 sensors is then 300 rows rather than 5,000, which is
what lets a fully synchronous SQLite take hundreds of thousands of readings a second.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from twin.codec import Reading
from twin.errors import HistorianError
from twin.historian.base import check_sensor_id
from twin.historian.rollups import HOUR_MS

__all__ = [
    "TS_DTYPE",
    "VALUE_DTYPE",
    "Series",
    "Batch",
    "LogEntry",
    "group_batch",
    "sort_unique_last",
    "encode_log",
    "decode_log",
    "concat_log",
    "split_hours",
    "merge_last_wins",
    "pack",
    "unpack",
]

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
            for g, h, f, la, a, b in zip(
                gid, hours[idx].tolist(), first, last, idx.tolist(), ends.tolist(), strict=True
            )
        ]


_get_sensor, _get_ts, _get_value = attrgetter("sensor_id"), attrgetter("ts_ms"), attrgetter("value")
#: Sensor ids already checked (the same few thousand ids arrive in every batch).
_checked: set[str] = set()


def group_batch(readings: Iterable[Reading], min_ts_ms: int | None = None) -> tuple[Batch, int]:
    """Validate a batch and group it per sensor: ``(batch, dropped)``.

    Duplicates of one (sensor, time) are resolved last-wins. Readings older than
    ``min_ts_ms`` are left out and counted in ``dropped``. Raises
    :class:`HistorianError` for a non-integer time, a non-finite or non-numeric value
    or a bad sensor id: the whole batch is refused.
    """
    readings = readings if isinstance(readings, list | tuple) else list(readings)
    # Columns are pulled out by C loops (map/attrgetter into arrays): this is the hot path.
    try:
        ts = np.frombuffer(array("q", map(_get_ts, readings)), dtype=np.int64)
        values = np.frombuffer(array("d", map(_get_value, readings)), dtype=np.float64)
    except (TypeError, OverflowError):
        raise HistorianError(f"{_bad_reading(readings)} needs an integer epoch-ms time and a numeric value") from None
    index: dict[str, int] = {}
    codes = np.array([index.setdefault(s, len(index)) for s in map(_get_sensor, readings)], dtype=np.int64)
    names = list(index)
    for name in names:
        if name not in _checked:
            check_sensor_id(name)
            if len(_checked) > 100_000:
                _checked.clear()
            _checked.add(name)
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise HistorianError(f"reading {names[codes[i]][:80]!r} at {int(ts[i])}: value {values[i]} is not finite")
    dropped = 0
    if min_ts_ms is not None:
        keep = ts >= min_ts_ms
        if not keep.all():
            dropped = int(len(ts) - keep.sum())
            ts, values, codes = ts[keep], values[keep], codes[keep]
    order = np.argsort(codes, kind="stable")  # group per sensor, keeping arrival order
    ts, values, codes = ts[order], values[order], codes[order]
    same = codes[1:] == codes[:-1]
    if len(ts) > 1 and not (ts[1:] > ts[:-1])[same].all():
        order = np.lexsort((ts, codes))  # stable: equal (sensor, time) keep their order
        ts, values, codes = ts[order], values[order], codes[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = (ts[1:] != ts[:-1]) | (codes[1:] != codes[:-1])  # last of each duplicate run
        ts, values, codes = ts[keep], values[keep], codes[keep]
    sizes = np.bincount(codes, minlength=len(names)).astype(np.int64)
    batch = Batch(names, ts, values, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))
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


@dataclass(slots=True)
class LogEntry:
    """One batch of brand-new readings as stored in the recent log (see the SQLite backend)."""

    seq: int
    index: dict[str, int]  # sensor -> group number
    batch: Batch

    def sensor(self, sensor_id: str, since_ms: int, until_ms: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.index.get(sensor_id)
        if g is None:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        s = self.batch.series(g)
        lo, hi = np.searchsorted(s.ts, since_ms, "left"), np.searchsorted(s.ts, until_ms, "left")
        return s.ts[lo:hi], s.values[lo:hi]


def encode_log(batch: Batch) -> tuple[str, bytes, bytes, bytes]:
    """``(names_json, offsets, ts, values)`` of a batch for one log row."""
    ts_blob, val_blob = pack(batch.ts, batch.values)
    return (
        json.dumps(batch.names, ensure_ascii=False),
        batch.starts.astype(TS_DTYPE).tobytes(),
        ts_blob,
        val_blob,
    )


def decode_log(seq: int, names_json: str, offsets: bytes, ts: bytes, values: bytes) -> LogEntry:
    names = json.loads(names_json)
    t, v = unpack([ts], [values])
    starts = np.frombuffer(offsets, dtype=TS_DTYPE).astype(np.int64)
    return LogEntry(seq, {n: i for i, n in enumerate(names)}, Batch(names, t, v, starts))


def concat_log(entries: list[LogEntry]) -> Batch:
    """All entries as one batch; per sensor the entries' readings in log order.

    Log entries only ever hold readings newer than everything stored before them, so
    the result is sorted and unique per sensor.
    """
    index: dict[str, int] = {}
    codes = []
    for e in entries:
        entry_codes = np.array([index.setdefault(n, len(index)) for n in e.batch.names], dtype=np.int64)
        codes.append(np.repeat(entry_codes, np.diff(e.batch.starts)))
    if not index:
        return Batch([], np.empty(0, np.int64), np.empty(0, np.float64), np.zeros(1, np.int64))
    code = np.concatenate(codes)
    order = np.argsort(code, kind="stable")  # per sensor, entries stay in log order
    ts = np.concatenate([e.batch.ts for e in entries])[order]
    values = np.concatenate([e.batch.values for e in entries])[order]
    sizes = np.bincount(code, minlength=len(index)).astype(np.int64)
    return Batch(list(index), ts, values, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))
