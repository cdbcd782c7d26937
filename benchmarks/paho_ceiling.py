"""The ceiling the ingest works under: a bare paho subscriber draining a QoS 1 backlog.

Preloads N one-reading messages for a persistent session in a private Mosquitto, then
drains them with a paho client that only parses the JSON (auto-acknowledge): with MQTT 5,
with MQTT 3.1.1, and with MQTT 5 through twin.mqtt_fast.FastClient (paho with a bulk receive
path, used by the ingest). Compare with `benchmarks/ingest.py` measured alongside.

    python benchmarks/paho_ceiling.py [--messages 100000] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from twin.mqtt_fast import FastClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import start_mosquitto  # noqa: E402

TOPIC = "twin/v1/alpha-elec/alpha-smt/telemetry"


FAST = 50  # pseudo protocol number: MQTT 5 through FastClient
VARIANTS = {5: "MQTT 5", 4: "MQTT 3.1.1", FAST: "MQTT 5 fast path"}


def _client(port: int, protocol: int) -> mqtt.Client:
    cls = FastClient if protocol == FAST else mqtt.Client
    protocol = 5 if protocol == FAST else protocol
    v5 = protocol == 5
    c = cls(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ceiling-{protocol}",
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, **({} if v5 else {"clean_session": False}))
    if v5:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 3600
        p.ReceiveMaximum = 10_000
        c.connect("127.0.0.1", port, clean_start=False, properties=p)
    else:
        c.connect("127.0.0.1", port)
    c.subscribe("twin/v1/+/+/telemetry", qos=1)
    return c


def drain(port: int, protocol: int, load: Path, n: int) -> float:
    c = _client(port, protocol)  # create the session, then leave so the backlog queues
    for _ in range(20):
        c.loop(0.05)
    c.disconnect()
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", TOPIC, "-l", "-i", "ceiling-pub"],
                   stdin=load.open("rb"), check=True)
    got = 0
    first: float | None = None

    def on_message(cl: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        nonlocal got, first
        if first is None:
            first = time.perf_counter()
        orjson.loads(m.payload)
        got += 1

    def on_messages(cl: mqtt.Client, msgs: list) -> None:
        nonlocal got, first
        if first is None:
            first = time.perf_counter()
        for m in msgs:
            orjson.loads(m.payload)
        got += len(msgs)

    c = _client(port, protocol)
    c.on_message = on_message
    if isinstance(c, FastClient):
        c.on_messages = on_messages
    t0 = time.perf_counter()
    while got < n and time.perf_counter() - t0 < 300:
        c.loop(0.05)
    c.disconnect()
    return got / (time.perf_counter() - (first or t0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rates: dict[int, list[float]] = {p: [] for p in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        work = Path(tmp)
        load = work / "load.txt"
        base = time.time_ns() // 1_000_000 - 3_600_000
        load.write_bytes(b"".join(
            orjson.dumps({"sensor": "alpha-smt-power", "ts": base + i, "value": 5.0}) + b"\n"
            for i in range(args.messages)))
        for run in range(args.runs):
            for protocol in VARIANTS:
                d = work / f"r{run}-{protocol}"
                d.mkdir()
                mq, port = start_mosquitto(d)
                try:
                    rates[protocol].append(drain(port, protocol, load, args.messages))
                finally:
                    mq.terminate()
                    mq.wait(10)
                print(f"run {run + 1} {VARIANTS[protocol]}: {rates[protocol][-1]:,.0f} msg/s", file=sys.stderr)
    v5, v311, fast = (statistics.median(rates[p]) for p in (5, 4, FAST))
    print(f"bare paho drain, QoS 1: MQTT 5 {v5:,.0f} msg/s, MQTT 3.1.1 {v311:,.0f} msg/s, ratio {v311 / v5:.2f}; "
          f"MQTT 5 fast path {fast:,.0f} msg/s, {fast / v5:.2f}x paho MQTT 5")
    if args.json:
        print(json.dumps({"mqtt5_msg_per_s": round(v5), "mqtt311_msg_per_s": round(v311),
                          "mqtt5_fast_msg_per_s": round(fast), "ratio_311_over_5": round(v311 / v5, 2),
                          "ratio_fast_over_5": round(fast / v5, 2), "runs": args.runs}))


if __name__ == "__main__":
    main()
