"""The model-driven fleet and the bus: injection commands in, answers and disaster phases out.

A small paho adapter beside the telemetry publisher. It subscribes to
:data:`~sensors.injection.INJECT_TOPIC` (QoS 1) inside ``on_connect`` so a reconnect
resubscribes, validates each command on the network thread (pure and quick:
:func:`~sensors.injection.decode_command`), answers a refused one at once, and hands a
valid one to the source, which starts it at its next sample on the fleet's thread and
replies through :meth:`InjectListener.publish_result`. The session is clean on
purpose: a command sent while the fleet was away must not start a disaster hours
later when it comes back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from sensors.injection import (
    INJECT_TOPIC,
    SIM_EVENTS_TOPIC,
    CommandReason,
    InjectCommand,
    InjectCommandError,
    InjectResult,
    decode_command,
    encode_disaster_event,
)
from twin.model import Complex
from twin.mqtt import BrokerUnavailable, connect, make_client, unique_client_id, wait_connected
from twin.timespec import now_ms
from twin.urls import BrokerUrl

__all__ = ["InjectListener"]

log = logging.getLogger(__name__)

#: QoS of commands and answers (at least once; a duplicate command id is answered twice).
COMMAND_QOS = 1
#: Most bytes of a bad payload quoted in the log.
LOG_PAYLOAD_BYTES = 120

Handler = Callable[[InjectCommand, Callable[[InjectResult], None]], None]


class InjectListener:
    """Receives injection commands for ``complex_`` and passes valid ones to ``on_command``."""

    def __init__(
        self,
        url: BrokerUrl,
        complex_: Complex,
        on_command: Handler,
        *,
        client_id: str | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ):
        self.url = url
        self.complex = complex_
        self._on_command = on_command
        self._clock_ms = clock_ms
        self.client_id = client_id or unique_client_id("twin-sensors-inject")
        self._client = make_client(url, self.client_id)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self.subscribed = threading.Event()
        self.received = 0
        self.refused = 0
        self._started = False

    # ---- paho callbacks (network thread: never raise) -----------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s refused the command connection: %s", self.url, reason)
            return
        client.subscribe(INJECT_TOPIC, qos=COMMAND_QOS)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        self.subscribed.set()
        log.info("listening for disaster injections on %s", INJECT_TOPIC)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(bytes(msg.payload))
        except Exception:  # never let a command take the network thread down
            log.exception(
                "injection command handling failed; payload %r", msg.payload[:LOG_PAYLOAD_BYTES]
            )

    # ---- commands ------------------------------------------------------------------------------

    def handle(self, payload: bytes) -> None:
        """Validate one command; refuse it with an answer, or pass it on."""
        self.received += 1
        try:
            cmd = decode_command(payload, self.complex)
        except InjectCommandError as exc:
            self.refused += 1
            log.warning(
                "refused injection command (%s): %s; payload %r",
                exc.reason.value,
                exc.detail,
                payload[:LOG_PAYLOAD_BYTES],
            )
            self.publish_result(InjectResult.refused(exc, self._clock_ms()))
            return
        log.info("injection command %s: %s by %s", cmd.id, cmd.label, cmd.by or "?")
        try:
            self._on_command(cmd, self.publish_result)
        except Exception as exc:
            self.refused += 1
            log.exception("the fleet could not take injection %s", cmd.id)
            err = InjectCommandError(CommandReason.MODEL_REFUSED, str(exc)[:200], cmd.id)
            self.publish_result(InjectResult.refused(err, self._clock_ms()))

    def publish_result(self, result: InjectResult) -> None:
        self._client.publish(SIM_EVENTS_TOPIC, result.encode(), qos=COMMAND_QOS)

    def publish_disaster(self, ts_ms: int, data: dict[str, Any]) -> None:
        self._client.publish(SIM_EVENTS_TOPIC, encode_disaster_event(ts_ms, data), qos=COMMAND_QOS)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, connect_timeout: float = 30.0) -> None:
        """Connect, subscribe, start the network thread; BrokerUnavailable if no broker answers."""
        self._started = True
        connect(self._client, self.url)
        self._client.loop_start()
        try:
            wait_connected(self._client, connect_timeout)
        except BrokerUnavailable as exc:
            self.close()
            raise BrokerUnavailable(f"{self.url}: {exc}") from exc
        if not self.subscribed.wait(connect_timeout):
            log.warning("no subscription acknowledgement for %s yet", INJECT_TOPIC)

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
