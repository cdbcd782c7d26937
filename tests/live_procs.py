"""Run `twin live` as a real process for tests, and watch what it publishes on the broker."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from tests.procs import TwinChild
from twin.codec import Reading, encode_batch, topic_for
from twin.model import Complex
from twin.mqtt import connect, make_client, wait_connected
from twin.urls import parse_broker_url


class LiveProc(TwinChild):
    """`python -m twin live` with its own data dir, historian and log file."""

    def __init__(
        self,
        broker_url: str,
        workdir: Path,
        config: Path | str = "tiny",
        client_id: str = "it-live",
        *extra: str,
    ):
        self.workdir = workdir
        self.historian_url = f"sqlite:///{workdir / 'historian.db'}"
        self.data_dir = workdir / "live-data"
        cmd = [
            sys.executable,
            "-m",
            "twin",
            "live",
            "--broker",
            broker_url,
            "--historian",
            self.historian_url,
            "--config",
            str(config),
            "--data-dir",
            str(self.data_dir),
            "--client-id",
            client_id,
            "--snapshot-interval",
            "0.5",
            "--kpi-interval",
            "1",
            "--log-level",
            "info",
            *extra,
        ]
        super().__init__(cmd, workdir / f"{client_id}.log", "live")

    def start(self) -> LiveProc:
        self.spawn()
        return self


class Watcher:
    """Subscribes to the live twin's topics and keeps every message (topic, JSON, received at)."""

    def __init__(
        self,
        broker_url: str,
        topics: tuple[str, ...] = ("twin/v1/+/_alarms/#", "twin/v1/+/+/state"),
    ):
        self.messages: list[tuple[str, Any, float]] = []
        self._lock = threading.Lock()
        url = parse_broker_url(broker_url)
        self.client = make_client(url, f"watch-{time.monotonic_ns()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(t, 1) for t in topics])
        connect(self.client, url)
        self.client.loop_start()
        wait_connected(self.client, 10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = orjson.loads(msg.payload) if msg.payload else None
        except orjson.JSONDecodeError:
            doc = msg.payload
        with self._lock:
            self.messages.append((msg.topic, doc, time.monotonic()))

    def since(self, mark: int = 0) -> list[tuple[str, Any, float]]:
        with self._lock:
            return list(self.messages[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.messages)

    def wait_for(
        self,
        pred: Callable[[str, Any], bool],
        timeout: float = 20.0,
        mark: int = 0,
        what: str = "a message",
    ) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for topic, doc, _ in self.since(mark):
                if pred(topic, doc):
                    return topic, doc
            time.sleep(0.02)
        raise TimeoutError(f"no {what} within {timeout} s; got {[m[0] for m in self.since(mark)][-20:]}")

    def events(self, mark: int = 0) -> list[dict]:
        return [doc for topic, doc, _ in self.since(mark) if topic.endswith("/_alarms/event")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Publishes readings (QoS 1) and commands; waits until the broker has them."""

    def __init__(self, broker_url: str, complex_: Complex, client_id: str = "it-pub"):
        self.complex = complex_
        url = parse_broker_url(broker_url)
        self.client = make_client(url, client_id)
        connect(self.client, url)
        self.client.loop_start()
        wait_connected(self.client, 10)

    def readings(self, readings: list[Reading]) -> None:
        by_topic: dict[str, list[Reading]] = {}
        for r in readings:
            by_topic.setdefault(topic_for(self.complex, r.sensor_id), []).append(r)
        for topic, rs in by_topic.items():
            self.client.publish(topic, encode_batch(rs), qos=1).wait_for_publish(10)

    def raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def now_reading(sensor: str, value: float, offset_ms: int = 0) -> Reading:
    return Reading(sensor, time.time_ns() // 1_000_000 + offset_ms, float(value))
