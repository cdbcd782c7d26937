"""Ingest benchmark: load generator -> Mosquitto -> `twin ingest` -> SQLite.

Measures, with zero loss required:
- single:   one reading per message, QoS 1
- batched:  50 readings per message (a gateway), QoS 1
- baseline: a naive paho subscriber that inserts and commits each reading (same load)
- single_mqtt311: the single case with MQTT 3.1.1
- paced:    single readings offered at a fixed rate below saturation (--paced-rate), so the
            p50/p99 latency is the pipeline's own, not queueing behind a backlog
- single_drain / batched_drain: the same loads queued in the ingest's broker session first
            and then drained, so the publishers do not share the 2 cores with the ingest

The load comes from several `mosquitto_pub -l` processes (C clients), so the
generator is not the bottleneck; the offered rate is reported beside the stored
rate. Publish-to-stored latency is measured with probe readings stamped at
publish time and polled from the historian every few milliseconds.

    python benchmarks/ingest.py [--runs 3] [--messages 150000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.config import load_complex  # noqa: E402
from twin.historian import open_historian  # noqa: E402
from twin.topics import telemetry_topic  # noqa: E402

PUBLISHERS = 4
PROBE_EVERY_S = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def start_mosquitto(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    data = work / "mq"
    data.mkdir(parents=True)
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {data}/\nmax_queued_messages 0\nmax_inflight_messages 1000\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosq, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def devices(complex_, n: int) -> list[tuple[str, list[str]]]:
    """The n devices with the most sensors: (topic, sensor ids)."""
    ranked = sorted(complex_.devices.items(), key=lambda kv: -len(kv[1]))[:n]
    return [(telemetry_topic(o, d), list(s)) for (o, d), s in ranked]


def make_load(work: Path, complex_, messages: int, per_message: int, base_ts: int) -> list[tuple[str, Path, int]]:
    """Payload files for the publishers: (topic, file, readings)."""
    out = []
    per_pub = messages // PUBLISHERS
    for i, (topic, sensors) in enumerate(devices(complex_, PUBLISHERS)):
        path = work / f"load-{per_message}-{i}.txt"
        lines = []
        ranges = {s: complex_.sensors[s].sensor.range for s in sensors}
        for n in range(per_pub):
            if per_message == 1:
                s = sensors[n % len(sensors)]
                lo, hi = ranges[s]
                lines.append(orjson.dumps({"sensor": s, "ts": base_ts + n, "value": (lo + hi) / 2}))
            else:
                s = sensors[n % len(sensors)]
                lo, hi = ranges[s]
                lines.append(orjson.dumps({"readings": [
                    {"sensor": s, "ts": base_ts + n * per_message + k, "value": (lo + hi) / 2}
                    for k in range(per_message)
                ]}))
        path.write_bytes(b"\n".join(lines) + b"\n")
        out.append((topic, path, per_pub * per_message))
    return out


class Probe:
    """Publishes probe readings stamped at publish time; polls the store for them."""

    def __init__(self, port: int, db: Path, complex_):
        import paho.mqtt.client as mqtt

        topic, sensors = devices(complex_, PUBLISHERS + 1)[-1]
        self.topic, self.sensor = topic, sensors[0]
        lo, hi = complex_.sensors[self.sensor].sensor.range
        self.value = (lo + hi) / 2
        self.db = db
        self.latencies: list[float] = []
        self.sent: dict[int, float] = {}
        self._stop = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def start(self) -> None:
        threading.Thread(target=self._publish, daemon=True).start()
        threading.Thread(target=self._poll, daemon=True).start()

    def _publish(self) -> None:
        while not self._stop.is_set():
            ts = time.time_ns() // 1_000_000
            if ts not in self.sent:
                self.sent[ts] = time.perf_counter()
                body = orjson.dumps({"sensor": self.sensor, "ts": ts, "value": self.value})
                self.client.publish(self.topic, body, qos=1)
            time.sleep(PROBE_EVERY_S)

    def _poll(self) -> None:
        last = 0
        h = None
        while not self._stop.is_set():
            try:
                if h is None:
                    h = open_historian(f"sqlite://{self.db}", readonly=True)
                rows = h.query([self.sensor], last + 1, 2**62)
            except Exception:  # the store may not exist yet
                h, rows = None, []
            now = time.perf_counter()
            for r in rows:
                if r.ts_ms in self.sent:
                    self.latencies.append((now - self.sent[r.ts_ms]) * 1000)
                last = max(last, r.ts_ms)
            time.sleep(0.003)

    def stop(self) -> None:
        self._stop.set()
        self.client.loop_stop()


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def wait_ingest_connected(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ingest exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.loads(r.read()).get("broker_down_s") == 0:
                    time.sleep(0.5)
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("ingest did not connect")


def count_rows(db: Path, exclude: str | None = None) -> int:
    with open_historian(f"sqlite://{db}", readonly=True) as h:
        return sum(n for s, n in h.counts().items() if s != exclude)


def run_publishers(
    port: int, load: list[tuple[str, Path, int]], rate: float | None = None
) -> tuple[list[subprocess.Popen], float]:
    """Start one `mosquitto_pub -l` per load file; ``rate`` (messages/s in all) paces them, else as fast as they go."""
    pub = shutil.which("mosquitto_pub")
    procs = []
    t0 = time.perf_counter()
    for topic, path, _ in load:
        p = subprocess.Popen(
            # -M: a wide in-flight window, so each C publisher is not bound by PUBACK round trips
            [pub, "-p", str(port), "-q", "1", "-M", "1000", "-t", topic, "-l", "-i", f"bench-pub-{path.stem}"],
            stdin=subprocess.PIPE if rate else path.open("rb"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(p)
        if rate:
            threading.Thread(target=_feed, args=(p, path, rate / len(load), t0), daemon=True).start()
    return procs, t0


def _feed(proc: subprocess.Popen, path: Path, rate: float, t0: float) -> None:
    """Write ``path``'s lines to the publisher's stdin at ``rate`` lines/s, then close it."""
    lines = path.read_bytes().splitlines(keepends=True)
    sent = 0
    try:
        while sent < len(lines):
            due = min(len(lines), int((time.perf_counter() - t0) * rate) + 1)
            if due > sent:
                proc.stdin.write(b"".join(lines[sent:due]))
                proc.stdin.flush()
                sent = due
            time.sleep(0.005)
    finally:
        proc.stdin.close()


def start_ingest(work: Path, port: int, db: Path, http: int, workers: int, protocol: str = "5") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "twin", "ingest", "--broker", f"mqtt://127.0.0.1:{port}?protocol={protocol}",
         "--historian", f"sqlite://{db}", "--config", "demo", "--spool-dir", str(work / "spool"),
         "--http-port", str(http), "--workers", str(workers), "--client-id", "bench-ingest",
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_drain_case(work: Path, complex_, messages: int, per_message: int, workers: int) -> dict:
    """The ingest's own capacity: the load is queued in its broker session first, then drained.

    On 2 cores the publishers and the broker take CPU from the ingest while they publish; here
    they are done before the ingest starts, so the rate is what the ingest alone sustains.
    Measured from the first stored reading to the last.
    """
    mq, port = start_mosquitto(work)
    db = work / "h.db"
    http = free_port()
    base_ts = time.time_ns() // 1_000_000 - 86_400_000
    load = make_load(work, complex_, messages, per_message, base_ts)
    total = sum(n for _, _, n in load)
    try:
        ing = start_ingest(work, port, db, http, workers)  # creates the persistent session
        for w in range(workers):
            wait_ingest_connected(http + w, ing)
        stop_process(ing)  # leaves cleanly; the broker queues for the session from now on
        procs, _ = run_publishers(port, load)
        for p in procs:
            p.wait(600)
        ing = start_ingest(work, port, db, http, workers)
        ingest_procs: list[psutil.Process] = []
        first: tuple[float, int] | None = None
        stored, peak_rss = 0, 0.0
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline and stored < total:
                try:
                    stored = int(sum(metric(http + w, "twin_ingest_readings_stored_total") for w in range(workers)))
                except OSError:
                    stored = 0  # not listening yet
                now = time.perf_counter()
                if first is None and stored > 0:
                    first = (now, stored)
                    ingest_procs = [psutil.Process(ing.pid)] + psutil.Process(ing.pid).children()
                for p in ingest_procs:
                    try:
                        peak_rss = max(peak_rss, p.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
                time.sleep(0.02)
            end = time.perf_counter()
        finally:
            stop_process(ing)
        bench_rows = count_rows(db)
        t_first, n_first = first or (end, 0)
        return {
            "readings": total,
            "readings_per_s": round((total - n_first) / max(end - t_first, 1e-6)),
            "lost": max(0, total - bench_rows),
            "peak_rss_mb": round(peak_rss, 1),
        }
    finally:
        mq.terminate()
        mq.wait(10)


def run_ingest_case(
    work: Path, complex_, messages: int, per_message: int, workers: int, protocol: str = "5",
    rate: float | None = None,
) -> dict:
    mq, port = start_mosquitto(work)
    db = work / "h.db"
    http = free_port()
    base_ts = time.time_ns() // 1_000_000 - 86_400_000
    load = make_load(work, complex_, messages, per_message, base_ts)
    total = sum(n for _, _, n in load)
    ing = start_ingest(work, port, db, http, workers, protocol)
    try:
        for w in range(workers):
            wait_ingest_connected(http + w, ing)
        probe = Probe(port, db, complex_)
        probe.start()
        procs, t0 = run_publishers(port, load, rate)
        peak_rss = 0.0
        offered_s = None
        stored = 0
        deadline = time.monotonic() + 600
        ingest_procs = [psutil.Process(ing.pid)] + psutil.Process(ing.pid).children()
        while time.monotonic() < deadline:
            if offered_s is None and all(p.poll() is not None for p in procs):
                offered_s = time.perf_counter() - t0
            for p in ingest_procs:
                try:
                    peak_rss = max(peak_rss, p.memory_info().rss / 2**20)
                except psutil.Error:
                    pass
            stored = int(sum(metric(http + w, "twin_ingest_readings_stored_total") for w in range(workers)))
            if offered_s is not None and stored >= total:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        time.sleep(0.3)
        probe.stop()
        bench_rows = count_rows(db, exclude=probe.sensor)  # probe readings are not part of the load
        lat = sorted(probe.latencies)
        return {
            "readings": total,
            "readings_per_s": round(total / elapsed),
            "offered_per_s": round(total / (offered_s or elapsed)),
            "lost": max(0, total - bench_rows),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
            "peak_rss_mb": round(peak_rss, 1),
        }
    finally:
        stop_process(ing)
        mq.terminate()
        mq.wait(10)


BASELINE = r'''
import sqlite3, sys, time, orjson
import paho.mqtt.client as mqtt
port, db, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE TABLE IF NOT EXISTS readings (sensor TEXT, ts INTEGER, value REAL, PRIMARY KEY (sensor, ts))")
n = 0
def on_message(c, u, m):
    global n
    d = orjson.loads(m.payload)
    con.execute("INSERT OR IGNORE INTO readings VALUES (?, ?, ?)", (d["sensor"], d["ts"], d["value"]))
    con.commit()
    n += 1
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="naive", clean_session=False)
c.on_message = on_message
c.connect("127.0.0.1", port)
c.subscribe("twin/v1/+/+/telemetry", qos=1)
print("ready", flush=True)
while n < total:
    c.loop(0.1)
print("done", flush=True)
'''


def run_baseline(work: Path, complex_, messages: int) -> dict:
    mq, port = start_mosquitto(work)
    db = work / "naive.db"
    base_ts = time.time_ns() // 1_000_000 - 86_400_000
    load = make_load(work, complex_, messages, 1, base_ts)
    total = sum(n for _, _, n in load)
    script = work / "naive.py"
    script.write_text(BASELINE)
    sub = subprocess.Popen(
        [sys.executable, str(script), str(port), str(db), str(total)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sub.stdout is not None
        sub.stdout.readline()
        time.sleep(0.3)
        procs, t0 = run_publishers(port, load)
        sub.wait(900)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.wait(30)
        con = sqlite3.connect(db)
        stored = con.execute("SELECT count(*) FROM readings").fetchone()[0]
        con.close()
        return {"readings": total, "readings_per_s": round(total / elapsed), "lost": max(0, total - stored)}
    finally:
        if sub.poll() is None:
            sub.kill()
        mq.terminate()
        mq.wait(10)


def median_of(runs: list[dict]) -> dict:
    out = {}
    for k in runs[0]:
        vals = [r[k] for r in runs if r[k] is not None]
        out[k] = statistics.median(vals) if vals else None
    out["runs"] = [r["readings_per_s"] for r in runs]
    return out


def main() -> None:
    global PUBLISHERS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=150_000, help="single-reading messages per run")
    ap.add_argument("--batched-messages", type=int, default=20_000, help="50-reading messages per run")
    ap.add_argument("--baseline-messages", type=int, default=40_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--publishers", type=int, default=PUBLISHERS,
                    help="mosquitto_pub processes offering the load (each on its own device topic)")
    ap.add_argument("--cases", default="baseline,single,batched,single_mqtt311,paced,single_drain,batched_drain",
                    help="comma-separated cases to run (default: all)")
    ap.add_argument("--paced-rate", type=float, default=5000,
                    help="single-reading messages/s offered in the paced case (latency below saturation)")
    ap.add_argument("--paced-seconds", type=float, default=20)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of results")
    args = ap.parse_args()
    PUBLISHERS = args.publishers
    if not 1 <= PUBLISHERS <= 40:
        ap.error("--publishers must be between 1 and 40")
    complex_ = load_complex("demo")
    cases = ("baseline", "single", "batched", "single_mqtt311", "paced", "single_drain", "batched_drain")
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not chosen or set(chosen) - set(cases):
        ap.error(f"--cases: choose from {', '.join(cases)}")
    results: dict[str, list[dict]] = {c: [] for c in cases}
    for run in range(args.runs):
        for case in (c for c in cases if c in chosen):
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                work = Path(tmp)
                if case == "baseline":
                    r = run_baseline(work, complex_, args.baseline_messages)
                elif case == "single":
                    r = run_ingest_case(work, complex_, args.messages, 1, args.workers)
                elif case == "single_mqtt311":
                    r = run_ingest_case(work, complex_, args.messages, 1, args.workers, protocol="3.1.1")
                elif case == "single_drain":
                    r = run_drain_case(work, complex_, args.messages, 1, args.workers)
                elif case == "batched_drain":
                    r = run_drain_case(work, complex_, args.batched_messages, 50, args.workers)
                elif case == "paced":
                    r = run_ingest_case(work, complex_, int(args.paced_rate * args.paced_seconds), 1, args.workers,
                                        rate=args.paced_rate)
                else:
                    r = run_ingest_case(work, complex_, args.batched_messages, 50, args.workers)
            results[case].append(r)
            print(f"run {run + 1}/{args.runs} {case:<8} {r}", file=sys.stderr, flush=True)
    single, batched, baseline, single311, paced, single_drain, batched_drain = (
        median_of(results[k]) if results[k] else None for k in cases[1:3] + cases[0:1] + cases[3:])
    summary = {
        "single": single,
        "single_drain": single_drain,
        "batched_drain": batched_drain,
        "single_mqtt311": single311,
        "paced": paced,
        "batched": batched,
        "baseline": baseline,
        "ratio_single_vs_baseline": (
            round(single["readings_per_s"] / baseline["readings_per_s"], 1) if single and baseline else None),
        "peak_rss_mb": max((r["peak_rss_mb"] for r in (single, batched, single311, paced) if r), default=None),
        "publishers": PUBLISHERS,
        "workers": args.workers,
        "runs": args.runs,
    }
    print(f"\n{'case':<10}{'stored/s':>12}{'offered/s':>12}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}{'RSS MB':>9}")
    rows = (("baseline", baseline), ("single", single), ("single311", single311), ("batched", batched),
            ("paced", paced), ("s-drain", single_drain), ("b-drain", batched_drain))
    for name, r in rows:
        if r is None:
            continue
        print(f"{name:<10}{r['readings_per_s']:>12,.0f}{r.get('offered_per_s') or 0:>12,.0f}{r['lost']:>6.0f}"
              f"{r.get('p50_ms') or 0:>9}{r.get('p99_ms') or 0:>9}{r.get('peak_rss_mb') or 0:>9}")
    print(f"single / naive baseline: {summary['ratio_single_vs_baseline']}x")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
