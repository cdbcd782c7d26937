"""`twin bridge modbus` against a pymodbus server: every supported type decoded exactly,
through Mosquitto and `twin ingest` into the historian; the device restarts, the bridge recovers."""

from __future__ import annotations

import struct
import time

import pytest

from tests.fixtures.servers import free_port
from tests.ingest_procs import IngestProc
from tests.plant_peers import ModbusServer, TwinProc, wait_until
from twin.historian import open_historian

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAP = """version: 1
period_s: 0.1
points:
  - {sensor: alpha-f1-temp, table: holding, address: 0, type: int16, scale: 0.5}
  - {sensor: alpha-smt-state, table: holding, address: 1, type: uint16}
  - {sensor: beta-reactor-temp, table: holding, address: 2, type: int32, scale: 0.001, offset: 100}
  - {sensor: alpha-smt-good, table: holding, address: 4, type: uint32, word_order: little}
  - {sensor: alpha-smt-power, table: holding, address: 6, type: float32}
  - {sensor: beta-f1-gas, table: input, address: 0, type: float32, byte_order: little}
  - {sensor: beta-reactor-press, table: input, address: 2, type: uint16, scale: 0.1}
  - {sensor: hub-occupancy, table: coil, address: 0}
  - {sensor: alpha-aoi-vib, table: discrete, address: 0}
"""


def words(fmt: str, value: float, word_order: str = "big", byte_order: str = "big") -> list[int]:
    data = struct.pack(fmt, value)
    w = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if byte_order == "little":
        w = [((x & 0xFF) << 8) | (x >> 8) for x in w]
    return w[::-1] if word_order == "little" else w


def write_set(server: ModbusServer, s: dict[str, float]) -> dict[str, float]:
    """Write raw values; return the values the twin must store, computed as the bridge must."""
    server.set(
        "holding",
        0,
        words(">h", s["temp_raw"])
        + [int(s["state"])]
        + words(">i", s["rtemp_raw"])
        + words(">I", s["good"], "little")
        + words(">f", s["power"]),
    )
    server.set("input", 0, words(">f", s["gas"], byte_order="little") + [int(s["press_raw"])])
    server.set("coil", 0, [bool(s["occ"])])
    server.set("discrete", 0, [bool(s["vib"])])
    return {
        "alpha-f1-temp": s["temp_raw"] * 0.5,
        "alpha-smt-state": float(s["state"]),
        "beta-reactor-temp": s["rtemp_raw"] * 0.001 + 100,
        "alpha-smt-good": float(s["good"]),
        "alpha-smt-power": s["power"],
        "beta-f1-gas": s["gas"],
        "beta-reactor-press": s["press_raw"] * 0.1,
        "hub-occupancy": float(s["occ"]),
        "alpha-aoi-vib": float(s["vib"]),
    }


SETS = [
    {
        "temp_raw": -37,
        "state": 2,
        "rtemp_raw": -54321,
        "good": 3_000_000,
        "power": 7.375,
        "gas": 412.5,
        "press_raw": 63,
        "occ": 1,
        "vib": 1,
    },
    {
        "temp_raw": 399,
        "state": 4,
        "rtemp_raw": 150_000,
        "good": 123_456_789,
        "power": 19.5,
        "gas": 0.25,
        "press_raw": 199,
        "occ": 0,
        "vib": 0,
    },
    {
        "temp_raw": 0,
        "state": 0,
        "rtemp_raw": 0,
        "good": 4_000_000,
        "power": 0.0,
        "gas": 999.0,
        "press_raw": 0,
        "occ": 1,
        "vib": 0,
    },
]


def test_every_type_decoded_exactly_and_device_restart(mosquitto, tmp_path):
    (tmp_path / "map.yaml").write_text(MAP)
    hist = f"sqlite://{tmp_path / 'h.db'}"
    port = free_port()
    server = ModbusServer(port).start()
    ingest = IngestProc(mosquitto.url, hist, tmp_path, config="tiny").start()
    bridge = TwinProc(
        [
            "bridge",
            "modbus",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--map",
            str(tmp_path / "map.yaml"),
            "--broker",
            mosquitto.url,
            "--config",
            "tiny",
            "--spool-dir",
            str(tmp_path / "bridge-spool"),
        ],
        tmp_path,
        "modbus",
        health=False,
    )
    bridge.start()
    sensors = sorted(write_set(server, SETS[0]))

    def values() -> dict[str, set[float]]:
        with open_historian(hist, readonly=True) as h:
            out: dict[str, set[float]] = {s: set() for s in sensors}
            for r in h.query(sensors, 0, 2**62):
                out[r.sensor_id].add(r.value)
            return out

    try:
        written = [write_set(server, s) for s in SETS[:1]]
        for i, s in enumerate(SETS):
            if i == 2:  # the device restarts (values lost); the bridge reconnects on its own
                server.stop()
                time.sleep(0.3)
                server.start()
            if i:
                written.append(write_set(server, s))
            want = written[-1]
            wait_until(
                lambda want=want: all(want[k] in v for k, v in values().items()),
                30,
                f"set {i} in the historian: {bridge.log()}",
            )
        allowed = {k: {w[k] for w in written} | {0.0} for k in sensors}  # 0: registers before the first write
        got = values()
        assert all(got[k] <= allowed[k] for k in sensors), {k: got[k] - allowed[k] for k in sensors}
        assert written[0]["beta-reactor-temp"] in got["beta-reactor-temp"]  # a negative int32, scaled
        assert written[0]["beta-reactor-temp"] < 100 and written[0]["alpha-f1-temp"] == -18.5
        assert -18.5 in got["alpha-f1-temp"]  # a negative int16, scaled
    finally:
        bridge.stop()
        ingest.stop()
        server.close()
    with open_historian(hist, readonly=True) as h:
        assert h.dead_letter_counts() == {}
