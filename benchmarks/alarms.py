"""Alarm latency benchmark: publish of a tripping reading -> alarm event on MQTT, under load.

Setup per run: a fresh Mosquitto, `twin live --config demo` (every default rule of the
demo complex, journal fsync on), and a background stream of quiet readings from
several publisher processes (QoS 1, one batch per device and tick), so the live twin
decodes and evaluates ~10,000 readings/s while the probes run. A probe publishes a
smoke reading above the limit of one smoke detector (a `smoke` threshold alarm) and
waits for the `raised`/`reactivated` event on `twin/v1/{tenant}/_alarms/event`; then
it publishes a normal reading and waits for `cleared`. The probe sensors are kept out
of the background stream so no background reading overtakes a probe.

Baseline, measured in the same run: the same probes with no background stream.
Reported: medians over runs of p50/p99, the offered rate (readings acknowledged by the
broker per second), and the forecast of the demo complex to the end of a shift
(8 h, 10 replications) via `simulations.forecast_bench.benchmark_forecast_demo`,
or null when that function is not available.

Message size matters more than reading count: every MQTT message costs the live twin a
parse, a decode call and an acknowledgement. By default each device sends one batch every
0.5 s (~50 readings per message at 10,000 readings/s, like a gateway); ``--tick 0.1``
gives ~10 readings per message.

    python benchmarks/alarms.py [--runs 3] [--duration 20] [--rate 10000] [--tick 0.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.codec import topic_for  # noqa: E402
from twin.config import load_complex  # noqa: E402
from twin.model import Complex  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import free_port, wait_port  # noqa: E402  (one copy of the port helpers)

TICK_S = 0.5  # one message per device and tick (a gateway): at 10k readings/s ~50 readings each
PROBE_GAP_S = 0.15
PROBE_TIMEOUT_S = 10.0
KEEPALIVE_S = 1.0
TARGET_P99_MS = 250.0


def start_mosquitto(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        "max_inflight_messages 1000\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosq, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def quiet_value(c: Complex, sid: str) -> float:
    """A value no default rule trips on (the background of a quiet complex)."""
    info = c.sensors[sid]
    s = info.sensor
    lo, hi = s.range
    span = hi - lo
    kind = s.kind
    if kind == "gas":
        return lo + min(0.3 if s.unit == "%LEL" else 2.0, 0.01 * span)
    if kind == "smoke":
        return lo + 0.04
    if kind in ("flame", "position_x", "position_y", "occupancy", "load"):
        return lo
    if kind == "seismic":
        return 0.002 * (980.665 if s.unit == "gal" else 1.0)
    if kind == "temperature":
        return min(max(21.0, lo), hi)
    if kind == "state":
        return 1.0  # idle
    if kind == "power" and info.machine:
        kw = c.machines[info.machine].power_kw.idle
        return kw * (1000.0 if s.unit == "W" else 1.0)
    return lo + 0.1 * span


def probe_sensors(c: Complex) -> list[str]:
    return sorted(sid for sid, i in c.sensors.items() if i.hazard and i.sensor.kind == "smoke")


# ---- background publishers (separate processes) ------------------------------------------


def publisher(
    port: int, config: str, sensors: list[str], rate: float, stop_at: float, tick_s: float, out: mp.Queue
) -> None:
    """Publish ``rate`` readings/s of ``sensors``: one batch message per device and tick, like a fleet."""
    from twin.mqtt import connect, make_client, wait_connected
    from twin.urls import parse_broker_url

    c = load_complex(config)
    url = parse_broker_url(f"mqtt://127.0.0.1:{port}")
    client = make_client(url, f"bench-pub-{os.getpid()}", max_queued=0)
    acked = [0]
    pending: dict[int, int] = {}
    lock = threading.Lock()

    def on_publish(cl, u, mid, rc, props) -> None:  # noqa: ANN001
        with lock:
            acked[0] += pending.pop(mid, 0)

    client.on_publish = on_publish
    connect(client, url)
    client.loop_start()
    wait_connected(client, 10)
    by_device: dict[str, list[str]] = {}
    for sid in sensors:
        by_device.setdefault(topic_for(c, sid), []).append(sid)
    values = {sid: quiet_value(c, sid) for sid in sensors}
    counters = {sid for sid in sensors if c.sensors[sid].sensor.kind in ("good_count", "scrap_count")}
    per_sensor_tick = rate * tick_s / len(sensors)  # readings of each sensor per tick
    carry = 0.0
    seq = 0
    n_messages = 0
    t_next = time.monotonic()
    started = time.monotonic()
    while time.monotonic() < stop_at:
        carry += per_sensor_tick
        k = int(carry)
        carry -= k
        now = time.time_ns() // 1_000_000
        if k:
            seq += 1
            for topic, sids in by_device.items():
                items = [
                    {"sensor": sid, "ts": now - (k - 1 - j), "value": float(seq) if sid in counters else values[sid]}
                    for sid in sids
                    for j in range(k)
                ]
                info = client.publish(topic, orjson.dumps({"readings": items}), qos=1)
                n_messages += 1
                with lock:
                    pending[info.mid] = len(items)
        t_next += tick_s
        delay = t_next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    out.put((acked[0], elapsed, n_messages))


# ---- probes ---------------------------------------------------------------------------------


class Prober:
    """Trips and resets smoke detectors one at a time; latency from publish to event."""

    def __init__(self, port: int, c: Complex):
        from twin.mqtt import connect, make_client, wait_connected
        from twin.urls import parse_broker_url

        self.c = c
        self.sensors = probe_sensors(c)
        url = parse_broker_url(f"mqtt://127.0.0.1:{port}")
        self.pub = make_client(url, f"bench-probe-{os.getpid()}")
        self.sub = make_client(url, f"bench-watch-{os.getpid()}")
        self._cv = threading.Condition()
        self._seen: dict[tuple[str, str], float] = {}
        self.sub.on_message = self._on_message
        self.sub.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe("twin/v1/+/_alarms/event", qos=1)
        for cl in (self.pub, self.sub):
            connect(cl, url)
            cl.loop_start()
            wait_connected(cl, 10)
        time.sleep(0.3)
        self._last_ts: dict[str, int] = {}
        self._last_keepalive = 0.0

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        t = time.perf_counter()
        try:
            doc = orjson.loads(msg.payload)
            key = (doc["alarm"]["source"], doc["event"])
        except Exception:  # never raise in a paho callback
            return
        with self._cv:
            self._seen[key] = t
            self._cv.notify_all()

    def _send(self, sid: str, value: float) -> float:
        ts = max(time.time_ns() // 1_000_000, self._last_ts.get(sid, 0) + 1)
        self._last_ts[sid] = ts
        payload = orjson.dumps({"sensor": sid, "ts": ts, "value": value})
        t0 = time.perf_counter()
        self.pub.publish(topic_for(self.c, sid), payload, qos=1)
        return t0

    def _wait(self, sid: str, kinds: tuple[str, ...], after: float) -> float | None:
        deadline = time.perf_counter() + PROBE_TIMEOUT_S
        with self._cv:
            while True:
                got = [self._seen[(sid, k)] for k in kinds if self._seen.get((sid, k), 0) >= after]
                if got:
                    return min(got)
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def keepalive(self) -> None:
        """Quiet readings for the probe sensors, so they never go stale."""
        if time.monotonic() - self._last_keepalive >= KEEPALIVE_S:
            self._last_keepalive = time.monotonic()
            for sid in self.sensors:
                self._send(sid, quiet_value(self.c, sid))

    def run(self, duration_s: float) -> tuple[list[float], int]:
        lat: list[float] = []
        lost = 0
        stop = time.monotonic() + duration_s
        k = 0
        while time.monotonic() < stop:
            sid = self.sensors[k % len(self.sensors)]
            k += 1
            self.keepalive()
            t0 = self._send(sid, 3.0)
            t1 = self._wait(sid, ("raised", "reactivated"), t0)
            if t1 is None:
                lost += 1
            else:
                lat.append((t1 - t0) * 1000)
            t2 = self._send(sid, quiet_value(self.c, sid))
            self._wait(sid, ("cleared",), t2)
            time.sleep(PROBE_GAP_S)
        return lat, lost

    def close(self) -> None:
        for cl in (self.pub, self.sub):
            cl.disconnect()
            cl.loop_stop()


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def wait_live(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    from twin.mqtt import connect, make_client, wait_connected
    from twin.urls import parse_broker_url

    got = threading.Event()
    url = parse_broker_url(f"mqtt://127.0.0.1:{port}")
    cl = make_client(url, f"bench-ready-{os.getpid()}")
    cl.on_message = lambda c, u, m: got.set()
    cl.on_connect = lambda c, u, f, rc, p=None: c.subscribe("twin/v1/park/_complex/state", qos=1)
    connect(cl, url)
    cl.loop_start()
    wait_connected(cl, 10)
    deadline = time.monotonic() + timeout
    while not got.is_set():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"twin live did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    cl.disconnect()
    cl.loop_stop()


def one_run(work: Path, rate: float, duration: float, publishers: int, idle_s: float, tick_s: float) -> dict:
    c = load_complex("demo")
    mosq, port = start_mosquitto(work)
    log = work / "live.log"
    live = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin",
            "live",
            "--broker",
            f"mqtt://127.0.0.1:{port}",
            "--historian",
            f"sqlite:///{work / 'hist.db'}",
            "--config",
            "demo",
            "--data-dir",
            str(work / "live"),
            "--client-id",
            "bench-live",
            "--log-level",
            "warning",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_live(port, live, log)
        prober = Prober(port, c)
        # baseline in the same run: no background stream
        idle_lat, idle_lost = prober.run(idle_s)
        probes = set(prober.sensors)
        background = sorted(s for s in c.sensors if s not in probes)
        chunks = [background[i::publishers] for i in range(publishers)]
        q: mp.Queue = mp.Queue()
        warm_s = 3.0
        stop_at = time.monotonic() + warm_s + duration
        procs = [
            mp.Process(target=publisher, args=(port, "demo", ch, rate / publishers, stop_at, tick_s, q), daemon=True)
            for ch in chunks
        ]
        for p in procs:
            p.start()
        time.sleep(warm_s)
        ps = psutil.Process(live.pid)
        cpu0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
        load_lat, load_lost = prober.run(duration - 1.0)
        live_cpu = (sum(ps.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0)
        results = [q.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(10)
        prober.close()
        acked = sum(a for a, _, _ in results)
        elapsed = max(e for _, e, _ in results)
        messages = sum(m for _, _, m in results)
        alive = live.poll() is None
    finally:
        live.terminate()
        try:
            live.wait(30)
        except subprocess.TimeoutExpired:
            live.kill()
        mosq.terminate()
        mosq.wait(10)
    return {
        "readings_per_s": acked / elapsed if elapsed > 0 else 0.0,
        "readings_per_message": acked / messages if messages else 0.0,
        "latency_p50_ms": pct(load_lat, 50),
        "latency_p99_ms": pct(load_lat, 99),
        "latency_max_ms": max(load_lat) if load_lat else float("nan"),
        "idle_latency_p50_ms": pct(idle_lat, 50),
        "idle_latency_p99_ms": pct(idle_lat, 99),
        "live_cpu_cores": live_cpu,
        "probes": len(load_lat),
        "probes_lost": load_lost + idle_lost,
        "live_alive": alive,
    }


def forecast_wall_s() -> float | None:
    try:
        from simulations.forecast_bench import benchmark_forecast_demo
    except ImportError:
        return None
    return benchmark_forecast_demo(replications=10, horizon_h=8.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of probes under load per run")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of baseline probes without load per run")
    ap.add_argument("--rate", type=float, default=10_000.0, help="background readings per second")
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument(
        "--tick",
        type=float,
        default=TICK_S,
        help="seconds between a device's batches (message size: rate x tick / devices)",
    )
    ap.add_argument("--no-forecast", action="store_true", help="skip the forecast timing (forecast_wall_s null)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of results")
    a = ap.parse_args()
    runs = []
    for i in range(a.runs):
        with tempfile.TemporaryDirectory(prefix="bench-alarms-") as tmp:
            r = one_run(Path(tmp), a.rate, a.duration, a.publishers, a.idle, a.tick)
        runs.append(r)
        print(
            f"run {i + 1}: {r['readings_per_s']:.0f} readings/s, p50 {r['latency_p50_ms']:.1f} ms, "
            f"p99 {r['latency_p99_ms']:.1f} ms (idle p50 {r['idle_latency_p50_ms']:.1f} ms, "
            f"p99 {r['idle_latency_p99_ms']:.1f} ms), {r['probes']} probes, {r['probes_lost']} lost",
            file=sys.stderr,
        )
    med = {
        k: statistics.median(r[k] for r in runs)
        for k in runs[0]
        if isinstance(runs[0][k], float | int) and not isinstance(runs[0][k], bool)
    }
    fc = None if a.no_forecast else forecast_wall_s()
    out = {
        "readings_per_s": round(med["readings_per_s"]),
        "readings_per_message": round(med["readings_per_message"], 1),
        "latency_p50_ms": round(med["latency_p50_ms"], 1),
        "latency_p99_ms": round(med["latency_p99_ms"], 1),
        "forecast_wall_s": None if fc is None else round(fc, 2),
        "idle_latency_p50_ms": round(med["idle_latency_p50_ms"], 1),
        "idle_latency_p99_ms": round(med["idle_latency_p99_ms"], 1),
        "p99_load_over_idle": round(med["latency_p99_ms"] / med["idle_latency_p99_ms"], 2),
        "target_p99_ms": TARGET_P99_MS,
        "live_cpu_cores": round(med["live_cpu_cores"], 2),
        "probes_per_run": round(med["probes"]),
        "probes_lost": sum(r["probes_lost"] for r in runs),
        "runs": a.runs,
        "all_alive": all(r["live_alive"] for r in runs),
    }
    print()
    print(f"{'metric':<28}{'value':>12}")
    for k, v in out.items():
        print(f"{k:<28}{v!s:>12}")
    if a.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
