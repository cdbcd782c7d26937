"""SQLite-specific behaviour: schema upgrade, compaction, automatic retention, sharing a file."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from twin.codec import Reading
from twin.errors import HistorianError
from twin.historian import open_historian
from twin.historian import sqlite as sqlite_backend
from twin.historian.base import DeadLetter
from twin.historian.retention import Retention
from twin.historian.rollups import HOUR_MS, MINUTE_MS
from twin.historian.sqlite import SqliteHistorian
from twin.timespec import now_ms

DAY = 86_400_000

SCHEMA_1 = """
CREATE TABLE readings (sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (sensor, ts)) WITHOUT ROWID;
CREATE TABLE latest (sensor TEXT PRIMARY KEY, ts INTEGER NOT NULL, value REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, sensor TEXT);
CREATE INDEX dead_letters_time ON dead_letters (received_ms);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def recent_hour() -> int:
    now = now_ms()
    return now - now % HOUR_MS - 5 * HOUR_MS


def test_upgrades_a_schema_1_file(tmp_path):
    path = tmp_path / "old.db"
    base = recent_hour()
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    db.executemany(
        "INSERT INTO readings VALUES (?, ?, ?)",
        [("s", base + i * 1000, float(i)) for i in range(7200)],
    )
    db.execute("INSERT INTO latest VALUES ('s', ?, 7199.0)", (base + 7_199_000,))
    db.execute(
        "INSERT INTO dead_letters (received_ms, topic, payload, reason, detail) VALUES (?, 't', x'00', 'r', 'd')",
        (base,),
    )
    db.commit()
    db.close()
    with pytest.raises(HistorianError, match="open it once read-write"):
        SqliteHistorian(path, readonly=True)
    h = SqliteHistorian(path)
    assert h.counts() == {"s": 7200}
    assert [(w.count, w.min, w.max, w.last) for w in h.query_windows(["s"], base, base + DAY, HOUR_MS)] == [
        (3600, 0.0, 3599.0, 3599.0),
        (3600, 3600.0, 7199.0, 7199.0),
    ]
    assert h.dead_letters() == [DeadLetter(base, "t", b"\x00", "r", "d", None)]
    tables = {r[0] for r in h._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "readings" not in tables and {"chunks", "rollup_1m", "rollup_1h"} <= tables
    h.store([], [DeadLetter(base, "t", b"\x00", "r", "d", None)])  # the digest index works on upgraded rows
    h.close()
    ro = SqliteHistorian(path, readonly=True)
    assert ro.counts() == {"s": 7200}
    with pytest.raises(HistorianError, match="read-only"):
        ro.store([Reading("s", base, 1.0)])
    ro.close()


def test_many_small_batches_are_compacted_without_changing_results(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_backend, "LOG_MAX_ROWS", 1)  # flush every batch into its own chunks
    h = SqliteHistorian(tmp_path / "h.db")
    base = recent_hour()
    readings = [Reading(s, base + i * 1000, float(i % 17)) for i in range(3600) for s in ("a", "b")]
    for i in range(0, len(readings), 50):
        h.store(readings[i : i + 50])
    h.store([Reading("a", base + HOUR_MS + 5, 1.0)])  # sensor a moved on to the next hour
    before = (
        h.query_windows(["a", "b"], base, base + DAY, MINUTE_MS),
        h.query(["a", "b"], base, base + DAY),
    )
    chunks = lambda s: h._db.execute(  # noqa: E731
        "SELECT count(*) FROM chunks WHERE sensor = ? AND hour = ?", (s, base)
    ).fetchone()[0]  # noqa: E731
    assert chunks("a") > 50
    h.maintain()
    assert chunks("a") == 6  # finished hour: one chunk per 10 minutes
    assert chunks("b") > 50  # b may still write into this hour
    assert (
        h.query_windows(["a", "b"], base, base + DAY, MINUTE_MS),
        h.query(["a", "b"], base, base + DAY),
    ) == before
    h.close()


def test_automatic_retention_pass_deletes_expired_rows(tmp_path, monkeypatch):
    clock = [now_ms()]
    h = SqliteHistorian(tmp_path / "h.db", retention=Retention(DAY, 2 * DAY, None), clock=lambda: clock[0])
    base = clock[0] - clock[0] % HOUR_MS - 2 * HOUR_MS
    h.store(
        [Reading("s", base + i * 1000, 1.0) for i in range(100)],
        [DeadLetter.make(base, "t", b"", "r", "d")],
    )
    count = lambda table: h._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    assert (count("chunks"), count("rollup_1m"), count("dead_letters")) == (1, 2, 1)
    clock[0] += 3 * DAY
    monkeypatch.setattr(sqlite_backend, "MAINTENANCE_EVERY_S", 0.0)
    h._next_maintenance = 0.0
    h.store([Reading("s", clock[0], 2.0)])
    assert (count("chunks"), count("rollup_1m"), count("rollup_1h"), count("dead_letters")) == (
        1,
        1,
        2,
        0,
    )
    h.close()


def test_two_writers_on_one_file_keep_rollups_exact(tmp_path):
    path = tmp_path / "shared.db"
    base = recent_hour()
    writers = [SqliteHistorian(path), SqliteHistorian(path)]
    readings = [Reading("s", base + i * 250, float(i % 101)) for i in range(8000)]
    errors: list[Exception] = []

    def run(k: int) -> None:
        mine = readings[k::2]  # like shared subscriptions: alternate readings of one sensor
        try:
            for i in range(0, len(mine), 20):
                writers[k].store(mine[i : i + 20])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    h = writers[0]
    wins = h.query_windows(["s"], base, base + DAY, MINUTE_MS)
    assert sum(w.count for w in wins) == 8000 and all(w.count == 240 for w in wins[:-1])
    assert wins[0].max == 100.0 and wins[0].last == float(239 % 101)
    assert h.query(["s"], base, base + DAY) == readings  # complete and in time order
    for w in writers:
        w.close()


def test_sync_option(tmp_path):
    h = open_historian(f"sqlite://{tmp_path}/n.db?sync=normal")
    assert h._db.execute("PRAGMA synchronous").fetchone()[0] == 1
    h.close()
    h = open_historian(f"sqlite://{tmp_path}/f.db")
    assert h._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL by default
    h.close()


def test_recent_log_is_invisible_to_readers_and_flushed_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_backend, "LOG_MAX_READINGS", 500)
    h = SqliteHistorian(tmp_path / "h.db")
    reader = SqliteHistorian(tmp_path / "h.db", readonly=True)
    base = recent_hour()
    readings = [Reading(s, base + i * 1000, float(i % 50)) for i in range(400) for s in ("a", "b")]
    rows = lambda table: h._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    h.store(readings[:2])  # the first store also runs maintenance, which flushes
    h.store(readings[2:300])
    assert rows("recent") == 1  # a normal batch is one log row ...
    for who in (h, reader):  # ... yet every reader sees it, also through rollups
        assert who.counts() == {"a": 150, "b": 150}
        assert [(w.count, w.last) for w in who.query_windows(["a"], base, base + DAY, MINUTE_MS)] == [
            (60, 9.0),
            (60, 19.0),
            (30, 49.0),
        ]
        assert who.query(["b"], base + 148_000, base + DAY) == [
            Reading("b", base + 148_000, 48.0),
            Reading("b", base + 149_000, 49.0),
        ]
    h.store(readings[300:800])  # past LOG_MAX_READINGS: flushed into chunks and rollups
    assert rows("recent") == 0 and rows("chunks") > 0
    h.store(readings[800:])
    h.store(readings[100:110])  # a redelivery takes the slow path, which flushes the log first
    assert rows("recent") == 0
    for who in (h, reader):
        assert who.counts() == {"a": 400, "b": 400}
        wins = who.query_windows(["a", "b"], base, base + DAY, HOUR_MS)
        assert [(w.sensor_id, w.count, w.min, w.max, w.last) for w in wins] == [
            ("a", 400, 0.0, 49.0, 49.0),
            ("b", 400, 0.0, 49.0, 49.0),
        ]
    reader.close()
    h.close()
