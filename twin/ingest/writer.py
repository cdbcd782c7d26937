"""The ingest's batching writer: decode, store (or spool), then acknowledge.

A message is acknowledged only after every reading and dead letter it produced
is durable in the historian or in the on-disk spool. When neither can take a
batch (historian down and spool full) the writer keeps retrying and does not
acknowledge: the broker stops sending (receive maximum) and holds the backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from twin.codec import Codec, Reading
from twin.errors import HistorianError, HistorianUnavailable
from twin.historian.base import DeadLetter, Historian
from twin.ingest.metrics import IngestMetrics
from twin.ingest.spool import Spool, SpoolFull

__all__ = ["Inbound", "BatchWriter", "WriterSettings"]

log = logging.getLogger(__name__)

#: Readings per historian write when the spool is written back.
DRAIN_CHUNK = 5000
#: Dead-letter reason of a message whose readings the historian refuses for good.
HISTORIAN_REFUSED = "historian_refused"


class _Refused(Exception):
    """The historian refused a write for a reason that retrying will not fix."""

    def __init__(self, cause: HistorianError):
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received MQTT message, waiting to be stored and acknowledged."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_ms: int


@dataclass(frozen=True, slots=True)
class WriterSettings:
    #: Messages stored (and acknowledged) together at most.
    max_batch_messages: int = 2000
    #: Bytes of payload held in memory before ``submit`` blocks (bounded memory).
    max_queued_bytes: int = 64 * 1024 * 1024
    #: First retry delay after the historian failed; doubles up to ``max_retry_s``.
    retry_s: float = 0.5
    max_retry_s: float = 10.0


class BatchWriter:
    """Consumes :class:`Inbound` messages on its own thread."""

    def __init__(
        self,
        codec: Codec,
        historian: Historian,
        spool: Spool,
        ack: Callable[[int, int], None],
        metrics: IngestMetrics,
        settings: WriterSettings | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        ack_many: Callable[[list[int]], None] | None = None,
    ):
        """``ack(mid, qos)`` acknowledges one message; ``ack_many(mids)``, if given, the QoS 1
        messages of a whole batch at once (used instead of ``ack``)."""
        self.codec = codec
        self.historian = historian
        self.spool = spool
        self.ack = ack
        self.ack_many = ack_many
        self.metrics = metrics
        self.s = settings or WriterSettings()
        self.clock_ms = clock_ms
        self._queue: deque[Inbound] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._retry_at = 0.0
        self._retry_delay = self.s.retry_s
        self.historian_down_since: float | None = None
        metrics.spool_bytes.set(spool.bytes)

    # ---- called from the MQTT network thread ----------------------------------

    def submit(self, msg: Inbound) -> None:
        """Queue a message. Blocks only if payload bytes exceed the memory bound."""
        with self._cond:
            while self._queued_bytes > self.s.max_queued_bytes and not self._stopping:
                self._cond.wait(0.5)
            self._queue.append(msg)
            self._queued_bytes += len(msg.payload)
            if len(self._queue) == 1:
                self._cond.notify_all()

    def submit_many(self, msgs: list[Inbound]) -> None:
        """Queue several messages under one lock (same memory bound as :meth:`submit`)."""
        with self._cond:
            while self._queued_bytes > self.s.max_queued_bytes and not self._stopping:
                self._cond.wait(0.5)
            was_empty = not self._queue
            self._queue.extend(msgs)
            self._queued_bytes += sum([len(m.payload) for m in msgs])
            if was_empty:
                self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ---- the writer thread ------------------------------------------------------

    def run(self) -> None:
        """Loop until :meth:`stop`; then store and acknowledge what is queued."""
        while True:
            batch = self._take()
            if batch:
                try:
                    self._handle(batch)
                except Exception as exc:  # a bug must not stop the writer, nor lose the messages
                    log.exception("could not process a batch of %d message(s)", len(batch))
                    self._quarantine(batch, exc)
            elif self._stopping:
                break
            try:
                self._drain_spool()
            except Exception:  # a bug must not stop the writer; the segment stays for the next try
                log.exception("could not write back the spool")
                self._retry_at = time.monotonic() + self.s.max_retry_s
        log.info("writer stopped; %d message(s) left unacknowledged", len(self._queue))

    def _take(self) -> list[Inbound]:
        """Group commit: take everything queued (up to a batch) as soon as there is any.

        Under load, messages pile up while the previous batch is being written, so
        batches grow by themselves; at low rates each message is stored at once.
        Waiting for a batch to fill would instead stall on the broker's in-flight
        window (Mosquitto sends at most ``max_inflight_messages`` unacknowledged).
        """
        with self._cond:
            while not self._queue:
                if self._stopping or (self.spool and time.monotonic() >= self._retry_at):
                    return []  # stop, or go and drain the spool
                self._cond.wait(0.2)
            take = min(len(self._queue), self.s.max_batch_messages)
            batch = [self._queue.popleft() for _ in range(take)]
            self._queued_bytes -= sum(len(m.payload) for m in batch)
            self._cond.notify_all()
            return batch

    def _handle(self, batch: list[Inbound]) -> None:
        now = self.clock_ms()
        readings: list[Reading] = []
        letters: list[DeadLetter] = []
        spans: list[tuple[int, int]] = []  # per message: where its readings and letters end
        decode = self.codec.decode
        rejected = self.metrics.rejected
        for m in batch:
            out = decode(m.topic, m.payload, now)
            readings.extend(out.readings)
            for rej in out.rejections:
                rejected.labels(rej.reason.value).inc()
                detail = rej.detail if rej.index is None else f"reading {rej.index}: {rej.detail}"
                letters.append(
                    DeadLetter.make(m.received_ms, m.topic, m.payload, rej.reason.value, detail, rej.sensor_id)
                )
            spans.append((len(readings), len(letters)))
        self.metrics.received.inc(len(batch))
        try:
            if not self._persist(readings, letters):
                return  # stopping while nothing could take the batch: the broker redelivers
        except _Refused as exc:
            log.warning("the historian refused a batch of %d message(s) (%s); finding the message(s) it refuses",
                        len(batch), exc)
            self._isolate(batch, readings, letters, spans)
            return
        self._ack(batch)
        self._observe_lag(readings)

    def _observe_lag(self, readings: list[Reading]) -> None:
        if readings:
            lag = self.metrics.lag_seconds
            stored_ms = self.clock_ms()
            # one observation per batch keeps the hot path cheap: the newest reading's lag
            lag.observe(max(0.0, (stored_ms - max(r.ts_ms for r in readings)) / 1000))

    def _isolate(
        self, batch: list[Inbound], readings: list[Reading], letters: list[DeadLetter], spans: list[tuple[int, int]]
    ) -> None:
        """Store a refused batch in halves until the refused messages are alone; those become dead letters.

        Good messages beside a bad one are stored and acknowledged as usual (log2 of the batch
        size extra writes per refused message); a message refused on its own is kept whole
        (payload, topic, the historian's reason) as a ``historian_refused`` dead letter.
        """
        starts = [(0, 0), *spans[:-1]]
        stack = [(0, len(batch))]
        while stack:
            lo, hi = stack.pop()
            r0, l0 = starts[lo]
            r1, l1 = spans[hi - 1]
            try:
                ok = self._persist(readings[r0:r1], letters[l0:l1])
            except _Refused as exc:
                if hi - lo > 1:
                    mid = (lo + hi) // 2
                    stack += [(mid, hi), (lo, mid)]  # first half first: keeps acknowledgement order
                    continue
                m = batch[lo]
                log.error("the historian refuses a message on %s for good: %s; kept as a dead letter",
                          m.topic[:200], exc)
                self.metrics.rejected.labels(HISTORIAN_REFUSED).inc()
                refused = DeadLetter.make(m.received_ms, m.topic, m.payload, HISTORIAN_REFUSED, str(exc))
                try:
                    ok = self._persist([], [refused])
                except _Refused:
                    log.exception("the historian refuses even the dead letter; the broker will redeliver it")
                    ok = False
            if not ok:
                return  # stopping (or nothing takes it): unacknowledged, so the broker redelivers the rest
            self._ack(batch[lo:hi])
            self._observe_lag(readings[r0:r1])

    def _ack(self, batch: list[Inbound]) -> None:
        if self.ack_many is not None:
            self.ack_many([m.mid for m in batch if m.qos == 1])
        else:
            for m in batch:
                self.ack(m.mid, m.qos)

    def _quarantine(self, batch: list[Inbound], exc: Exception) -> None:
        """Keep messages that broke processing as dead letters, then acknowledge them."""
        letters = [
            DeadLetter.make(m.received_ms, m.topic, m.payload, "ingest_error", f"{type(exc).__name__}: {exc}")
            for m in batch
        ]
        try:
            if self._persist([], letters):
                self._ack(batch)
        except Exception:
            log.exception("could not keep %d message(s) as dead letters; the broker will redeliver them", len(batch))

    def _store(self, readings: list[Reading], letters: list[DeadLetter]) -> bool:
        """Try the historian once; False (and a scheduled retry) if it is unavailable.

        Raises :class:`_Refused` when it refuses the data for good (retrying would not help,
        and spooling it would only block the spool behind it).
        """
        t0 = time.perf_counter()
        try:
            self.historian.store(readings, letters)
        except HistorianUnavailable as exc:  # keep the data, try later
            if self.historian_down_since is None:
                self.historian_down_since = time.monotonic()
                log.warning("historian write failed, spooling: %s", exc)
            self.metrics.historian_up.set(0)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self.s.max_retry_s)
            return False
        except HistorianError as exc:  # reachable, but this data will never be accepted
            raise _Refused(exc) from exc
        self.metrics.write_seconds.observe(time.perf_counter() - t0)
        self.metrics.stored.inc(len(readings))
        if self.historian_down_since is not None:
            log.info("historian is back after %.1f s", time.monotonic() - self.historian_down_since)
        self.historian_down_since = None
        self.metrics.historian_up.set(1)
        self._retry_delay = self.s.retry_s
        return True

    def _historian_due(self) -> bool:
        return self.historian_down_since is None or time.monotonic() >= self._retry_at

    def _persist(self, readings: list[Reading], letters: list[DeadLetter]) -> bool:
        """Make a batch durable somewhere. False only if stopping before anything took it.

        Raises :class:`_Refused` if the historian refuses the batch for good.
        """
        if not readings and not letters:
            return True
        if self._historian_due() and self._store(readings, letters):
            return True
        try:
            self.spool.append(readings, letters)
        except SpoolFull:
            log.warning("spool full (%d bytes): holding acknowledgements until the historian is back", self.spool.bytes)
        else:
            self.metrics.spooled.inc(len(readings))
            self.metrics.spool_bytes.set(self.spool.bytes)
            return True
        while not self._stopping:  # back-pressure: nothing acknowledged until stored
            time.sleep(max(0.0, self._retry_at - time.monotonic()))
            if self._store(readings, letters):
                return True
        return False

    def _store_each(self, readings: list[Reading], letters: list[DeadLetter]) -> bool:
        """Store one by one; what the historian refuses for good becomes a ``historian_refused`` dead letter.

        Spooled records have lost their MQTT message, so a refused reading is kept as a dead
        letter holding the reading itself as JSON. False if the historian became unavailable.
        """
        for reading in readings:
            try:
                if not self._store([reading], []):
                    return False
            except _Refused as exc:
                self.metrics.rejected.labels(HISTORIAN_REFUSED).inc()
                try:
                    body = orjson.dumps({"sensor": reading.sensor_id, "ts": reading.ts_ms, "value": reading.value},
                                        default=repr)
                except (TypeError, orjson.JSONEncodeError):  # e.g. a lone surrogate in the id
                    body = repr(tuple(reading)).encode("utf-8", "backslashreplace")
                letter = DeadLetter.make(self.clock_ms(), "(spool)", body, HISTORIAN_REFUSED, str(exc))
                try:
                    if not self._store([], [letter]):
                        return False
                except _Refused:
                    log.exception("the historian refuses a dead letter too; dropping spooled reading %r", reading)
        for letter in letters:
            try:
                if not self._store([], [letter]):
                    return False
            except _Refused:
                log.exception("the historian refuses a spooled dead letter from %s", letter.topic[:200])
        return True

    def _drain_spool(self) -> None:
        """Write back one spooled segment, oldest first, when the historian is due."""
        if not self.spool or not self._historian_due():
            return
        got = self.spool.oldest()
        if got is None:
            return
        path, records = got
        # Spooled batches are often tiny (one per message while the historian was down):
        # write them back in chunks, oldest first.
        readings: list[Reading] = []
        letters: list[DeadLetter] = []
        for i, (r, d) in enumerate(records):
            readings.extend(r)
            letters.extend(d)
            if len(readings) + len(letters) >= DRAIN_CHUNK or i == len(records) - 1:
                try:
                    if not self._store(readings, letters):
                        return  # retried later; rewrites of stored records are no-ops
                except _Refused as exc:
                    log.warning("the historian refuses spooled data (%s); storing it record by record", exc)
                    if not self._store_each(readings, letters):
                        return
                readings, letters = [], []
        self.spool.remove(path)
        self.metrics.spool_bytes.set(self.spool.bytes)
        log.info("spool segment %s written back (%d batch(es))", path.name, len(records))
