"""The ingest worker: MQTT in (manual acknowledgement, persistent session), historian out."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from twin.codec import Codec, Limits
from twin.historian import open_historian
from twin.ingest.metrics import IngestMetrics, serve_http
from twin.ingest.spool import DEFAULT_SPOOL_BYTES, Spool
from twin.ingest.writer import BatchWriter, Inbound, WriterSettings
from twin.model import Complex
from twin.mqtt import DEFAULT_SESSION_EXPIRY_S, connect, make_client
from twin.mqtt_fast import FastClient, FastMessage, supported
from twin.topics import TELEMETRY_FILTER, shared
from twin.urls import BrokerUrl, redact

__all__ = ["IngestSettings", "IngestWorker"]

log = logging.getLogger(__name__)

#: Unacknowledged messages the broker may send us (MQTT 5 Receive Maximum):
#: larger than a batch so the pipeline never idles waiting for acknowledgements.
RECEIVE_MAXIMUM = 10_000


@dataclass(frozen=True)
class IngestSettings:
    broker: BrokerUrl
    historian_url: str
    client_id: str
    spool_dir: Path
    spool_bytes: int = DEFAULT_SPOOL_BYTES
    group: str | None = None  # shared-subscription group; None = plain subscription
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    http_host: str = "127.0.0.1"
    http_port: int | None = None  # /metrics and /health; None = off
    unhealthy_after_s: float = 30.0
    writer: WriterSettings = WriterSettings()
    limits: Limits = Limits()


class IngestWorker:
    """One ingest process. ``run()`` blocks until ``stop()``."""

    def __init__(self, complex_: Complex, settings: IngestSettings):
        self.s = settings
        self.metrics = IngestMetrics()
        self.historian = open_historian(settings.historian_url)
        self.spool = Spool(settings.spool_dir, settings.spool_bytes)
        # paho with a bulk receive path and batched PUBACKs (twin/mqtt_fast.py): ~10x paho's own rate
        fast = supported()
        if not fast:
            log.warning("this paho-mqtt lacks the internals of the fast receive path; using plain paho")
        self.client = make_client(
            settings.broker, settings.client_id, persistent=True, manual_ack=True,
            client_cls=FastClient if fast else mqtt.Client,
        )
        self.writer = BatchWriter(
            Codec(complex_, settings.limits), self.historian, self.spool, self.client.ack,
            self.metrics, settings.writer,
            ack_many=self.client.ack_many if isinstance(self.client, FastClient) else None,
        )
        self._stop = threading.Event()
        self._broker_down_since: float | None = time.monotonic()
        self._http = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        if isinstance(self.client, FastClient):
            self.client.on_messages = self._on_messages
        self.client.on_subscribe = self._on_subscribe

    @property
    def topic_filter(self) -> str:
        return shared(self.s.group, TELEMETRY_FILTER) if self.s.group else TELEMETRY_FILTER

    # ---- paho callbacks (network thread: never raise, never block long) ---------

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker %s refused the connection: %s", self.s.broker, rc)
            return
        self._broker_down_since = None
        self.metrics.broker_up.set(1)
        session = getattr(flags, "session_present", None)
        log.info("connected to %s as %s (session present: %s)", self.s.broker, self.s.client_id, session)
        client.subscribe(self.topic_filter, qos=1)  # on every connect, so reconnects resubscribe

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, codes: list, props: object = None) -> None:
        for code in codes:
            if getattr(code, "is_failure", False):
                log.error("subscription to %s refused: %s", self.topic_filter, code)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if self._broker_down_since is None:
            self._broker_down_since = time.monotonic()
        self.metrics.broker_up.set(0)
        if not self._stop.is_set():
            log.warning("disconnected from %s (%s); reconnecting", self.s.broker, rc)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            # brokers enforce UTF-8 topics, but never let one odd byte stall the session
            topic = msg._topic.decode("utf-8", "replace")
            self.writer.submit(Inbound(msg.mid, msg.qos, topic, msg.payload, time.time_ns() // 1_000_000))
        except Exception:  # a paho callback must never raise
            log.exception("could not queue a message on %s", msg.topic[:200])

    def _on_messages(self, client: mqtt.Client, msgs: list[FastMessage]) -> None:
        try:
            now = time.time_ns() // 1_000_000
            self.writer.submit_many(
                [Inbound(m.mid, m.qos, m.topic.decode("utf-8", "replace"), m.payload, now) for m in msgs]
            )
        except Exception:  # a paho callback must never raise
            log.exception("could not queue %d message(s)", len(msgs))

    # ---- lifecycle ------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, object]]:
        now = time.monotonic()
        hist_down = self.writer.historian_down_since
        broker_down = self._broker_down_since
        detail: dict[str, object] = {
            "historian_down_s": round(now - hist_down, 1) if hist_down else 0,
            "broker_down_s": round(now - broker_down, 1) if broker_down else 0,
            "spool_bytes": self.spool.bytes,
            "queued_messages": self.writer.queued,
        }
        ok = all(v <= self.s.unhealthy_after_s for v in (detail["historian_down_s"], detail["broker_down_s"]))  # type: ignore[operator]
        detail["status"] = "ok" if ok else "unhealthy"
        return ok, detail

    def run(self) -> None:
        if self.s.http_port is not None:
            self._http = serve_http(self.s.http_host, self.s.http_port, self.metrics, self.health)
            log.info("metrics and health on http://%s:%d/metrics", self.s.http_host, self.s.http_port)
        writer_thread = threading.Thread(target=self.writer.run, name="ingest-writer", daemon=True)
        writer_thread.start()
        connect(
            self.client, self.s.broker, persistent=True, session_expiry_s=self.s.session_expiry_s,
            receive_maximum=RECEIVE_MAXIMUM,
        )
        self.client.loop_start()
        log.info(
            "ingest %s: %s -> %s (spool %s)", self.s.client_id, self.topic_filter,
            redact(self.s.historian_url), self.s.spool_dir,
        )
        try:
            self._stop.wait()
        finally:
            # Store and acknowledge what we hold, then leave; the session stays on the broker.
            self.writer.stop()
            writer_thread.join(timeout=60)
            time.sleep(0.2)  # let queued PUBACKs go out before DISCONNECT
            self.client.disconnect()
            self.client.loop_stop()
            self.historian.close()
            if self._http is not None:
                self._http.shutdown()

    def stop(self) -> None:
        self._stop.set()
