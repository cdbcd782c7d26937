"""Embedded SQLite historian: WAL, one row per (sensor, ts), idempotent writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from twin.codec import Reading
from twin.errors import HistorianError, HistorianUnavailable
from twin.historian.base import DeadLetter, Historian, Window

__all__ = ["SqliteHistorian"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    sensor TEXT NOT NULL,
    ts     INTEGER NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
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
    sensor      TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters (received_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_UPSERT_LATEST = """
INSERT INTO latest (sensor, ts, value) VALUES (?, ?, ?)
ON CONFLICT (sensor) DO UPDATE SET ts = excluded.ts, value = excluded.value
WHERE excluded.ts > latest.ts
"""


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


class SqliteHistorian(Historian):
    """A historian in one SQLite file.

    ``synchronous`` is ``FULL`` by default: a stored batch survives a power cut,
    which is what an acknowledged MQTT message promises.
    """

    def __init__(self, path: str | Path, synchronous: str = "FULL", readonly: bool = False):
        self.path = Path(path)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise HistorianError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, got {synchronous!r}")
        self._lock = threading.Lock()
        try:
            if readonly:
                self._db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=10
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                self._db.commit()
        except sqlite3.Error as exc:
            raise HistorianUnavailable(f"cannot open SQLite historian {self.path}: {exc}") from exc

    # ---- writing -------------------------------------------------------------

    def store(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        newest: dict[str, Reading] = {}
        for r in readings:
            cur = newest.get(r.sensor_id)
            if cur is None or r.ts_ms > cur.ts_ms:
                newest[r.sensor_id] = r
        with self._lock:
            try:
                with self._db:  # one transaction: all or nothing
                    if readings:
                        self._db.executemany(
                            "INSERT OR IGNORE INTO readings (sensor, ts, value) VALUES (?, ?, ?)",
                            [(r.sensor_id, r.ts_ms, r.value) for r in readings],
                        )
                        self._db.executemany(
                            _UPSERT_LATEST, [(r.sensor_id, r.ts_ms, r.value) for r in newest.values()]
                        )
                    if dead_letters:
                        self._db.executemany(
                            "INSERT INTO dead_letters (received_ms, topic, payload, reason, detail, sensor)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            [
                                (d.received_ms, d.topic, d.payload, d.reason, d.detail, d.sensor_id)
                                for d in dead_letters
                            ],
                        )
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: may pass
                raise HistorianUnavailable(f"SQLite write failed: {exc}") from exc
            except sqlite3.Error as exc:
                raise HistorianError(f"SQLite write failed: {exc}") from exc

    # ---- reading -------------------------------------------------------------

    def _fetch(self, sql: str, args: Sequence[object]) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                raise HistorianUnavailable(f"SQLite query failed: {exc}") from exc

    def query(self, sensor_ids: Sequence[str], since_ms: int, until_ms: int) -> list[Reading]:
        out: list[Reading] = []
        for sid in sensor_ids:
            rows = self._fetch(
                "SELECT ts, value FROM readings WHERE sensor = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (sid, since_ms, until_ms),
            )
            out.extend(Reading(sid, ts, v) for ts, v in rows)
        return out

    def query_windows(
        self, sensor_ids: Sequence[str], since_ms: int, until_ms: int, every_ms: int
    ) -> list[Window]:
        if every_ms <= 0:
            raise HistorianError(f"window must be > 0 ms, got {every_ms}")
        out: list[Window] = []
        for sid in sensor_ids:
            args = (every_ms, every_ms, sid, since_ms, until_ms)
            aggs = self._fetch(
                "SELECT (ts / ?) * ? AS w, avg(value), min(value), max(value), count(*) FROM readings"
                " WHERE sensor = ? AND ts >= ? AND ts < ? GROUP BY w ORDER BY w",
                args,
            )
            # SQLite returns the bare column from the row holding the single max():
            lasts = dict(
                (w, v)
                for w, _, v in self._fetch(
                    "SELECT (ts / ?) * ? AS w, max(ts), value FROM readings"
                    " WHERE sensor = ? AND ts >= ? AND ts < ? GROUP BY w",
                    args,
                )
            )
            out.extend(Window(sid, w, mean, lo, hi, lasts[w], n) for w, mean, lo, hi, n in aggs)
        return out

    def latest(self, sensor_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        if sensor_ids is None:
            rows = self._fetch("SELECT sensor, ts, value FROM latest", ())
        else:
            ids = list(sensor_ids)
            rows = []
            for i in range(0, len(ids), 500):  # stay under SQLite's variable limit
                chunk = ids[i : i + 500]
                rows += self._fetch(
                    f"SELECT sensor, ts, value FROM latest WHERE sensor IN ({_placeholders(len(chunk))})",
                    chunk,
                )
        return {s: Reading(s, ts, v) for s, ts, v in rows}

    def counts(self) -> dict[str, int]:
        return dict(self._fetch("SELECT sensor, count(*) FROM readings GROUP BY sensor", ()))

    def dead_letters(
        self, since_ms: int | None = None, reason: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        sql = "SELECT received_ms, topic, payload, reason, detail, sensor FROM dead_letters WHERE 1=1"
        args: list[object] = []
        if since_ms is not None:
            sql += " AND received_ms >= ?"
            args.append(since_ms)
        if reason is not None:
            sql += " AND reason = ?"
            args.append(reason)
        sql += " ORDER BY received_ms DESC, id DESC LIMIT ?"
        args.append(max(0, int(limit)))
        return [DeadLetter(t, tp, bytes(p), r, d, s) for t, tp, p, r, d, s in self._fetch(sql, args)]

    def dead_letter_counts(self) -> dict[str, int]:
        return dict(self._fetch("SELECT reason, count(*) FROM dead_letters GROUP BY reason", ()))

    def close(self) -> None:
        with self._lock:
            self._db.close()
