"""`twin bridge opcua` against an asyncua server: value changes arrive in the historian with
the server's source timestamps; while the broker is away they wait on disk, across a
restart of the OPC UA server and of the bridge itself."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.servers import free_port
from tests.ingest_procs import IngestProc
from tests.plant_peers import OpcUaServer, TwinProc, wait_until
from twin.historian import open_historian
from twin.ingest.spool import Spool

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

VARIABLES = {  # name -> (OPC UA type, initial value); a write of the same value is no change
    "Power": ("Double", 19.75),
    "State": ("Int32", 4),
    "Good": ("UInt32", 7),
    "Smoke": ("Float", 29.5),
}
SENSORS = {"Power": "alpha-smt-power", "State": "alpha-smt-state", "Good": "alpha-smt-good", "Smoke": "alpha-f1-smoke"}
MAP = f"""version: 1
publishing_interval_ms: 100
nodes:
  - {{node: "ns=2;s=Power", sensor: alpha-smt-power}}
  - {{node: "ns=2;s=State", sensor: alpha-smt-state}}
  - {{node: "nsu={OpcUaServer.NAMESPACE};s=Good", sensor: alpha-smt-good, scale: 2}}
  - {{node: "ns=2;s=Smoke", sensor: alpha-f1-smoke}}
"""


def changes(n: int, start: int, base_ts: int) -> list[tuple[str, float, int]]:
    """n changes of every variable: (name, value, source ts ms); values exact in each type."""
    out = []
    for k in range(start, start + n):
        ts = base_ts + k * 1000
        out += [
            ("Power", (k % 79) * 0.25, ts),
            ("State", k % 4, ts + 1),
            ("Good", 1000 + k, ts + 2),
            ("Smoke", (k % 59) * 0.5, ts + 3),
        ]
    return out


def expected(ch: list[tuple[str, float, int]]) -> dict[tuple[str, int], float]:
    return {(SENSORS[n], ts): float(v) * (2 if n == "Good" else 1) for n, v, ts in ch}


def test_source_timestamps_broker_outage_server_and_bridge_restarts(mosquitto, tmp_path):
    (tmp_path / "map.yaml").write_text(MAP)
    hist = f"sqlite://{tmp_path / 'h.db'}"
    spool = tmp_path / "bridge-spool"
    base = time.time_ns() // 1_000_000 - 600_000
    first = [(n, v, base - 5000) for n, (_, v) in VARIABLES.items()]
    server = OpcUaServer(free_port(), VARIABLES).start({n: (v, ts) for n, v, ts in first})
    ingest = IngestProc(mosquitto.url, hist, tmp_path, config="tiny").start()
    args = [
        "bridge",
        "opcua",
        "--endpoint",
        server.endpoint,
        "--map",
        str(tmp_path / "map.yaml"),
        "--broker",
        mosquitto.url,
        "--config",
        "tiny",
        "--spool-dir",
        str(spool),
    ]
    bridge = TwinProc(args, tmp_path, "opcua", health=False).start()

    def stored() -> dict[tuple[str, int], float]:
        with open_historian(hist, readonly=True) as h:
            return {(r.sensor_id, r.ts_ms): r.value for r in h.query(sorted(SENSORS.values()), 0, 2**62)}

    def spooled() -> set[tuple[str, int]]:
        got = Spool(spool).oldest()  # the bridge sends nothing while the broker is away: one segment
        return {(r.sensor_id, r.ts_ms) for rs, _ in (got[1] if got else []) for r in rs}

    try:
        wait_until(lambda: server.monitored_items() == 4, 30, f"the bridge's subscription: {bridge.log()}")
        a = changes(5, 0, base)
        for name, value, ts in a:
            server.write(name, value, ts)
        want = expected(first + a)
        wait_until(lambda: want.keys() <= stored().keys(), 30, "phase A in the historian")
        assert stored() == want  # the server's source timestamps, every change, nothing else

        mosquitto.stop()  # the broker goes away: readings wait on the bridge's disk
        b = changes(5, 5, base)
        for name, value, ts in b:
            server.write(name, value, ts)
        wait_until(lambda: expected(b).keys() <= spooled(), 30, "phase B in the bridge's spool")

        bridge.kill()  # the bridge dies too: the disk keeps what it held
        server.stop()  # and the OPC UA server restarts, holding the last values it had
        server.start({n: (v, ts) for n, v, ts in b[-4:]})
        bridge = TwinProc(args, tmp_path, "opcua2", health=False).start()
        wait_until(lambda: server.monitored_items() == 4, 60, f"re-subscription: {bridge.log()}")
        c = changes(3, 10, base)
        for name, value, ts in c:
            server.write(name, value, ts)
        wait_until(lambda: expected(c).keys() <= spooled(), 30, "phase C in the bridge's spool")

        mosquitto.start()
        want = expected(first + a + b + c)
        wait_until(lambda: want.keys() <= stored().keys(), 60, f"every change after the outage: {bridge.log()}")
        assert stored() == want
        wait_until(lambda: not Spool(spool), 30, "the spool to empty once the broker acknowledged")
    finally:
        bridge.stop()
        ingest.stop()
        server.close()
