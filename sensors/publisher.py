"""Publishes device batches to MQTT (QoS 1) and knows which ones the broker acknowledged.

The thin adapter between the pure fleet and the bus:

- one message per device batch, ``encode_batch`` on ``telemetry_topic(owner, device)``;
- a bounded number of unacknowledged messages (``max_pending``): :meth:`offer`
  refuses a batch while the window is full, so a slow or absent broker slows
  the fleet down instead of growing memory or dropping readings;
- paho reconnects on its own (``loop_start``); messages published while the
  connection is down stay queued in paho and go out after the reconnect;
- acknowledgements are counted on the caller's thread: the paho callback only
  appends the message id to a deque (it runs on the network thread while paho
  holds its own lock, so it must not take ours).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from twin.codec import Reading, encode_batch
from twin.mqtt import BrokerUnavailable, connect, make_client, unique_client_id, wait_connected
from twin.topics import telemetry_topic
from twin.urls import BrokerUrl

__all__ = ["BatchSink", "PublisherStats", "TelemetryPublisher", "BrokerUnavailable"]

log = logging.getLogger(__name__)

#: Unacknowledged messages allowed in flight or queued before offer() pushes back.
DEFAULT_MAX_PENDING = 1000
#: QoS of telemetry (the contract: at least once).
TELEMETRY_QOS = 1


class BatchSink(Protocol):
    """Where the fleet puts device batches (the publisher, or a fake in tests)."""

    def offer(
        self, owner: str, device: str, readings: Sequence[Reading], timeout: float = 0.2
    ) -> bool:
        """Take the batch, or return False if there is no room within ``timeout`` seconds."""
        ...

    def poll(self) -> int:
        """Process acknowledgements; return how many messages were newly acknowledged."""
        ...

    def flush(self, timeout: float) -> bool:
        """Wait until everything taken is acknowledged; False if ``timeout`` ran out first."""
        ...


@dataclass(slots=True)
class PublisherStats:
    """Counters of one publisher (messages are device batches)."""

    offered_messages: int = 0
    offered_readings: int = 0
    acked_messages: int = 0
    acked_readings: int = 0
    refused_full: int = 0
    connects: int = 0
    disconnects: int = 0

    @property
    def pending_messages(self) -> int:
        return self.offered_messages - self.acked_messages


class TelemetryPublisher:
    """A paho client publishing device batches at QoS 1 with a bounded window."""

    def __init__(
        self,
        url: BrokerUrl,
        *,
        client_id: str | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        on_acked: Callable[[Sequence[Reading]], None] | None = None,
    ):
        if max_pending < 1:
            raise ValueError(f'"max_pending" must be >= 1, got {max_pending}')
        self.url = url
        self.client_id = client_id or unique_client_id("twin-sensors")
        self.max_pending = max_pending
        self.stats = PublisherStats()
        self._on_acked = on_acked
        self._pending: dict[int, Sequence[Reading]] = {}
        self._acks: deque[int] = deque()
        self._ack_event = threading.Event()
        # paho's own queue is bounded too, as a backstop; ours is the one that pushes back.
        self._client = make_client(url, self.client_id, max_queued=max_pending + 10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._started = False

    # ---- paho callbacks (network thread: never raise, never block) -----------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s refused the connection: %s", self.url, reason)
            return
        self.stats.connects += 1
        log.info("connected to %s as %s", self.url, self.client_id)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.stats.disconnects += 1
        if self._started:
            log.warning("disconnected from %s (%s); reconnecting", self.url, reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        self._acks.append(mid)
        self._ack_event.set()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, connect_timeout: float = 30.0) -> None:
        """Connect and start paho's network thread; raise BrokerUnavailable if no broker answers."""
        self._started = True
        connect(self._client, self.url)
        self._client.loop_start()
        try:
            wait_connected(self._client, connect_timeout)
        except BrokerUnavailable as exc:
            self.close()
            raise BrokerUnavailable(f"{self.url}: {exc}") from exc

    def close(self) -> None:
        """Disconnect and stop the network thread (call :meth:`flush` first to keep data)."""
        if not self._started:
            return
        self._started = False
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

    # ---- publishing ------------------------------------------------------------------------

    def offer(
        self, owner: str, device: str, readings: Sequence[Reading], timeout: float = 0.2
    ) -> bool:
        self.poll()
        if len(self._pending) >= self.max_pending:
            deadline = time.monotonic() + timeout
            while True:
                self._ack_event.clear()
                self.poll()  # after the clear, so an ack in between is not slept through
                if len(self._pending) < self.max_pending:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stats.refused_full += 1
                    return False
                self._ack_event.wait(left)
        info = self._client.publish(
            telemetry_topic(owner, device), encode_batch(list(readings)), qos=TELEMETRY_QOS
        )
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.stats.refused_full += 1
            return False
        # MQTT_ERR_NO_CONN is fine: paho keeps the message and sends it after reconnecting.
        self._pending[info.mid] = readings
        self.stats.offered_messages += 1
        self.stats.offered_readings += len(readings)
        return True

    def poll(self) -> int:
        acks = self._acks
        pending = self._pending
        n = 0
        while acks:
            mid = acks.popleft()
            readings = pending.pop(mid, None)
            if readings is None:
                continue  # not ours (cannot happen with QoS 1, but never trust a callback)
            n += 1
            self.stats.acked_messages += 1
            self.stats.acked_readings += len(readings)
            if self._on_acked is not None:
                self._on_acked(readings)
        return n

    def flush(self, timeout: float) -> bool:
        # A deadline, not a sum of waits: acks wake the wait early, many times a second.
        deadline = time.monotonic() + timeout
        self.poll()
        while self._pending and (left := deadline - time.monotonic()) > 0:
            self._ack_event.clear()
            self.poll()
            if self._pending:
                self._ack_event.wait(min(left, 0.1))
        self.poll()
        if self._pending:
            log.warning(
                "%s message(s) still unacknowledged after %.0f s; their readings are lost",
                len(self._pending),
                timeout,
            )
        return not self._pending
