"""Historian benchmark: SQLite and a real InfluxDB 1.6.7, side by side in one run.

    python benchmarks/historian.py --json

1. Write throughput: readings/s through ``Historian.store`` in batches of 5,000
   (300 sensors at 1 Hz, in time order, rollups included), median of ``--runs`` runs
   on fresh stores. Each run also times a baseline in the same conditions, so the
   numbers can be read as ratios on a noisy machine: for SQLite the schema-1 layout
   (one row per reading, same ``synchronous=FULL`` commit per batch, no rollups); for
   InfluxDB the bare v1 ``/write`` of the same raw points (no rollups).
2. Query latency: ``--hours`` (24) of 1 Hz data for ``--sensors`` (300) sensors is
   loaded into each backend; then a random sensor's full range is queried
   ``--queries`` times at raw resolution (``query``), 1-minute and 1-hour windows
   (``query_windows``), and at 1 minute over a range whose ends both fall inside a
   minute (``1m_edges``: the edge windows come from raw readings); p50 and p95 in ms.

The last line printed is one JSON object (with ``--json``); the keys other tools read
are ``sqlite.write_per_s``, ``influxdb.write_per_s`` and
``<backend>.query_p95_ms.{raw,1m,1h}`` - present both nested and as flat dotted keys.
Needs ``influxd`` (Debian package ``influxdb``) on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.influxdb import InfluxD  # noqa: E402 - a plain class; no pytest needed at run time
from twin.codec import Reading  # noqa: E402
from twin.historian import open_historian  # noqa: E402
from twin.historian.base import Historian  # noqa: E402
from twin.historian.rollups import RAW  # noqa: E402

MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000


def sensor_ids(n: int) -> list[str]:
    return [f"zone-{chr(97 + i % 4)}-line{i // 4 % 8}-s{i:03d}" for i in range(n)]


def batches(sensors: list[str], start_ms: int, batch: int, seconds: int | None = None) -> Iterator[list[Reading]]:
    """1 Hz readings of every sensor in time order, cut into batches."""
    out: list[Reading] = []
    t = start_ms
    end = None if seconds is None else start_ms + seconds * 1000
    while end is None or t < end:
        sec = t // 1000
        for i, sid in enumerate(sensors):
            out.append(Reading(sid, t, ((sec * 7919 + i * 31) % 2000) / 10.0))
            if len(out) == batch:
                yield out
                out = []
        t += 1000
    if out:
        yield out


def timed_writes(store: Callable[[list[Reading]], None], work: list[list[Reading]]) -> float:
    """Readings per second over all batches."""
    n = sum(len(b) for b in work)
    t0 = time.perf_counter()
    for b in work:
        store(b)
    return n / (time.perf_counter() - t0)


def naive_sqlite(path: Path) -> tuple[Callable[[list[Reading]], None], Callable[[], None]]:
    """The schema-1 layout: one row per reading, one FULL-synchronous commit per batch."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE readings (sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,"
        " PRIMARY KEY (sensor, ts)) WITHOUT ROWID"
    )

    def store(b: list[Reading]) -> None:
        with db:
            db.executemany(
                "INSERT OR IGNORE INTO readings VALUES (?, ?, ?)",
                [(r.sensor_id, r.ts_ms, r.value) for r in b],
            )

    return store, db.close


def raw_influx(h: Historian) -> Callable[[list[Reading]], None]:
    """The same raw points through the bare v1 /write, without rollups."""
    h.ensure_schema()  # type: ignore[attr-defined]

    def store(b: list[Reading]) -> None:
        h._t.write(RAW, [f"reading,sensor={r.sensor_id} value={r.value!r} {r.ts_ms}" for r in b])  # type: ignore[attr-defined]

    return store


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def query_latencies(
    h: Historian, sensors: list[str], since: int, until: int, n: int, seed: int
) -> dict[str, list[float]]:
    """ms per query: raw, 1-minute and 1-hour windows over [since, until), and 1-minute
    windows over a range whose both ends fall inside a minute ("1m_edges")."""
    rnd = random.Random(seed)
    out: dict[str, list[float]] = {"raw": [], "1m": [], "1h": [], "1m_edges": []}
    span = until - since
    expect = {"raw": span // 1000, "1m": span // MINUTE_MS, "1h": span // HOUR_MS, "1m_edges": span // MINUTE_MS}
    for _ in range(n):
        sid = rnd.choice(sensors)
        head, tail = rnd.randrange(1000, 59_000, 1000), rnd.randrange(1000, 59_000, 1000)
        for name, call in (
            ("raw", lambda sid=sid: h.query([sid], since, until)),
            ("1m", lambda sid=sid: h.query_windows([sid], since, until, MINUTE_MS)),
            ("1h", lambda sid=sid: h.query_windows([sid], since, until, HOUR_MS)),
            ("1m_edges", lambda sid=sid, a=head, b=tail: h.query_windows([sid], since + a, until - b, MINUTE_MS)),
        ):
            t0 = time.perf_counter()
            got = call()
            out[name].append((time.perf_counter() - t0) * 1000)
            if len(got) != expect[name]:
                raise SystemExit(f"{name} query returned {len(got)} rows, expected {expect[name]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, default=300)
    ap.add_argument("--hours", type=int, default=24, help="1 Hz data loaded for the query benchmark")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5, help="write-throughput runs (median reported)")
    ap.add_argument("--write-batches", type=int, default=60, help="batches per write run")
    ap.add_argument("--queries", type=int, default=30, help="queries per resolution and backend")
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of results")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop influxd on the way out
    work = args.workdir or Path(tempfile.mkdtemp(prefix="twin-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sensors = sensor_ids(args.sensors)
    now = int(time.time() * 1000)
    load0 = os.getloadavg()
    server = InfluxD(workdir=work / "influxd")
    server.start()
    influx_url = lambda db: server.url(db, settle="off")  # noqa: E731 - one writer: no settle pass
    results: dict = {"sqlite": {}, "influxdb": {}}
    try:
        # ---- 1. write throughput ------------------------------------------------
        write_start = now - now % DAY_MS - 3 * DAY_MS  # inside the default 35-day retention
        gen = batches(sensors, write_start, args.batch)
        rates: dict[str, list[float]] = {
            "sqlite": [],
            "sqlite_baseline": [],
            "influxdb": [],
            "influxdb_baseline": [],
        }
        for run in range(args.runs):
            todo = [next(gen) for _ in range(args.write_batches)]
            h = open_historian(f"sqlite://{work}/w{run}.db")
            rates["sqlite"].append(timed_writes(h.store, todo))
            h.close()
            store, close = naive_sqlite(work / f"naive{run}.db")
            rates["sqlite_baseline"].append(timed_writes(store, todo))
            close()
            h = open_historian(influx_url(f"w{run}"))
            h.ensure_schema()  # type: ignore[attr-defined] - database creation is not a write
            rates["influxdb"].append(timed_writes(h.store, todo))
            h.close()
            h = open_historian(influx_url(f"raw{run}"))
            rates["influxdb_baseline"].append(timed_writes(raw_influx(h), todo))
            h.close()
            print(
                f"write run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()),
                file=sys.stderr,
            )
        for backend in ("sqlite", "influxdb"):
            med, base = (
                statistics.median(rates[backend]),
                statistics.median(rates[f"{backend}_baseline"]),
            )
            results[backend].update(
                write_per_s=round(med),
                write_runs_per_s=[round(x) for x in rates[backend]],
                write_baseline_per_s=round(base),
                write_ratio_to_baseline=round(med / base, 2),
            )

        # ---- 2. query latency over a loaded day -----------------------------------
        day_start = now - now % HOUR_MS - (args.hours + 2) * HOUR_MS
        since, until = day_start, day_start + args.hours * HOUR_MS
        stores = {
            "sqlite": open_historian(f"sqlite://{work}/day.db"),
            "influxdb": open_historian(influx_url("day")),
        }
        for backend, h in stores.items():
            spent, n = 0.0, 0
            for b in batches(sensors, since, args.batch, seconds=args.hours * 3600):
                t0 = time.perf_counter()
                h.store(b)
                spent += time.perf_counter() - t0
                n += len(b)
            results[backend]["load_readings"] = n
            results[backend]["load_per_s"] = round(n / spent)
            if hasattr(h, "maintain"):
                # What the writer's maintenance (every 10 min) would have done over the day.
                t0 = time.perf_counter()
                h.maintain()
                results[backend]["compaction_s"] = round(time.perf_counter() - t0, 1)
            print(f"{backend}: loaded {n:,} readings at {n / spent:,.0f}/s", file=sys.stderr)
        for backend, h in stores.items():
            lat = query_latencies(h, sensors, since, until, args.queries, seed=1)
            results[backend]["query_p50_ms"] = {k: round(percentile(v, 0.5), 1) for k, v in lat.items()}
            results[backend]["query_p95_ms"] = {k: round(percentile(v, 0.95), 1) for k, v in lat.items()}
            h.close()
    finally:
        server.stop()

    results["params"] = {
        "sensors": args.sensors,
        "hours": args.hours,
        "batch": args.batch,
        "runs": args.runs,
        "write_batches": args.write_batches,
        "queries": args.queries,
        "sqlite_synchronous": "FULL",
        "influxdb": "1.6.7 (Debian), wal-fsync-delay 0s, settle=off (one writer)",
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    for backend in ("sqlite", "influxdb"):
        r = results[backend]
        results[f"{backend}.write_per_s"] = r["write_per_s"]
        for k, v in r["query_p95_ms"].items():
            results[f"{backend}.query_p95_ms.{k}"] = v

    print()
    print(f"{'':24}{'SQLite':>14}{'InfluxDB 1.6.7':>16}")
    s, i = results["sqlite"], results["influxdb"]
    rows = [
        ("write readings/s", s["write_per_s"], i["write_per_s"]),
        ("  baseline readings/s", s["write_baseline_per_s"], i["write_baseline_per_s"]),
        ("  ratio to baseline", s["write_ratio_to_baseline"], i["write_ratio_to_baseline"]),
        ("load readings/s", s["load_per_s"], i["load_per_s"]),
    ]
    for level in ("raw", "1m", "1m_edges", "1h"):
        rows.append((f"query {level} p50 ms", s["query_p50_ms"][level], i["query_p50_ms"][level]))
        rows.append((f"query {level} p95 ms", s["query_p95_ms"][level], i["query_p95_ms"][level]))
    for label, a, b in rows:
        print(f"{label:24}{a:>14,}{b:>16,}")
    if args.json:
        print(json.dumps(results, separators=(",", ":")))


if __name__ == "__main__":
    main()
