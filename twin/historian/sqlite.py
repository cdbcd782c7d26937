"""Embedded SQLite historian: WAL, readings in packed per-sensor-hour chunks, rollups, retention.

Layout (schema 2):

- ``chunks``: a sensor's readings within one hour window as packed arrays of
  int64 times and float64 values. A batch appends one chunk per sensor and hour, so
  a 5,000-reading batch over 300 sensors writes 300 rows, not 5,000 - with
  ``synchronous=FULL`` the cost of a commit is the pages it touches.
- ``rollup_1m`` / ``rollup_1h``: count, sum, min, max, last per sensor and window.
- ``latest``: newest reading per sensor; its time also tells whether a batch is
  all new (the normal case) or rewrites stored readings.
- ``recent``: a log of recent batches of brand-new readings, one row per batch, in
  time order. Appending one row is all a normal batch costs; every
  ``LOG_MAX_READINGS`` readings (or ``LOG_MAX_ROWS`` batches) the log is flushed into
  ``chunks`` and the rollups in one go. Queries merge the log, so it is invisible to
  readers. With ``synchronous=FULL`` a commit costs the pages it touches: a batch
  spread over 300 sensors would touch ~900 pages of ``chunks`` and rollups, a log
  row touches a few dozen.

A batch of new readings goes to the log; a flush appends it to the chunks and merges
it into the rollups incrementally. A batch reaching back into stored data (a
redelivery, late data) first flushes the log, then merges with the stored chunks of
that sensor and hour - the new value wins at equal times, an identical rewrite
changes nothing - and recomputes that hour's rollups from the merged readings.
Everything happens in one transaction, so several writer processes on one file stay
correct (SQLite serialises them) and a reader never sees readings without their
rollups.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from pathlib import Path
from urllib.parse import quote

import numpy as np

from twin.codec import Reading
from twin.errors import HistorianError, HistorianUnavailable
from twin.historian.base import DeadLetter
from twin.historian.chunks import (
    Batch,
    LogEntry,
    concat_log,
    decode_log,
    encode_log,
    group_batch,
    merge_last_wins,
    pack,
    split_hours,
    unpack,
)
from twin.historian.retention import Retention
from twin.historian.rollup_base import RollupHistorian
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW, Partial, merge, window_arrays
from twin.timespec import now_ms

__all__ = ["SqliteHistorian", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: Seconds between two maintenance passes (retention, compaction) of a writer.
MAINTENANCE_EVERY_S = 600.0
#: Page cache per connection (KiB).
CACHE_KIB = 32 * 1024
#: WAL pages before an automatic checkpoint. Each batch rewrites the newest page of
#: every sensor's chunks and rollups; a larger WAL lets one checkpoint write each of
#: those hot pages once instead of after every other commit.
WAL_AUTOCHECKPOINT_PAGES = 8192
#: Longest time one stored chunk spans after compaction or a rewrite: a query edge reads
#: at most this much raw data it does not need.
PIECE_MS = 10 * MINUTE_MS
#: Sensor-hours compacted per transaction.
COMPACT_PER_TRANSACTION = 200
#: The WAL file is truncated back to this size after a checkpoint (bytes).
WAL_SIZE_LIMIT = 64 * 2**20
#: Readings and batches the recent log holds before it is flushed into chunks and rollups.
LOG_MAX_READINGS = 50_000
LOG_MAX_ROWS = 64
#: SQLite's limit on bound variables is 32766 since 3.32; stay far below it.
_IN_CHUNK = 500
_MIN_INT64 = -(2**63)

_ROLLUP_TABLE = {MINUTE_MS: "rollup_1m", HOUR_MS: "rollup_1h"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    sensor TEXT NOT NULL,
    hour   INTEGER NOT NULL,   -- start of the hour window all readings lie in
    first  INTEGER NOT NULL,   -- first and last time in the chunk
    last   INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    ts     BLOB NOT NULL,      -- n little-endian int64 epoch ms, strictly increasing
    vals   BLOB NOT NULL,      -- n little-endian float64
    PRIMARY KEY (sensor, hour, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: decoded rows are cached by seq
    n      INTEGER NOT NULL,
    names  TEXT NOT NULL,      -- JSON list of the batch's sensor ids
    starts BLOB NOT NULL,      -- int64 offsets of each sensor's readings (len(names) + 1)
    ts     BLOB NOT NULL,
    vals   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
    sensor TEXT PRIMARY KEY,
    ts     INTEGER NOT NULL,
    value  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    payload     BLOB NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    sensor      TEXT,
    digest      BLOB
);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters (received_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# One row per sensor and window start; ``last`` is the value at ``last_ts``.
_ROLLUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    sensor  TEXT NOT NULL,
    start   INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    total   REAL NOT NULL,
    lo      REAL NOT NULL,
    hi      REAL NOT NULL,
    last    REAL NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (sensor, start)
) WITHOUT ROWID;
"""

_UPSERT_LATEST = """
INSERT INTO latest (sensor, ts, value) VALUES (?, ?, ?)
ON CONFLICT (sensor) DO UPDATE SET ts = excluded.ts, value = excluded.value
WHERE excluded.ts >= latest.ts
"""

# Fast path: merge the aggregate of brand-new readings into a window.
_MERGE_ROLLUP = """
INSERT INTO {table} (sensor, start, n, total, lo, hi, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sensor, start) DO UPDATE SET
    n = n + excluded.n,
    total = total + excluded.total,
    lo = min(lo, excluded.lo),
    hi = max(hi, excluded.hi),
    last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
    last_ts = max(last_ts, excluded.last_ts)
"""
# Slow path: a window recomputed from all its readings.
_REPLACE_ROLLUP = (
    "INSERT OR REPLACE INTO {table} (sensor, start, n, total, lo, hi, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHUNK = "INSERT INTO chunks (sensor, hour, first, last, n, ts, vals) VALUES (?, ?, ?, ?, ?, ?, ?)"
_CHUNKS_OF_HOUR = "SELECT ts, vals FROM chunks WHERE sensor = ? AND hour = ? ORDER BY first"

# Window start of column X for windows of ?1 ms, floor-aligned also before 1970.
_W = "({col} - (({col} % ?1) + ?1) % ?1)"


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _readonly_uri(path: Path) -> str:
    """A read-only SQLite URI for ``path``: absolute, one leading slash (``//x`` would read as a
    host), and percent-encoded so ``?``, ``#`` and ``%`` in a directory name stay part of the path."""
    absolute = str(path.absolute())
    if absolute.startswith("//"):
        absolute = "/" + absolute.lstrip("/")
    return f"file:{quote(absolute)}?mode=ro"


class SqliteHistorian(RollupHistorian):
    """A historian in one SQLite file.

    ``synchronous`` is ``FULL`` by default: a stored batch survives a power cut,
    which is what an acknowledged MQTT message promises.
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: str = "FULL",
        readonly: bool = False,
        retention: Retention | None = None,
        clock: Callable[[], int] = now_ms,
    ):
        super().__init__(retention, clock)
        self.path = Path(path)
        self.readonly = readonly
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise HistorianError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, got {synchronous!r}")
        self._lock = threading.Lock()
        self._next_maintenance = 0.0  # monotonic time of the next maintenance pass
        self._appended: set[tuple[str, int]] = set()  # (sensor, hour) with several chunks to compact
        self._log_cache: dict[int, LogEntry] = {}  # decoded rows of the recent log, by seq
        try:
            if readonly:
                self._db = sqlite3.connect(_readonly_uri(self.path), uri=True, check_same_thread=False, timeout=10)
                self._check_schema()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
                self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
                self._migrate()
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'retention_now'").fetchone()
            if row:
                self._enforced_now = int(row[0])
        except sqlite3.Error as exc:
            raise HistorianUnavailable(f"cannot open SQLite historian {self.path}: {exc}") from exc

    # ---- schema --------------------------------------------------------------

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version < SCHEMA_VERSION:
            raise HistorianError(
                f"{self.path} has schema version {version}, this twin needs {SCHEMA_VERSION}; "
                "open it once read-write (e.g. start `twin ingest`) to upgrade it"
            )

    def _migrate(self) -> None:
        db = self._db
        with db:
            db.executescript(_SCHEMA)
            for table in _ROLLUP_TABLE.values():
                db.executescript(_ROLLUP_SCHEMA.format(table=table))
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row and int(row[0]) == 1:
                self._upgrade_from_1()
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (digest)")
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _upgrade_from_1(self) -> None:
        """Schema 1 kept one row per reading in ``readings``: repack it as chunks with rollups."""
        db = self._db
        log.info(
            "upgrading %s from schema 1 to %s (chunks, rollups, dead-letter digests)",
            self.path,
            SCHEMA_VERSION,
        )
        cols = [r[1] for r in db.execute("PRAGMA table_info(dead_letters)")]
        if "digest" not in cols:
            db.execute("ALTER TABLE dead_letters ADD COLUMN digest BLOB")
        has_readings = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'readings'").fetchone()
        if not has_readings:
            return
        sensors = [r[0] for r in db.execute("SELECT DISTINCT sensor FROM readings")]
        for sensor in sensors:
            rows = db.execute("SELECT ts, value FROM readings WHERE sensor = ? ORDER BY ts", (sensor,)).fetchall()
            ts = np.array([r[0] for r in rows], dtype=np.int64)
            values = np.array([r[1] for r in rows], dtype=np.float64)
            self._write_hours(sensor, ts, values, replace=True)
        db.execute("DROP TABLE readings")

    # ---- writing -------------------------------------------------------------

    def store(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        if self.readonly:
            raise HistorianError(f"{self.path} is open read-only")
        horizon = self.horizon(RAW)
        batch, dropped = group_batch(readings, horizon)
        if dropped:
            log.warning(
                "%d reading(s) older than the raw retention horizon %s were not stored",
                dropped,
                horizon,
            )
        letters = [d.capped() for d in dead_letters]
        with self._lock:
            try:
                with self._db:  # one transaction: all or nothing
                    # Take the write lock before reading the high-water marks, so that
                    # another process cannot commit between the check and the append.
                    self._db.execute("BEGIN IMMEDIATE")
                    if len(batch):
                        self._store_batch(batch)
                    if letters:
                        self._db.executemany(
                            "INSERT OR IGNORE INTO dead_letters"
                            " (received_ms, topic, payload, reason, detail, sensor, digest)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [
                                (
                                    d.received_ms,
                                    d.topic,
                                    d.payload,
                                    d.reason,
                                    d.detail,
                                    d.sensor_id,
                                    d.digest(),
                                )
                                for d in letters
                            ],
                        )
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: may pass
                raise HistorianUnavailable(f"SQLite write failed: {exc}") from exc
            except sqlite3.Error as exc:
                raise HistorianError(f"SQLite write failed: {exc}") from exc
        if time.monotonic() >= self._next_maintenance:
            self._next_maintenance = time.monotonic() + MAINTENANCE_EVERY_S
            self.maintain()

    def _high_water(self, sensors: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(sensors), _IN_CHUNK):
            part = sensors[i : i + _IN_CHUNK]
            out.update(
                self._db.execute(
                    f"SELECT sensor, ts FROM latest WHERE sensor IN ({_placeholders(len(part))})",
                    part,
                ).fetchall()
            )
        return out

    def _store_batch(self, batch: Batch) -> None:
        db = self._db
        high = self._high_water(batch.names)
        firsts = batch.ts[batch.starts[:-1]].tolist()
        # Normal case: a sensor's readings are all newer than what is stored.
        fast = np.array(
            [(hw := high.get(name)) is None or first > hw for name, first in zip(batch.names, firsts, strict=True)],
            dtype=bool,
        )
        if fast.all():
            db.execute(
                "INSERT INTO recent (n, names, starts, ts, vals) VALUES (?, ?, ?, ?, ?)",
                (len(batch), *encode_log(batch)),
            )
            rows, readings = db.execute("SELECT count(*), coalesce(sum(n), 0) FROM recent").fetchone()
            if readings >= LOG_MAX_READINGS or rows >= LOG_MAX_ROWS:
                self._flush_log()
        else:
            self._flush_log()  # the slow path works on chunks alone
            appended = batch.select(fast)
            if len(appended):
                self._append(appended)
            for g in np.flatnonzero(~fast).tolist():
                s = batch.series(g)
                self._write_hours(s.sensor_id, s.ts, s.values, replace=False)
        ends = (batch.starts[1:] - 1).tolist()
        db.executemany(
            _UPSERT_LATEST,
            list(zip(batch.names, batch.ts[ends].tolist(), batch.values[ends].tolist(), strict=True)),
        )

    def _append(self, batch: Batch) -> None:
        """Add readings newer than everything stored: new chunks, rollups merged incrementally."""
        db = self._db
        rows = batch.hour_chunks()
        db.executemany(
            _INSERT_CHUNK,
            rows,
        )
        self._appended.update((r[0], r[1]) for r in rows)
        for level, table in _ROLLUP_TABLE.items():
            agg = window_arrays(batch.ts, batch.values, level, batch.starts[:-1])
            db.executemany(_MERGE_ROLLUP.format(table=table), agg.rows(batch.names))

    def _log_entries(self) -> list[LogEntry]:
        """The recent log, decoded (rows already decoded on this connection are reused)."""
        seqs = [r[0] for r in self._db.execute("SELECT seq FROM recent ORDER BY seq")]
        cache = self._log_cache
        for seq in [k for k in cache if k not in set(seqs)]:
            del cache[seq]
        missing = [q for q in seqs if q not in cache]
        for i in range(0, len(missing), _IN_CHUNK):
            part = missing[i : i + _IN_CHUNK]
            for row in self._db.execute(
                f"SELECT seq, names, starts, ts, vals FROM recent WHERE seq IN ({_placeholders(len(part))})",
                part,
            ):
                cache[row[0]] = decode_log(*row)
        return [cache[q] for q in seqs]

    def _flush_log(self) -> None:
        """Move the recent log into chunks and rollups (inside the caller's transaction)."""
        entries = self._log_entries()
        if not entries:
            return
        self._append(concat_log(entries))
        self._db.execute("DELETE FROM recent WHERE seq <= ?", (entries[-1].seq,))

    def _write_hours(self, sensor: str, ts: np.ndarray, values: np.ndarray, replace: bool) -> None:
        """Merge readings into the stored hours they fall in and recompute those hours' rollups."""
        db = self._db
        for hour, new_ts, new_values in split_hours(ts, values):
            rows = db.execute(
                _CHUNKS_OF_HOUR,
                (sensor, hour),
            ).fetchall()
            old_ts, old_values = unpack((r[0] for r in rows), (r[1] for r in rows))
            merged_ts, merged_values, changed = merge_last_wins(old_ts, old_values, new_ts, new_values)
            if not changed and not replace:
                continue  # an identical rewrite: nothing to do
            self._rewrite_hour(sensor, hour, merged_ts, merged_values)
            for level, table in _ROLLUP_TABLE.items():
                agg = window_arrays(merged_ts, merged_values, level)
                db.executemany(_REPLACE_ROLLUP.format(table=table), agg.rows([sensor]))

    def _rewrite_hour(self, sensor: str, hour: int, ts: np.ndarray, values: np.ndarray) -> None:
        """Replace a sensor-hour's chunks by pieces of ``PIECE_MS`` (sorted, unique readings)."""
        self._db.execute("DELETE FROM chunks WHERE sensor = ? AND hour = ?", (sensor, hour))
        piece = ts - ts % PIECE_MS
        cuts = [0, *(np.flatnonzero(piece[1:] != piece[:-1]) + 1).tolist(), len(ts)]
        ts_blob, val_blob = pack(ts, values)
        self._db.executemany(
            _INSERT_CHUNK,
            [
                (sensor, hour, int(ts[a]), int(ts[b - 1]), b - a, ts_blob[a * 8 : b * 8], val_blob[a * 8 : b * 8])
                for a, b in zip(cuts, cuts[1:], strict=False)
            ],
        )
        self._appended.discard((sensor, hour))

    # ---- maintenance: retention and compaction -------------------------------

    def maintain(self) -> None:
        """Apply retention and compact hours written in many small chunks (never raises)."""
        try:
            self.enforce_retention()
            self._compact()
        except HistorianError as exc:  # stored data is safe; the next pass retries
            log.warning("maintenance of %s failed: %s", self.path, exc)

    def _compact(self) -> None:
        """Rewrite each finished (sensor, hour) appended in several chunks as one chunk.

        A few hundred sensor-hours per transaction, so a writer waiting for the lock
        never waits long and the WAL stays small.
        """
        pending = sorted(self._appended)
        done = 0
        for i in range(0, len(pending), COMPACT_PER_TRANSACTION):
            with self._lock:
                try:
                    done += self._compact_some(pending[i : i + COMPACT_PER_TRANSACTION])
                except sqlite3.OperationalError as exc:
                    raise HistorianUnavailable(f"SQLite compaction failed: {exc}") from exc
        if done:
            log.debug("compacted %d sensor-hours", done)

    def _compact_some(self, pending: list[tuple[str, int]]) -> int:
        done = 0
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            high = self._high_water(sorted({s for s, _ in pending}))
            for sensor, hour in pending:
                hw = high.get(sensor)
                if hw is None or hour + HOUR_MS > hw:
                    continue  # the sensor is still writing into this hour
                self._appended.discard((sensor, hour))
                rows = self._db.execute(_CHUNKS_OF_HOUR, (sensor, hour)).fetchall()
                if len(rows) < 2:
                    continue
                ts, values = unpack((r[0] for r in rows), (r[1] for r in rows))
                self._rewrite_hour(sensor, hour, ts, values)
                done += 1
        return done

    def _delete_before(self, cutoffs: dict[int, int]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        with self._lock:
            if self.readonly:
                return deleted
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._flush_log()  # retention applies to chunks
                    sensors = [r[0] for r in self._db.execute("SELECT sensor FROM latest")]
                    tables = {
                        RAW: ("chunks", "hour"),
                        MINUTE_MS: ("rollup_1m", "start"),
                        HOUR_MS: ("rollup_1h", "start"),
                    }
                    for level, cut in cutoffs.items():
                        table, col = tables[level]
                        if level == RAW:
                            deleted["readings"] = sum(
                                self._db.execute(
                                    "SELECT coalesce(sum(n), 0) FROM chunks WHERE sensor = ? AND hour < ?",
                                    (s, cut),
                                ).fetchone()[0]
                                for s in sensors
                            )
                        cur = self._db.executemany(
                            f"DELETE FROM {table} WHERE sensor = ? AND {col} < ?",
                            [(s, cut) for s in sensors],
                        )
                        if level != RAW:
                            deleted[table] = cur.rowcount
                    if RAW in cutoffs:
                        cur = self._db.execute("DELETE FROM dead_letters WHERE received_ms < ?", (cutoffs[RAW],))
                        deleted["dead_letters"] = cur.rowcount
                    if self._enforced_now is not None:
                        self._db.execute(
                            "INSERT OR REPLACE INTO meta (key, value) VALUES ('retention_now', ?)",
                            (str(self._enforced_now),),
                        )
            except sqlite3.OperationalError as exc:
                raise HistorianUnavailable(f"SQLite retention pass failed: {exc}") from exc
        if any(deleted.values()):
            log.info("retention removed %s", ", ".join(f"{k}={v}" for k, v in deleted.items()))
        return deleted

    # ---- reading -------------------------------------------------------------

    def _fetch(self, sql: str, args: Sequence[object]) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                raise HistorianUnavailable(f"SQLite query failed: {exc}") from exc

    def _raw_since(self, since_ms: int) -> int:
        h = self.horizon(RAW)
        return since_ms if h is None else max(since_ms, h)

    def _load(self, sensor: str, since_ms: int, until_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored readings of one sensor with ``since <= ts < until``, sorted by time."""
        since_ms = self._raw_since(since_ms)
        if since_ms >= until_ms:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        with self._lock:
            try:
                with self._db:  # one read transaction: chunks and log from the same snapshot
                    self._db.execute("BEGIN")
                    rows = self._db.execute(
                        # hour bounds use the primary key; first/last skip pieces outside the range
                        # without reading their blobs
                        "SELECT ts, vals FROM chunks WHERE sensor = ? AND hour >= ? AND hour < ?"
                        " AND last >= ? AND first < ? ORDER BY hour, first",
                        (sensor, since_ms - since_ms % HOUR_MS, until_ms, since_ms, until_ms),
                    ).fetchall()
                    log = self._log_entries()
            except sqlite3.OperationalError as exc:
                raise HistorianUnavailable(f"SQLite query failed: {exc}") from exc
        ts, values = unpack((r[0] for r in rows), (r[1] for r in rows))
        lo, hi = np.searchsorted(ts, since_ms, "left"), np.searchsorted(ts, until_ms, "left")
        ts_parts, val_parts = [ts[lo:hi]], [values[lo:hi]]
        for entry in log:  # newer than every chunk of the sensor, in time order
            t, v = entry.sensor(sensor, since_ms, until_ms)
            ts_parts.append(t)
            val_parts.append(v)
        return np.concatenate(ts_parts), np.concatenate(val_parts)

    def _log_partials(self, sensor: str, since_ms: int, until_ms: int, every_ms: int) -> list[Partial]:
        with self._lock:
            try:
                log = self._log_entries()
            except sqlite3.OperationalError as exc:
                raise HistorianUnavailable(f"SQLite query failed: {exc}") from exc
        parts = [entry.sensor(sensor, since_ms, until_ms) for entry in log]
        if not any(len(t) for t, _ in parts):
            return []
        ts = np.concatenate([t for t, _ in parts])
        values = np.concatenate([v for _, v in parts])
        return window_arrays(ts, values, every_ms).partials()

    def query(self, sensor_ids: Sequence[str], since_ms: int, until_ms: int) -> list[Reading]:
        out: list[Reading] = []
        for sid in dict.fromkeys(sensor_ids):
            ts, values = self._load(sid, since_ms, until_ms)
            out.extend(map(Reading, repeat(sid), ts.tolist(), values.tolist()))
        return out

    def _partials(
        self, level_ms: int, sensor_ids: list[str], since_ms: int, until_ms: int, every_ms: int
    ) -> dict[str, list[Partial]]:
        out = self._stored_partials(level_ms, sensor_ids, since_ms, until_ms, every_ms)
        if level_ms == RAW:
            return out  # _load already merged the log
        for sid in sensor_ids:
            extra = self._log_partials(sid, since_ms, until_ms, every_ms)
            if extra:  # log readings are newer than any rollup of the sensor: merge after
                windows = {p.start_ms: p for p in out.get(sid, [])}
                for p in extra:
                    cur = windows.get(p.start_ms)
                    windows[p.start_ms] = p if cur is None else merge(cur, p)
                out[sid] = [windows[k] for k in sorted(windows)]
        return out

    def _stored_partials(
        self, level_ms: int, sensor_ids: list[str], since_ms: int, until_ms: int, every_ms: int
    ) -> dict[str, list[Partial]]:
        out: dict[str, list[Partial]] = {}
        for sid in sensor_ids:
            if level_ms == RAW:
                ts, values = self._load(sid, since_ms, until_ms)
                out[sid] = window_arrays(ts, values, every_ms).partials()
                continue
            table = _ROLLUP_TABLE[level_ms]
            if every_ms == level_ms:
                rows = self._fetch(
                    f"SELECT start, n, total, lo, hi, last, last_ts FROM {table}"
                    " WHERE sensor = ? AND start >= ? AND start < ? ORDER BY start",
                    (sid, since_ms, until_ms),
                )
                out[sid] = list(map(Partial._make, rows))
                continue
            args = (every_ms, sid, since_ms, until_ms)
            w = _W.format(col="start")
            aggs = self._fetch(
                f"SELECT {w} AS w, sum(n), sum(total), min(lo), max(hi) FROM {table}"
                " WHERE sensor = ?2 AND start >= ?3 AND start < ?4 GROUP BY w ORDER BY w",
                args,
            )
            # A single max() makes SQLite return the bare column from that row:
            lasts = {
                w_: (v, t)
                for w_, t, v in self._fetch(
                    f"SELECT {w} AS w, max(last_ts), last FROM {table}"
                    " WHERE sensor = ?2 AND start >= ?3 AND start < ?4 GROUP BY w",
                    args,
                )
            }
            out[sid] = [Partial(w_, n, total, lo, hi, *lasts[w_]) for w_, n, total, lo, hi in aggs]
        return out

    def latest(self, sensor_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        floor = self._raw_since(_MIN_INT64)
        if sensor_ids is None:
            rows = self._fetch("SELECT sensor, ts, value FROM latest WHERE ts >= ?", (floor,))
        else:
            ids = list(dict.fromkeys(sensor_ids))
            rows = []
            for i in range(0, len(ids), _IN_CHUNK):
                part = ids[i : i + _IN_CHUNK]
                rows += self._fetch(
                    f"SELECT sensor, ts, value FROM latest WHERE ts >= ? AND sensor IN ({_placeholders(len(part))})",
                    [floor, *part],
                )
        return {s: Reading(s, ts, v) for s, ts, v in rows}

    def counts(self) -> dict[str, int]:
        # Horizons are whole hours, so whole chunks are in or out; the log is all recent.
        out = dict(
            self._fetch(
                "SELECT sensor, sum(n) FROM chunks WHERE hour >= ? GROUP BY sensor",
                (self._raw_since(_MIN_INT64),),
            )
        )
        floor = self._raw_since(_MIN_INT64)
        with self._lock:
            log = self._log_entries()
        for entry in log:
            for name, g in entry.index.items():
                s = entry.batch.series(g)
                n = int((s.ts >= floor).sum())
                if n:
                    out[name] = out.get(name, 0) + n
        return out

    def dead_letters(
        self, since_ms: int | None = None, reason: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        sql = "SELECT received_ms, topic, payload, reason, detail, sensor FROM dead_letters WHERE received_ms >= ?"
        args: list[object] = [self._raw_since(since_ms if since_ms is not None else _MIN_INT64)]
        if reason is not None:
            sql += " AND reason = ?"
            args.append(reason)
        sql += " ORDER BY received_ms DESC, id DESC LIMIT ?"
        args.append(max(0, int(limit)))
        return [DeadLetter(t, tp, bytes(p), r, d, s) for t, tp, p, r, d, s in self._fetch(sql, args)]

    def dead_letter_counts(self) -> dict[str, int]:
        return dict(
            self._fetch(
                "SELECT reason, count(*) FROM dead_letters WHERE received_ms >= ? GROUP BY reason",
                (self._raw_since(_MIN_INT64),),
            )
        )

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error as exc:
                log.warning("closing %s: %s", self.path, exc)
