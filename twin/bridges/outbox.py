"""The bridges' way to the broker: readings -> on-disk spool -> MQTT QoS 1 -> PUBACK -> deleted.

Every reading a bridge takes from a device is written to the spool (fsync) first, then
published in the telemetry contract (:func:`twin.codec.encode_batch` on
:func:`twin.topics.telemetry_topic`); a spool segment is deleted only once the broker
has acknowledged (PUBACK) every message made from it. So a broker outage, a broker
restart or a crash of the bridge itself loses nothing: what is on disk is sent (again)
when the broker is back. Sending again is harmless, since the historian stores a
reading once per (sensor, timestamp).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import paho.mqtt.client as mqtt

from twin.codec import Reading, encode_batch
from twin.errors import TwinError
from twin.ingest.spool import DEFAULT_SPOOL_BYTES, Spool, SpoolFull
from twin.model import Complex
from twin.mqtt import connect, make_client
from twin.topics import telemetry_topic
from twin.urls import BrokerUrl

__all__ = ["Outbox", "SpoolBusy"]

log = logging.getLogger(__name__)

#: Readings gathered before a spool write (one fsync per flush, not per reading).
FLUSH_S = 0.2
#: Readings per MQTT message at most (payloads stay far below the contract's 256 KiB).
MAX_PER_MESSAGE = 500
#: A spool segment is published again if its PUBACKs have not all come within this time.
ACK_TIMEOUT_S = 30.0
#: Readings held in memory when the spool is full; past this the oldest are dropped (and logged).
MAX_MEMORY_READINGS = 1_000_000


class SpoolBusy(TwinError):
    """Another process owns this spool directory (each bridge needs its own)."""


def _lock(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusy(
            f"spool {directory} is in use by another bridge; give each bridge its own --spool-dir"
        ) from None
    return fd


class Outbox:
    """Thread-safe :meth:`put`; one thread owns the spool and the publishing."""

    def __init__(
        self,
        complex_: Complex,
        broker: BrokerUrl,
        client_id: str,
        spool_dir: str | Path,
        spool_bytes: int = DEFAULT_SPOOL_BYTES,
    ):
        self._routes = {sid: telemetry_topic(i.owner, i.device) for sid, i in complex_.sensors.items()}
        self.broker = broker
        self._lock_fd = _lock(Path(spool_dir))
        self.spool = Spool(spool_dir, spool_bytes)
        self.client = make_client(broker, client_id)  # a publisher: no session to keep
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._pending: deque[Reading] = deque()
        self._cond = threading.Condition()
        self._acked: set[int] = set()
        self._stopping = False
        self._drain_deadline = float("inf")
        self._thread: threading.Thread | None = None
        self.sent = 0  # readings the broker acknowledged
        self.dropped = 0  # readings dropped with the spool full and memory exhausted

    # ---- any thread -------------------------------------------------------------------

    def put(self, readings: Iterable[Reading]) -> None:
        """Queue readings; they reach the disk within :data:`FLUSH_S`."""
        with self._cond:
            self._pending.extend(readings)
            over = len(self._pending) - MAX_MEMORY_READINGS
            if over > 0:
                for _ in range(over):
                    self._pending.popleft()
                self.dropped += over
                log.error("spool full and %d readings in memory: dropped the %d oldest", MAX_MEMORY_READINGS, over)
            self._cond.notify_all()

    def start(self) -> Outbox:
        connect(self.client, self.broker)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="bridge-outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 5.0) -> None:
        """Write what is queued to disk, send what the broker takes within ``drain_s``, stop."""
        with self._cond:
            self._stopping = True
            self._drain_deadline = time.monotonic() + drain_s
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(drain_s + 30)
        self.client.disconnect()
        self.client.loop_stop()
        os.close(self._lock_fd)
        if self.spool:
            log.info("%d bytes stay in the spool %s; they are sent at the next start", self.spool.bytes, self.spool.dir)

    @property
    def connected(self) -> bool:
        return bool(self.client.is_connected())

    # ---- paho callbacks (network thread: never raise) ---------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker %s refused the connection: %s", self.broker, rc)
        else:
            log.info("connected to %s", self.broker)
            with self._cond:
                self._cond.notify_all()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if not self._stopping:
            log.warning("broker %s went away (%s); buffering on disk", self.broker, rc)
        with self._cond:
            self._cond.notify_all()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object = None) -> None:
        if getattr(rc, "is_failure", False):
            # the broker decided (e.g. an ACL denial); sending again would not change its mind
            log.error("broker refused a telemetry message: %s", rc)
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    # ---- the outbox thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._take()
                if batch:
                    self._buffer(batch)
                if self.spool and self.connected:
                    self._send_oldest()
                with self._cond:
                    if (
                        self._stopping
                        and not self._pending
                        and (not self.spool or not self.connected or time.monotonic() > self._drain_deadline)
                    ):
                        return
                    if not batch and self.spool and not self.connected:
                        self._cond.wait(0.5)
        except Exception:  # keep the data on disk; the log says why the outbox stopped
            log.exception("bridge outbox failed")

    def _take(self) -> list[Reading]:
        with self._cond:
            if not self._pending and not self._stopping:
                self._cond.wait(FLUSH_S)
            batch = list(self._pending)
            self._pending.clear()
            return batch

    def _buffer(self, batch: list[Reading]) -> None:
        try:
            self.spool.append(batch)
        except SpoolFull:
            log.warning("spool full (%d bytes): holding %d readings in memory", self.spool.bytes, len(batch))
            with self._cond:
                self._pending.extendleft(reversed(batch))
                self._cond.wait(1.0)

    def _messages(self, readings: list[Reading]) -> list[tuple[str, bytes]]:
        by_topic: dict[str, list[Reading]] = {}
        for r in readings:
            topic = self._routes.get(r.sensor_id)
            if topic is None:  # maps are checked against the config; only a changed config gets here
                log.error("no device for sensor %r in the complex config; reading dropped", r.sensor_id)
                continue
            by_topic.setdefault(topic, []).append(r)
        out = []
        for topic, rs in by_topic.items():
            for i in range(0, len(rs), MAX_PER_MESSAGE):
                out.append((topic, encode_batch(rs[i : i + MAX_PER_MESSAGE])))
        return out

    def _send_oldest(self) -> None:
        got = self.spool.oldest()
        if got is None:
            return
        path, records = got
        readings = [r for rs, _ in records for r in rs]
        mids = set()
        with self._cond:
            self._acked.clear()
        for topic, payload in self._messages(readings):
            mids.add(self.client.publish(topic, payload, qos=1).mid)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        with self._cond:
            while not mids <= self._acked:
                if not self.connected or time.monotonic() > deadline:
                    # paho resends its in-flight messages on reconnect; if they are lost all
                    # the same, the segment is published again next time
                    return
                if self._stopping and time.monotonic() > self._drain_deadline:
                    return
                self._cond.wait(0.1)
        self.spool.remove(path)
        self.sent += len(readings)
        log.debug("sent %d readings from %s", len(readings), path.name)
