"""``twin inject`` against ``twin sensors --source model`` on a real Mosquitto; hostile input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from sensors.inject import inject
from sensors.injection import INJECT_TOPIC, SIM_EVENTS_TOPIC, decode_event
from sensors.record import read_record
from twin.codec import Codec, encode_batch
from twin.config import load_complex
from twin.mqtt import connect, make_client, wait_connected
from twin.timespec import now_ms
from twin.topics import telemetry_topic
from twin.urls import parse_broker_url


def _twin() -> list[str]:
    script = Path(sys.executable).with_name("twin")
    if script.exists():
        return [str(script)]
    found = shutil.which("twin")
    return [found] if found else [sys.executable, "-m", "twin"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(inject, list(args), env={"TWIN_BROKER": None, "TWIN_CONFIG": None})
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(
        result.exception
    )
    assert "Traceback" not in text
    return result.exit_code, text


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["tsunami", "--zone", "A"], "KIND"),
        (["fire", "--zone", "A", "--duration", "soon"], "--duration"),
        (["fire", "--zone", "A", "--duration", "-1h"], "--duration"),
        (["fire", "--zone", "A", "--duration", "30d"], "--duration"),
        (["fire", "--zone", "A/#"], "--zone"),
        (["fire", "--zone", "A", "--factory", "alpha-f1"], "--zone"),
        (["fire", "--zone", "Q", "--config", "tiny"], "--zone"),
        (["fire", "--factory", "nope", "--config", "tiny"], "--factory"),
        (["fire", "--zone", "A", "--config", "/no/such.yaml"], "--config"),
        (["fire", "--zone", "A", "--wait", "-1"], "--wait"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(args, flag):
    code, text = _invoke(*args, "--broker", "mqtt://127.0.0.1:1")
    assert code == 2, text
    assert flag in text


def test_unreachable_broker_is_a_clear_error():
    code, text = _invoke(
        "fire", "--zone", "A", "--broker", "mqtt://127.0.0.1:1", "--connect-timeout", "0.5"
    )
    assert code == 1 and "127.0.0.1:1" in text


class Events:
    """Collects the fleet's answers and disaster phases."""

    def __init__(self, url: str):
        u = parse_broker_url(url)
        self.docs: list[dict] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = make_client(u, "test-sim-events")
        self.client.on_connect = lambda c, *a: c.subscribe(SIM_EVENTS_TOPIC, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        connect(self.client, u)
        self.client.loop_start()
        wait_connected(self.client, 10)
        assert ready.wait(10)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        doc = decode_event(bytes(msg.payload))
        if doc is not None:
            with self._lock:
                self.docs.append(doc)

    def wait(self, pred, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for d in self.docs:
                    if pred(d):
                        return d
            time.sleep(0.05)
        raise AssertionError(f"no matching event; got {self.docs[-5:]}")

    def publish(self, payload: bytes) -> None:
        self.client.publish(INJECT_TOPIC, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait_for_line(path: Path, text: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, path.read_text(errors="replace")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged:\n{path.read_text(errors='replace')}")


@pytest.mark.mosquitto
@pytest.mark.slow
def test_model_fleet_takes_injections_over_mqtt_and_survives_hostile_ones(mosquitto, tmp_path):
    tiny = load_complex("tiny")
    record = tmp_path / "rec.jsonl"
    log = tmp_path / "fleet.log"
    events = Events(mosquitto.url)
    with log.open("wb") as err:
        fleet = subprocess.Popen(
            [
                *_twin(),
                "sensors",
                "--broker",
                mosquitto.url,
                "--config",
                "tiny",
                "--source",
                "model",
                "--speed",
                "60",
                "--duration",
                "20",
                "--seed",
                "3",
                "--record",
                str(record),
                "--kpis",
                str(tmp_path / "kpis.json"),
            ],
            stdout=err,
            stderr=err,
        )
    try:
        _wait_for_line(log, "listening for disaster injections", fleet)
        # hostile commands first: each gets an error answer, and the fleet carries on
        for payload in (
            b"garbage{",
            b'{"id": "h1", "kind": "fire", "duration_h": -5}',
            b"\xff" * 5000,
        ):
            events.publish(payload)
        bad = events.wait(lambda d: d.get("type") == "inject.result" and d.get("id") == "h1")
        assert bad["ok"] is False and bad["reason"] == "bad_duration"
        events.wait(lambda d: d.get("reason") == "malformed_json")
        events.wait(lambda d: d.get("reason") == "too_large")
        # an unknown zone, from the command line: refused by the fleet, exit 1
        refused = subprocess.run(
            [*_twin(), "inject", "fire", "--zone", "Q", "--broker", mosquitto.url, "--wait", "10"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1 and "unknown zone 'Q'" in refused.stderr
        # the real thing
        ok = subprocess.run(
            [
                *_twin(),
                "inject",
                "fire",
                "--factory",
                "alpha-f1",
                "--duration",
                "2h",
                "--broker",
                mosquitto.url,
                "--config",
                "tiny",
                "--wait",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ok.returncode == 0, ok.stderr
        assert "fire@alpha-f1#1 started" in ok.stdout and "alpha-f1" in ok.stdout
        start = events.wait(lambda d: d.get("type") == "disaster" and d.get("phase") == "start")
        assert start["kind"] == "fire" and start["factories"] == ["alpha-f1"]
        assert fleet.wait(60) == 0, log.read_text()
    finally:
        if fleet.poll() is None:
            fleet.kill()
        events.close()
    readings = read_record(record)
    # what the broker took passes the ingest's codec
    codec = Codec(tiny)
    by_device: dict[tuple[str, str], list] = {}
    for r in readings:
        info = tiny.sensors[r.sensor_id]
        by_device.setdefault((info.owner, info.device), []).append(r)
    for (owner, device), rs in by_device.items():
        got = codec.decode(telemetry_topic(owner, device), encode_batch(rs[:500]), now_ms())
        assert not got.rejections, got.rejections[:3]
    # the fire shows in the burning factory's smoke sensor after its (simulated) onset
    onset = start["ts"]
    smoke = [(r.ts_ms, r.value) for r in readings if r.sensor_id == "alpha-f1-smoke"]
    before = [v for t, v in smoke if t < onset]
    after = [v for t, v in smoke if t >= onset + 10 * 60_000]
    assert before and max(before) < 0.5
    assert after and min(after) > 10.0
    # the model's KPIs over the run: the fire's downtime, and the counters the fleet published
    kpis = json.loads((tmp_path / "kpis.json").read_text())["kpis"]
    assert kpis["factory.alpha-f1.disaster_downtime_h"] > 0
    goods = [r.value for r in readings if r.sensor_id == "alpha-smt-good"]
    assert goods and kpis["machine.alpha-smt.good"] >= goods[-1]
    # and the factory's machines read "down" from the onset
    states = [
        r.value for r in readings if r.sensor_id == "alpha-smt-state" and r.ts_ms > onset + 1000
    ]
    assert states and set(states) == {4.0}
