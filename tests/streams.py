"""A test publisher of known readings, and helpers to compare them with the historian."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson

from twin.model import Complex
from twin.mqtt import connect, make_client, wait_connected
from twin.topics import telemetry_topic
from twin.urls import parse_broker_url


@dataclass
class Stream:
    """Publishes QoS 1 readings of every sensor of a complex, round robin, at ``rate`` msg/s.

    Each reading has a unique timestamp per sensor; values are mid-range so they
    pass validation. ``acked`` holds the (sensor, ts) the broker acknowledged.
    """

    broker_url: str
    complex_: Complex
    rate: float = 500.0
    per_message: int = 1
    client_id: str = "test-stream"
    base_ts: int = field(default_factory=lambda: time.time_ns() // 1_000_000 - 3_600_000)
    acked: set[tuple[str, int]] = field(default_factory=set)
    attempted: set[tuple[str, int]] = field(default_factory=set)
    extra: list[tuple[str, bytes]] = field(default_factory=list)  # raw (topic, payload) to mix in

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[int, list[tuple[str, int]]] = {}
        self._done: set[int] = set()  # mids whose PUBACK arrived (filled on the network thread)
        self.sensors = sorted(self.complex_.sensors)
        url = parse_broker_url(self.broker_url)
        # paho queues QoS 1 messages published while disconnected and sends them on reconnect,
        # so completion is tracked by PUBACK (on_publish), not by publish()'s return code
        self.client = make_client(url, self.client_id, persistent=True)
        self.client.on_publish = lambda c, u, mid, rc, props: self._done.add(mid)
        connect(self.client, url, persistent=True)
        self.client.loop_start()
        wait_connected(self.client, 10)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        seq = itertools.count()
        cycle = itertools.cycle(self.sensors)
        extras = iter(self.extra)
        interval = 1.0 / self.rate
        next_t = time.monotonic()
        while not self._stop.is_set():
            sid = next(cycle)
            info = self.complex_.sensors[sid]
            lo, hi = info.sensor.range
            n = next(seq)
            items = []
            # a batch: per_message readings of the same sensor at consecutive timestamps
            for k in range(self.per_message):
                items.append((sid, self.base_ts + n * self.per_message + k))
            body = (
                {"sensor": sid, "ts": items[0][1], "value": (lo + hi) / 2}
                if self.per_message == 1
                else {"readings": [{"sensor": s, "ts": t, "value": (lo + hi) / 2} for s, t in items]}
            )
            topic = telemetry_topic(info.owner, info.device)
            info_msg = self.client.publish(topic, orjson.dumps(body), qos=1)
            with self._lock:
                self.attempted.update(items)
                self._pending[info_msg.mid] = items
            if n % 7 == 3:
                extra = next(extras, None)
                if extra is not None:
                    self.client.publish(extra[0], extra[1], qos=1)
            self._collect()
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()

    def _collect(self) -> None:
        with self._lock:
            for mid in list(self._done):
                items = self._pending.pop(mid, None)
                if items is not None:
                    self._done.discard(mid)
                    self.acked.update(items)

    def stop(self, flush_timeout: float = 60.0) -> None:
        """Stop publishing and wait until every attempted message is acknowledged."""
        self._stop.set()
        self._thread.join(10)
        deadline = time.monotonic() + flush_timeout
        while time.monotonic() < deadline:
            self._collect()
            if not self._pending:
                break
            time.sleep(0.1)
        self.client.disconnect()
        self.client.loop_stop()


def per_sensor(pairs: set[tuple[str, int]]) -> Counter:
    return Counter(s for s, _ in pairs)


def wait_stored(historian, expected: set[tuple[str, int]], timeout: float = 90.0) -> dict[str, int]:
    """Poll the historian until it holds as many readings per sensor as expected."""
    want = per_sensor(expected)
    deadline = time.monotonic() + timeout
    got: dict[str, int] = {}
    while time.monotonic() < deadline:
        got = historian.counts()
        if all(got.get(s, 0) >= n for s, n in want.items()):
            return got
        time.sleep(0.25)
    return got


def stored_pairs(historian, sensors, since: int = 0, until: int | None = None) -> list[tuple[str, int]]:
    until = until if until is not None else time.time_ns() // 1_000_000 + 86_400_000
    return [(r.sensor_id, r.ts_ms) for r in historian.query(sorted(sensors), since, until)]
