"""Sparkplug B ingest rate beside the JSON contract's batched rate, in the same run.

Both cases drain the same backlog shape from Mosquitto into SQLite with zero loss
required: MESSAGES messages of 50 readings each for one machine with 50 sensors.

- json:      ``twin ingest``, ``{"readings": [50 readings]}`` on twin/v1/{owner}/{device}/telemetry
- sparkplug: ``twin sparkplug``, DDATA with 50 metrics by alias (NBIRTH + DBIRTH first)

The backlog is queued (QoS 1, persistent session) while the service is stopped; the
service is then started and the drain rate is taken from its own
``twin_ingest_readings_stored`` counter, from the first stored batch to the last
(process start-up excluded). Cases alternate; medians of ``--runs`` runs are reported
with the ratio sparkplug / json.

    python benchmarks/sparkplug.py [--runs 5] [--messages 3000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sparkplug_payloads import birth, metric, payload  # noqa: E402
from twin.codec import Reading, encode_batch  # noqa: E402
from twin.config import tiny_config_path  # noqa: E402
from twin.mqtt import connect, make_client, wait_connected  # noqa: E402
from twin.sparkplug.schema import DataType  # noqa: E402
from twin.topics import telemetry_topic  # noqa: E402
from twin.urls import parse_broker_url  # noqa: E402

METRICS = 50
SENSORS = [f"bench-s{i:02d}" for i in range(METRICS)]
SAMPLE_S = 0.02


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
    raise TimeoutError(f"port {port} did not open")


def start_mosquitto(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (work / "mq").mkdir(parents=True)
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {work / 'mq'}/\nmax_queued_messages 0\nmax_inflight_messages 1000\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosq, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def write_configs(work: Path) -> tuple[Path, Path]:
    """The tiny complex with 50 more sensors on the SMT placer, and their Sparkplug map."""
    data = yaml.safe_load(tiny_config_path().read_text())
    machine = data["tenants"][0]["factories"][0]["lines"][0]["machines"][0]
    assert machine["id"] == "alpha-smt"
    machine["sensors"] += [
        {"id": s, "kind": "power", "unit": "kW", "period_s": 1, "range": [0, 1000]} for s in SENSORS
    ]
    cfg = work / "complex.yaml"
    cfg.write_text(yaml.safe_dump(data))
    mapping = {"version": 1, "groups": [{"group": "Bench", "tenant": "alpha-elec", "nodes": [{
        "node": "gw", "devices": [{"device": "smt", "metrics": {f"m{i:02d}": s for i, s in enumerate(SENSORS)}}],
    }]}]}
    mp = work / "map.yaml"
    mp.write_text(yaml.safe_dump(mapping))
    return cfg, mp


def backlog(kind: str, messages: int, base_ts: int) -> list[tuple[str, bytes]]:
    if kind == "json":
        topic = telemetry_topic("alpha-elec", "alpha-smt")
        return [(topic, encode_batch([Reading(s, base_ts + m, float(i + m % 7)) for i, s in enumerate(SENSORS)]))
                for m in range(messages)]
    out = [("spBv1.0/Bench/NBIRTH/gw", birth([], base_ts - 10, bd_seq=1)),
           ("spBv1.0/Bench/DBIRTH/gw/smt", birth([metric(f"m{i:02d}", 0.0, DataType.DOUBLE, alias=i + 1)
                                                  for i in range(METRICS)], base_ts - 5))]
    for m in range(messages):
        out.append(("spBv1.0/Bench/DDATA/gw/smt", payload(
            [metric(None, float(i + m % 7), DataType.DOUBLE, alias=i + 1, typed=False) for i in range(METRICS)],
            base_ts + m, seq=m % 256)))
    return out


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    url = parse_broker_url(f"mqtt://127.0.0.1:{port}")
    c = make_client(url, f"bench-pub-{time.monotonic_ns()}")
    connect(c, url)
    c.loop_start()
    wait_connected(c, 10)
    infos = [c.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def stored_metric(http: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=1) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("twin_ingest_readings_stored_total "):
                    return float(line.split()[1])
    except OSError:
        return None
    return 0.0


def service(kind: str, port: int, work: Path, cfg: Path, mp: Path, http: int) -> list[str]:
    common = ["--broker", f"mqtt://127.0.0.1:{port}", "--historian", f"sqlite://{work / 'h.db'}",
              "--config", str(cfg), "--spool-dir", str(work / "spool"), "--client-id", f"bench-{kind}",
              "--http-port", str(http), "--log-level", "warning"]
    if kind == "json":
        return [sys.executable, "-m", "twin", "ingest", *common]
    return [sys.executable, "-m", "twin", "sparkplug", "--map", str(mp), *common]


def run_case(kind: str, port: int, root: Path, cfg: Path, mp: Path, messages: int, run: int) -> dict:
    work = root / f"{kind}-{run}"
    work.mkdir()
    http = free_port()
    cmd = service(kind, port, work, cfg, mp, http)
    # 1. create the persistent session, then stop: the broker queues the backlog for it
    proc = subprocess.Popen(cmd)
    while stored_metric(http) is None:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    base_ts = time.time_ns() // 1_000_000 - 3_600_000 + run * 10 * messages
    publish(port, backlog(kind, messages, base_ts))
    # 2. drain it
    proc = subprocess.Popen(cmd)
    total = messages * METRICS
    first: tuple[float, float] | None = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            n = stored_metric(http)
            t = time.monotonic()
            if n:
                if first is None:
                    first = (t, n)
                if n >= total:
                    break
            time.sleep(SAMPLE_S)
        else:
            raise TimeoutError(f"{kind}: stored {n} of {total}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert first is not None
    rate = (total - first[1]) / (t - first[0]) if t > first[0] else float("nan")
    return {"case": kind, "readings": total, "readings_per_s": round(rate), "messages_per_s": round(rate / METRICS)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sparkplug-") as tmp:
        root = Path(tmp)
        mosq, port = start_mosquitto(root)
        try:
            cfg, mp = write_configs(root)
            results: dict[str, list[dict]] = {"json": [], "sparkplug": []}
            for run in range(args.runs):
                for kind in (("json", "sparkplug") if run % 2 == 0 else ("sparkplug", "json")):
                    results[kind].append(run_case(kind, port, root, cfg, mp, args.messages, run))
        finally:
            mosq.terminate()
            mosq.wait(10)
    med = {k: statistics.median(r["readings_per_s"] for r in v) for k, v in results.items()}
    line = {
        "benchmark": "sparkplug", "runs": args.runs, "messages": args.messages, "metrics_per_message": METRICS,
        "json_batched_readings_per_s": round(med["json"]), "sparkplug_metrics_per_s": round(med["sparkplug"]),
        "ratio_sparkplug_over_json": round(med["sparkplug"] / med["json"], 3),
        "all": {k: [r["readings_per_s"] for r in v] for k, v in results.items()},
    }
    print(json.dumps(line))
    if not args.json:
        print(f"\n{'case':<34}{'median readings/s':>18}{'runs':>40}")
        print(f"{'JSON batched (50 per message)':<34}{med['json']:>18,.0f}{str(line['all']['json']):>40}")
        print(f"{'Sparkplug B DDATA (50 metrics)':<34}{med['sparkplug']:>18,.0f}{str(line['all']['sparkplug']):>40}")
        print(f"ratio sparkplug / json: {line['ratio_sparkplug_over_json']}")


if __name__ == "__main__":
    main()
