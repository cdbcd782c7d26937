"""A Sparkplug B edge node built with pysparkplug (an independent implementation), for
tests/test_sparkplug_peers.py. Runs in its own interpreter path: pysparkplug pins
paho-mqtt < 2, the twin needs >= 2.1. Prints one JSON line per event.

    python pysparkplug_edge.py HOST PORT GROUP NODE COUNT (kill|clean)
"""

import json
import sys
import time

import pysparkplug as psp


def out(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    host, port, group, node, count, ending = sys.argv[1:7]
    port, count = int(port), int(count)
    ts0 = psp.get_current_timestamp()
    node_metrics = (
        psp.Metric(timestamp=ts0, name="Hall/Temperature", datatype=psp.DataType.INT16, value=-3),
        psp.Metric(timestamp=ts0, name="Hall/Smoke", datatype=psp.DataType.FLOAT, value=0.75),
    )
    dev_metrics = (
        psp.Metric(timestamp=ts0, name="Power", datatype=psp.DataType.FLOAT, value=2.5),
        psp.Metric(timestamp=ts0, name="State", datatype=psp.DataType.UINT8, value=1),
        psp.Metric(timestamp=ts0, name="Counters/Good", datatype=psp.DataType.UINT32, value=7),
    )
    edge = psp.EdgeNode(group, node, node_metrics)
    edge.register(psp.Device("smt", dev_metrics))
    edge.connect(host, port=port, blocking=False)
    deadline = time.monotonic() + 20
    while not edge._connected:  # the library has no public "connected" event
        if time.monotonic() > deadline:
            out({"event": "error", "message": "no connection"})
            sys.exit(1)
        time.sleep(0.02)
    out(
        {
            "event": "birth",
            "ts": ts0,
            "values": {
                "Hall/Temperature": -3,
                "Hall/Smoke": 0.75,
                "Power": 2.5,
                "State": 1,
                "Counters/Good": 7,
            },
        }
    )
    time.sleep(0.2)
    last = ts0
    for k in range(1, count + 1):
        ts = last = max(psp.get_current_timestamp(), last + 1)
        power = (k % 64) * 0.25  # exact in a Float
        temp = -20 + (k * 11) % 200
        edge.update_device(
            "smt",
            (
                psp.Metric(timestamp=ts, name="Power", datatype=psp.DataType.FLOAT, value=power),
                psp.Metric(timestamp=ts, name="State", datatype=psp.DataType.UINT8, value=k % 5),
                psp.Metric(
                    timestamp=ts, name="Counters/Good", datatype=psp.DataType.UINT32, value=100 + k
                ),
            ),
        )
        edge.update(
            (
                psp.Metric(
                    timestamp=ts, name="Hall/Temperature", datatype=psp.DataType.INT16, value=temp
                ),
            )
        )
        out(
            {
                "event": "data",
                "k": k,
                "ts": ts,
                "values": {
                    "Power": power,
                    "State": k % 5,
                    "Counters/Good": 100 + k,
                    "Hall/Temperature": temp,
                },
            }
        )
        time.sleep(0.03)
    out({"event": "done"})
    if ending == "clean":
        time.sleep(0.5)
        edge.disconnect()
        out({"event": "disconnected"})
        return
    while True:  # wait to be killed: the broker then publishes the will (NDEATH)
        time.sleep(1)


if __name__ == "__main__":
    main()
