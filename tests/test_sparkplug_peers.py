"""Sparkplug B ingest against edge nodes nobody here wrote: Eclipse Tahu (JavaScript) and
pysparkplug (Python), through a real Mosquitto, into a real historian."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.plant_peers import (
    PEERS,
    Peer,
    TwinProc,
    Watcher,
    pysparkplug_path,
    tahu_node_modules,
    wait_until,
)
from twin.historian import open_historian

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

SENSORS = {  # metric -> sensor (tiny complex)
    "Hall/Temperature": "alpha-f1-temp",
    "Hall/Smoke": "alpha-f1-smoke",
    "Power": "alpha-smt-power",
    "State": "alpha-smt-state",
    "Counters/Good": "alpha-smt-good",
}
MAP = """version: 1
groups:
  - group: {group}
    tenant: alpha-elec
    nodes:
      - node: {node}
        factory: alpha-f1
        metrics:
          Hall/Temperature: alpha-f1-temp
          Hall/Smoke: alpha-f1-smoke
        devices:
          - device: smt
            metrics:
              Power: alpha-smt-power
              State: alpha-smt-state
              Counters/Good: alpha-smt-good
"""


def start_twin(
    mosquitto, tmp_path: Path, group: str, node: str, name: str = "sparkplug"
) -> tuple[TwinProc, str]:
    (tmp_path / "map.yaml").write_text(MAP.format(group=group, node=node))
    hist = f"sqlite://{tmp_path / 'history.db'}"
    twin = TwinProc(
        [
            "sparkplug",
            "--broker",
            mosquitto.url,
            "--historian",
            hist,
            "--config",
            "tiny",
            "--map",
            str(tmp_path / "map.yaml"),
            "--spool-dir",
            str(tmp_path / "spool"),
            "--client-id",
            f"it-{name}",
            "--log-level",
            "info",
        ],
        tmp_path,
        name,
    )
    return twin.start(), hist


def stored(hist: str) -> dict[tuple[str, int], float]:
    with open_historian(hist, readonly=True) as h:
        return {
            (r.sensor_id, r.ts_ms): r.value
            for r in h.query(sorted(set(SENSORS.values())), 0, 2**62)
        }


def letters(hist: str, reason: str) -> list[Any]:
    with open_historian(hist, readonly=True) as h:
        return h.dead_letters(reason=reason, limit=10_000)


def wait_stored(
    hist: str, want: dict[tuple[str, int], float], what: str
) -> dict[tuple[str, int], float]:
    """The historian's readings once every key of ``want`` is there."""

    def check() -> dict[tuple[str, int], float] | None:
        got = stored(hist)
        return got if want.keys() <= got.keys() else None

    return wait_until(check, 30, what)


def expected(events: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """What an edge node's births, history and data events put in the historian."""
    out: dict[tuple[str, int], float] = {}
    for e in events:
        if e["event"] in ("birth", "data"):
            for metric, value in e["values"].items():
                out[(SENSORS[metric], e["ts"])] = float(value)
        elif e["event"] == "history":
            for ts, value in e["points"]:
                out[("alpha-smt-power", ts)] = float(value)
    return out


def status(watcher: Watcher, device: str, online: bool) -> dict[str, Any]:
    def match(topic: str, payload: bytes) -> bool:
        return (
            topic == f"twin/v1/alpha-elec/{device}/status"
            and json.loads(payload)["online"] is online
        )

    return json.loads(watcher.wait(match)[1])


def test_tahu_edge_node_late_host_rebirth_death_and_new_session(mosquitto, tmp_path):
    modules = tahu_node_modules()
    env = {"NODE_PATH": str(modules)}
    script = str(PEERS / "tahu_edge.js")
    args = [mosquitto.url.replace("mqtt://", "tcp://"), "TahuPlant", "tahu-gw"]
    watcher = Watcher(mosquitto.url, "twin/v1/+/+/status", "spBv1.0/STATE/#")
    # the edge node is up first: the twin misses its births and must ask for new ones
    node = Peer(["node", script, *args, "3", "15", "until-rebirth"], env, tmp_path / "tahu1.log")
    node.wait_for("data", 3)
    twin, hist = start_twin(mosquitto, tmp_path, "TahuPlant", "tahu-gw")
    try:
        assert json.loads(watcher.wait(lambda t, p: t == "spBv1.0/STATE/twin")[1])["online"] is True
        node.wait_for("rebirth_requested", timeout=30)
        node.wait_for("done")
        first = next(i for i, e in enumerate(node.events) if e["event"] == "rebirth_requested")
        want = expected(node.events[first:])
        assert len(want) == 5 + 3 + 15 * 4  # births, history, 15 DDATA+NDATA of 4 metrics
        got = wait_stored(hist, want, "every metric value")
        assert (
            got == want
        )  # every value, exactly, at its own timestamp; nothing from before the rebirth
        assert letters(hist, "no_birth")  # what arrived before the rebirth is kept for diagnosis
        # Int16 with negative values travelled as 32-bit two's complement and came back signed
        assert min(v for (s, _), v in got.items() if s == "alpha-f1-temp") < 0

        node.kill()  # no DISCONNECT: the broker publishes the will, NDEATH with bdSeq 3
        for device in ("alpha-smt", "alpha-f1"):
            off = status(watcher, device, False)
            assert off["cause"] == "NDEATH" and off["edge"] == "TahuPlant/tahu-gw"
        offline = wait_until(
            lambda: {d.sensor_id for d in letters(hist, "device_offline")} or None, 20, "markers"
        )
        assert offline == set(SENSORS.values())

        # back with a new bdSeq: births bring the sensors back, data flows again
        node = Peer(["node", script, *args, "4", "10", "count"], env, tmp_path / "tahu2.log")
        node.wait_for("done")
        want2 = expected(node.events)
        got = wait_stored(hist, want2, "the new session")
        assert {k: got[k] for k in want2} == want2
        assert status(watcher, "alpha-smt", True)["cause"] == "DBIRTH"
        back = wait_until(
            lambda: {d.sensor_id for d in letters(hist, "device_online")} or None, 20, "markers"
        )
        assert back == set(SENSORS.values())
    finally:
        node.stop()
        assert twin.stop() == 0, twin.log()
        assert (
            json.loads(watcher.wait(lambda t, p: t == "spBv1.0/STATE/twin" and b"false" in p)[1])[
                "online"
            ]
            is False
        )
        watcher.close()


def test_pysparkplug_edge_node_killed_then_clean_disconnect(mosquitto, tmp_path):
    env = {"PYTHONPATH": str(pysparkplug_path())}
    script = str(PEERS / "pysparkplug_edge.py")
    args = ["127.0.0.1", str(mosquitto.port), "PyPlant", "py-gw", "12"]
    watcher = Watcher(mosquitto.url, "twin/v1/+/+/status")
    twin, hist = start_twin(mosquitto, tmp_path, "PyPlant", "py-gw")
    try:
        node = Peer([sys.executable, script, *args, "kill"], env, tmp_path / "py1.log")
        node.wait_for("done")
        want = expected(node.events)
        got = wait_stored(hist, want, "every metric value")
        assert got == want
        assert (
            min(v for (s, _), v in got.items() if s == "alpha-f1-temp") < 0
        )  # Int16 as 16-bit two's complement
        node.kill()
        assert status(watcher, "alpha-smt", False)["cause"] == "NDEATH"

        # a second process: bdSeq starts again at 0; its clean NDEATH carries bdSeq 1 (the next
        # session's number), which still ends this session
        node = Peer([sys.executable, script, *args, "clean"], env, tmp_path / "py2.log")
        node.wait_for("disconnected")
        want2 = expected(node.events)
        got = wait_stored(hist, want2, "the new session")
        assert {k: got[k] for k in want2} == want2
        wait_until(
            lambda: len(letters(hist, "device_offline")) >= 2 * len(SENSORS), 20, "the clean NDEATH"
        )
        assert not letters(hist, "unmapped_metric") and not letters(hist, "malformed_protobuf")
    finally:
        node.stop()
        twin.stop()
        watcher.close()
