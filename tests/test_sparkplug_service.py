"""`twin sparkplug` as a process: persistent session, hostile input beside good data,
rebirth requests on the bus, and births remembered across restarts."""

from __future__ import annotations

import json
import time

import pytest

from tests.plant_peers import TwinProc, Watcher, wait_until
from tests.sparkplug_payloads import birth, metric, payload
from twin.historian import open_historian
from twin.mqtt import connect, make_client, wait_connected
from twin.sparkplug.schema import DataType, Payload
from twin.urls import parse_broker_url

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

MAP = """version: 1
groups:
  - group: H
    tenant: beta-chem
    nodes:
      - node: gw
        devices:
          - device: reactor
            metrics:
              Temp: beta-reactor-temp
              Press: beta-reactor-press
      - node: gw2
        metrics:
          Gas: beta-f1-gas
"""


def publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    """QoS 1, waiting for every PUBACK."""
    b = parse_broker_url(url)
    c = make_client(b, f"test-pub-{time.monotonic_ns()}")
    connect(c, b)
    c.loop_start()
    wait_connected(c, 10)
    for topic, data in messages:
        c.publish(topic, data, qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def test_hostile_input_persistent_session_rebirth_and_restart(mosquitto, tmp_path):
    (tmp_path / "map.yaml").write_text(MAP)
    hist = f"sqlite://{tmp_path / 'h.db'}"
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
            "it-sp-hostile",
            "--host-id",
            "twin-test",
        ],
        tmp_path,
        "sp",
    )
    twin.start()
    assert twin.stop() == 0  # the broker now keeps the session while the twin is away
    now = time.time_ns() // 1_000_000
    good = payload(
        [metric(None, 181.5, alias=1, ts=now + 2), metric(None, 6.25, alias=2, ts=now + 2)], now + 2
    )
    publish_all(
        mosquitto.url,
        [
            ("spBv1.0/H/NBIRTH/gw", birth([], now, bd_seq=1)),
            (
                "spBv1.0/H/DBIRTH/gw/reactor",
                birth([metric("Temp", 180.0, alias=1), metric("Press", 6.0, alias=2)], now + 1),
            ),
            ("spBv1.0/H/DDATA/gw/reactor", b"\x08\xff\xff"),  # broken protobuf
            ("spBv1.0/H/DDATA/gw/reactor", good),
            (
                "spBv1.0/H/DDATA/gw/reactor",
                payload([metric("Torque", 1.0), metric("Temp", 500.0)], now + 3),
            ),
            ("spBv1.0/H/ZDATA/gw", b"junk"),
            ("spBv1.0/Unknown/NBIRTH/x", birth([], now, bd_seq=0)),
        ],
    )
    watcher = Watcher(mosquitto.url, "spBv1.0/H/NCMD/#", "spBv1.0/STATE/#")
    twin.start()
    try:

        def readings() -> dict[tuple[str, int], float]:
            with open_historian(hist, readonly=True) as h:
                return {
                    (r.sensor_id, r.ts_ms): r.value
                    for r in h.query(
                        ["beta-reactor-temp", "beta-reactor-press", "beta-f1-gas"], 0, 2**62
                    )
                }

        wait_until(lambda: len(readings()) >= 4, 30, "the messages queued while the twin was away")
        assert readings() == {
            ("beta-reactor-temp", now + 1): 180.0,
            ("beta-reactor-press", now + 1): 6.0,
            ("beta-reactor-temp", now + 2): 181.5,
            ("beta-reactor-press", now + 2): 6.25,
        }

        def reasons() -> dict[str, int]:
            with open_historian(hist, readonly=True) as h:
                return h.dead_letter_counts()

        wait_until(lambda: len(reasons()) >= 5, 20, "dead letters")
        assert reasons() == {
            "malformed_protobuf": 1,
            "unmapped_metric": 1,
            "out_of_range": 1,
            "bad_topic": 1,
            "unmapped_node": 1,
        }
        states = [json.loads(p) for t, p, _ in watcher.messages if t == "spBv1.0/STATE/twin-test"]
        assert states[0]["online"] is False  # retained by the clean stop before
        state = json.loads(
            watcher.wait(lambda t, p: t == "spBv1.0/STATE/twin-test" and b"true" in p)[1]
        )
        assert (
            state == {"online": True, "timestamp": state["timestamp"]}
            and state["timestamp"] > states[0]["timestamp"]
        )

        # data from an edge node the twin never saw born: dead letter and a rebirth request
        publish_all(
            mosquitto.url, [("spBv1.0/H/NDATA/gw2", payload([metric(None, 3.0, alias=5)], now + 4))]
        )
        topic, data = watcher.wait(lambda t, p: t == "spBv1.0/H/NCMD/gw2")
        assert [(m.name, m.boolean_value) for m in Payload.FromString(data).metrics] == [
            ("Node Control/Rebirth", True)
        ]
        wait_until(lambda: reasons().get("no_birth") == 1, 20, "the no_birth dead letter")

        # births survive a restart: aliases resolve at once, no rebirth needed
        assert twin.stop() == 0
        twin.start()
        publish_all(
            mosquitto.url,
            [
                (
                    "spBv1.0/H/DDATA/gw/reactor",
                    payload([metric(None, 190.0, alias=1, datatype=DataType.DOUBLE)], now + 5),
                )
            ],
        )
        wait_until(
            lambda: readings().get(("beta-reactor-temp", now + 5)) == 190.0,
            30,
            "aliased data after restart",
        )
        assert not any(t == "spBv1.0/H/NCMD/gw" for t, _, _ in watcher.messages)
    finally:
        assert twin.stop() == 0, twin.log()
        watcher.close()
