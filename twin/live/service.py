"""``twin live`` as a process: MQTT in and out, the alarm journal, KPIs to the historian.

A thin adapter around :class:`~twin.live.twin.LiveTwin`. One worker thread owns the
twin; paho's network thread only queues messages. For each batch of messages the
worker feeds the twin, writes the resulting alarm events to the journal (fsync),
publishes them, and only then acknowledges the messages (manual acknowledgement, a
persistent session): a crash at any point loses neither a reading nor an alarm
transition, and a restart replays the journal to the state it had.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt

from twin.alarms.commands import (
    COMMAND_FILTER,
    CommandError,
    encode_event,
    encode_reply,
    event_topic,
    open_topic,
    parse_command,
    parse_command_topic,
    reply_topic,
)
from twin.alarms.journal import AlarmJournal, JournalError
from twin.alarms.lifecycle import CommandRejected
from twin.alarms.records import AlarmEvent
from twin.codec import Codec, Reading
from twin.errors import HistorianError, HistorianUnavailable, TwinError
from twin.historian import open_historian
from twin.live.twin import LiveTwin, open_alarms_doc
from twin.model import PARK_OWNER, Complex
from twin.mqtt import DEFAULT_SESSION_EXPIRY_S, connect, make_client
from twin.snapshot import complex_state_topic, encode_snapshot, factory_state_topic
from twin.timespec import now_ms
from twin.topics import TELEMETRY_FILTER
from twin.urls import BrokerUrl, redact

__all__ = ["LiveSettings", "LiveService"]

log = logging.getLogger(__name__)

#: Unacknowledged messages the broker may send us; the back-pressure window.
RECEIVE_MAXIMUM = 2000
#: Messages handled per batch at most: small batches keep alarm latency low under load.
MAX_BATCH = 256
#: KPI batches waiting for the historian; beyond it the oldest current-value batch is dropped.
MAX_KPI_BACKLOG = 30


@dataclass(frozen=True)
class LiveSettings:
    broker: BrokerUrl
    historian_url: str
    data_dir: Path
    client_id: str = "twin-live"
    snapshot_interval_s: float = 2.0
    kpi_interval_s: float = 10.0
    tick_interval_s: float = 0.5
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    fsync: bool = True


class LiveService:
    """One live-twin process. ``run()`` blocks until ``stop()`` (or a fatal journal error)."""

    def __init__(self, complex_: Complex, settings: LiveSettings):
        self.s = settings
        self.complex = complex_
        self.codec = Codec(complex_)
        self.journal = AlarmJournal(settings.data_dir, fsync=settings.fsync)
        started = now_ms()
        self.twin = LiveTwin(complex_, start_ms=started, events=self.journal.events())
        log.info(
            "alarm journal %s: %d open alarms, %d shelves, last event %d",
            self.journal.path,
            len(self.twin.book.open),
            len(self.twin.book.shelves),
            self.twin.book.seq,
        )
        self.historian = open_historian(settings.historian_url)
        self._restore_kpis(started)
        self.client = make_client(settings.broker, settings.client_id, persistent=True, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._inbox: queue.SimpleQueue[mqtt.MQTTMessage] = queue.SimpleQueue()
        self._kpi_out: queue.Queue[list[Reading] | None] = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self.fatal: BaseException | None = None
        self.stats = {"messages": 0, "readings": 0, "rejected": 0, "events": 0, "commands": 0}

    def _restore_kpis(self, now: int) -> None:
        try:
            latest = self.historian.latest(self.twin.kpi.restore_series(now))
        except (HistorianError, OSError) as exc:
            log.warning("could not read stored KPIs (%s); this shift's KPIs start now", exc)
            return
        n = self.twin.restore_kpis(latest, now)
        if n:
            log.info("continued this shift's and day's KPIs of %d machines from the historian", n)

    # ---- paho callbacks (network thread: never raise, never block) -----------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        try:
            if getattr(rc, "is_failure", False):
                log.error("broker %s refused the connection: %s", self.s.broker, rc)
                return
            log.info(
                "connected to %s as %s (session present: %s)",
                self.s.broker,
                self.s.client_id,
                getattr(flags, "session_present", None),
            )
            client.subscribe([(TELEMETRY_FILTER, 1), (COMMAND_FILTER, 1)])
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, codes: list, props: object = None) -> None:
        try:
            for code in codes:
                if getattr(code, "is_failure", False):
                    log.error("subscription refused: %s", code)
                    return
            self._subscribed.set()
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if not self._stop.is_set():
            log.warning("disconnected from %s (%s); reconnecting", self.s.broker, rc)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._inbox.put(msg)
        except Exception:
            log.exception("could not queue a message")

    # ---- the worker ------------------------------------------------------------------------

    def _take_batch(self, timeout: float) -> list[mqtt.MQTTMessage]:
        try:
            first = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[mqtt.MQTTMessage], now: int, replies: list[tuple[str, bytes]]) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        readings: list[Reading] = []
        for msg in batch:
            topic = msg._topic.decode("utf-8", "replace") if isinstance(msg._topic, bytes) else str(msg.topic)
            if topic.endswith("/telemetry"):
                d = self.codec.decode(topic, bytes(msg.payload), now)
                readings.extend(d.readings)
                self.stats["rejected"] += len(d.rejections)
                continue
            # a command: apply the readings before it first, so the order is the broker's
            if readings:
                events += self._feed(readings, now)
                readings = []
            try:
                events += self._command(topic, bytes(msg.payload), now, replies)
            except Exception:  # a bug must not turn one command into a crash loop
                log.exception("alarm command on %s failed", topic[:120])
        if readings:
            events += self._feed(readings, now)
        return events

    def _feed(self, readings: list[Reading], now: int) -> list[AlarmEvent]:
        self.stats["readings"] += len(readings)
        try:
            return self.twin.feed(readings, now)
        except Exception:  # never let one batch become a poison message that stops the twin
            log.exception("could not apply %d readings; skipping them", len(readings))
            return []

    def _command(self, topic: str, payload: bytes, now: int, replies: list[tuple[str, bytes]]) -> list[AlarmEvent]:
        self.stats["commands"] += 1
        owner = parse_command_topic(topic)
        known = owner == PARK_OWNER or owner in self.complex.factory_tenant.values()
        reply_to = reply_topic(owner if owner and known else PARK_OWNER)
        request = action = alarm = None
        try:
            if not known:
                raise CommandError("unknown_owner", "commands go to twin/v1/{tenant or park}/_alarms/command")
            cmd = parse_command(payload)
            request, action, alarm = cmd.request, cmd.action, cmd.alarm
            events = self.twin.command(cmd, now, scope=owner)
        except (CommandError, CommandRejected) as exc:
            req = getattr(exc, "request", None) or request
            log.warning("rejected alarm command on %s: %s (payload %r)", topic[:120], exc, payload[:120])
            replies.append(
                (
                    reply_to,
                    encode_reply(
                        ok=False,
                        request=req,
                        action=action,
                        alarm=alarm,
                        code=exc.code,
                        detail=exc.detail,
                    ),
                )
            )
            return []
        replies.append(
            (
                reply_to,
                encode_reply(ok=True, request=request, action=action, alarm=alarm, events=events),
            )
        )
        return events

    def _publish_events(self, events: list[AlarmEvent]) -> None:
        for e in events:
            self.client.publish(event_topic(e.alarm.owner), encode_event(e), qos=1)

    def _publish_open(self, owners: set[str], now: int) -> None:
        for owner in sorted(owners):
            doc = open_alarms_doc(owner, self.twin.open_alarms(owner), now)
            self.client.publish(open_topic(owner), orjson.dumps(doc), qos=1, retain=True)

    def _publish_snapshots(self, now: int) -> None:
        factories, summary = self.twin.snapshots(now)
        for fs in factories:
            self.client.publish(factory_state_topic(fs.tenant, fs.factory), encode_snapshot(fs), qos=1, retain=True)
        self.client.publish(complex_state_topic(), encode_snapshot(summary), qos=1, retain=True)

    def _work(self) -> None:
        s = self.s
        next_tick = next_snap = next_kpi = 0.0
        next_log = time.monotonic() + 60
        first_publish_done = False
        while not self._stop.is_set():
            batch = self._take_batch(min(s.tick_interval_s, 0.2))
            now = now_ms()
            mono = time.monotonic()
            replies: list[tuple[str, bytes]] = []
            events = self._handle(batch, now, replies) if batch else []
            if mono >= next_tick:
                events += self.twin.tick(now)
                next_tick = mono + s.tick_interval_s
            # durable first, then visible, then acknowledged
            self.journal.append(events)
            self._publish_events(events)
            dirty = self.twin.take_dirty_owners()
            if not first_publish_done and self._subscribed.is_set():
                dirty |= set(self.twin.owners())  # overwrite whatever an earlier run left retained
            if dirty:
                self._publish_open(dirty, now)
            # replies last: a console that gets its reply already has the updated open list
            for topic, payload in replies:
                self.client.publish(topic, payload, qos=1)
            for msg in batch:
                if msg.qos > 0:
                    self.client.ack(msg.mid, msg.qos)
            self.stats["messages"] += len(batch)
            self.stats["events"] += len(events)
            if self._subscribed.is_set() and (mono >= next_snap or not first_publish_done):
                self._publish_snapshots(now)
                next_snap = mono + s.snapshot_interval_s
                first_publish_done = True
            if mono >= next_kpi:
                next_kpi = mono + s.kpi_interval_s
                self._queue_kpis(self.twin.kpi_readings(now))
            if mono >= next_log:
                next_log = mono + 60
                log.info(
                    "live: %s, open alarms %d, old readings ignored %d",
                    self.stats,
                    len(self.twin.book.open),
                    self.twin.ignored_old,
                )

    def _queue_kpis(self, readings: list[Reading]) -> None:
        if not readings:
            return
        if self._kpi_out.qsize() >= MAX_KPI_BACKLOG:
            try:
                self._kpi_out.get_nowait()
                log.warning("historian is behind: dropped the oldest batch of KPI values")
            except queue.Empty:
                pass
        self._kpi_out.put(readings)

    def _kpi_writer(self) -> None:
        while True:
            batch = self._kpi_out.get()
            if batch is None:
                return
            delay = 1.0
            while True:
                try:
                    self.historian.store(batch)
                    break
                except HistorianError as exc:
                    if self._stop.is_set():
                        log.warning("stopping: %d KPI values not stored (%s)", len(batch), exc)
                        break
                    if not isinstance(exc, HistorianUnavailable):
                        log.error("historian refused KPI values, dropping %d: %s", len(batch), exc)
                        break
                    log.warning("historian unavailable (%s); retrying KPI write in %.0f s", exc, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
                except Exception:
                    log.exception("KPI write failed; dropping %d values", len(batch))
                    break

    # ---- lifecycle ------------------------------------------------------------------------------

    def run(self) -> None:
        writer = threading.Thread(target=self._kpi_writer, name="live-kpi-writer", daemon=True)
        writer.start()
        connect(
            self.client,
            self.s.broker,
            persistent=True,
            session_expiry_s=self.s.session_expiry_s,
            receive_maximum=RECEIVE_MAXIMUM,
        )
        self.client.loop_start()
        log.info(
            "live twin %s: %s -> state, alarms; KPIs -> %s; journal %s",
            self.s.client_id,
            self.s.broker,
            redact(self.s.historian_url),
            self.journal.path,
        )
        try:
            self._work()
        except (JournalError, TwinError) as exc:
            # without a journal no alarm may be published: stop, unacknowledged messages come back
            self.fatal = exc
            log.critical("stopping the live twin: %s", exc)
        finally:
            self._stop.set()
            if self.fatal is None:
                self._queue_kpis(self.twin.kpi_readings(now_ms()))
            self._kpi_out.put(None)
            writer.join(timeout=30)
            time.sleep(0.2)  # let queued PUBACKs and publishes go out before DISCONNECT
            self.client.disconnect()
            self.client.loop_stop()
            self.journal.close()
            self.historian.close()

    def stop(self) -> None:
        self._stop.set()
