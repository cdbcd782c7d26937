"""InfluxDB historian (1.x through the v1 API, 2.x / Cloud through influxdb-client).

Data model, the same in every version:

- ``reading,sensor=<id> value=<float> <ms>`` - raw readings (1.x RP ``twin_raw``,
  2.x bucket ``BUCKET``). InfluxDB overwrites a point with the same series and time,
  so rewriting a reading is a no-op and a changed value wins.
- ``reading_1m`` / ``reading_1h`` with fields ``n`` (integer), ``total``, ``min``,
  ``max``, ``last`` at the window start (RPs ``twin_1m`` / ``twin_1h``, buckets
  ``BUCKET_1m`` / ``BUCKET_1h``). The historian writes them itself with each batch, so
  rollups work the same on 1.x, 2.x and 3.x and never depend on continuous queries
  or tasks. It computes them from the newest windows of each sensor held in memory
  (:mod:`twin.historian.open_windows`) and reads back from the server only for
  windows it does not hold (late data, a restart): reading freshly written,
  uncompacted data back is slow on InfluxDB. With several writers on the same
  sensors, each window a writer touched is recomputed from the server's raw readings
  ``settle`` seconds later (URL option, default 60 s), which repairs any window two
  writers raced on.
- ``dead_letter,reason=<reason> topic=..,payload=<base64>,detail=..,sensor=..`` at
  nanosecond time ``received_ms * 10**6 + (digest mod 10**6)``: identical dead letters
  land on the same point (stored once), different ones in the same millisecond do
  not collide (except with a ~1e-6 chance per pair with the same reason).

Queries are InfluxQL over ``/query``, which InfluxDB 1.x, 2.x (virtual DBRP mapping per
bucket) and 3.x all serve; Flux would tie us to 2.x. See docs/historian.md.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from twin.codec import Reading
from twin.errors import HistorianError
from twin.historian.base import DeadLetter, prepare_rows
from twin.historian.influx_transport import InfluxTransport, make_transport
from twin.historian.influx_url import InfluxSettings
from twin.historian.influxql import any_of, duration, quote_ident, quote_string, time_range
from twin.historian.lineprotocol import (
    decode_text,
    encode_text,
    escape_tag,
    format_float,
    quote_field_string,
)
from twin.historian.open_windows import OpenWindows
from twin.historian.rollup_base import RollupHistorian
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW, Partial
from twin.timespec import now_ms

__all__ = ["InfluxHistorian", "MEASUREMENTS", "DEAD_LETTER_MEASUREMENT"]

log = logging.getLogger(__name__)

MEASUREMENTS = {RAW: "reading", MINUTE_MS: "reading_1m", HOUR_MS: "reading_1h"}
DEAD_LETTER_MEASUREMENT = "dead_letter"
SENSOR_TAG = "sensor"
#: Sensors per InfluxQL query (an OR of exact tag matches).
SENSORS_PER_QUERY = 100

# Aggregates per level: raw readings have one field, rollups carry partial aggregates.
_AGGREGATES = {
    RAW: 'count("value"), sum("value"), min("value"), max("value"), last("value")',
    MINUTE_MS: 'sum("n"), sum("total"), min("min"), max("max"), last("last")',
    HOUR_MS: 'sum("n"), sum("total"), min("min"), max("max"), last("last")',
}


def _sensor_is(sensors: Iterable[str]) -> str:
    """The InfluxQL condition "sensor is one of these" (tag values as stored)."""
    return any_of(SENSOR_TAG, [encode_text(s) for s in sensors])


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class InfluxHistorian(RollupHistorian):
    """Readings, rollups and dead letters in InfluxDB."""

    def __init__(
        self,
        settings: InfluxSettings,
        readonly: bool = False,
        clock: Callable[[], int] = now_ms,
        transport: InfluxTransport | None = None,
    ):
        super().__init__(settings.retention, clock)
        self.settings = settings
        self.readonly = readonly
        self._t = transport or make_transport(settings)
        self._lock = threading.RLock()  # one batch at a time: the open windows are shared state
        self._windows = OpenWindows()
        self._pending: dict[str, set[int]] = {}  # minute windows to settle later
        self._pending_since: float | None = None
        # Created on the first write, not here: an ingest that starts while InfluxDB
        # is down must come up and spool, not crash.
        self._schema_ready = readonly or not settings.manage

    def ensure_schema(self) -> None:
        """Create the database and retention policies (1.x) or buckets (2.x) if missing."""
        if not self._schema_ready:
            self._t.ensure_schema(self.settings.retention)
            self._schema_ready = True

    def __repr__(self) -> str:
        return f"InfluxHistorian({self.settings})"

    def _query(self, level: int, q: str, epoch: str = "ms", what: str = "query") -> list:
        self.ensure_schema()  # a writable historian creates what it reads from, too
        return self._t.query(level, q, epoch=epoch, what=what)

    def _src(self, level: int, measurement: str | None = None) -> str:
        return self._t.source(level, measurement or MEASUREMENTS[level])

    # ---- writing -------------------------------------------------------------

    def store(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        if self.readonly:
            raise HistorianError(f"{self.settings} is open read-only")
        horizon = self.horizon(RAW)
        rows, dropped = prepare_rows(readings, horizon)
        if dropped:
            log.warning(
                "%d reading(s) older than the raw retention horizon %s were not stored",
                dropped,
                horizon,
            )
        letters = [d.capped() for d in dead_letters]
        for d in letters:
            if not d.reason:
                raise HistorianError(f"dead letter from {d.topic[:80]!r} has an empty reason")
        self.ensure_schema()
        if rows:
            with self._lock:
                self._store_rows(rows)
        if letters:
            self._t.write(RAW, [self._dead_letter_line(d) for d in letters], precision="ns")
        self.settle()

    @staticmethod
    def _dead_letter_line(d: DeadLetter) -> str:
        ns = d.received_ms * 1_000_000 + int.from_bytes(d.digest()[:8], "big") % 1_000_000
        fields = [
            f"topic={quote_field_string(d.topic)}",
            f"payload={quote_field_string(base64.b64encode(d.payload).decode('ascii'))}",
            f"detail={quote_field_string(d.detail)}",
        ]
        if d.sensor_id is not None:
            fields.append(f"sensor={quote_field_string(d.sensor_id)}")
        return f"{DEAD_LETTER_MEASUREMENT},reason={escape_tag(d.reason)} {','.join(fields)} {ns}"

    def _store_rows(self, rows: dict[tuple[str, int], float]) -> None:
        w = self._windows
        unknown = w.unknown(dict.fromkeys(s for s, _ in rows))
        if unknown:
            w.newest.update(self._newest(unknown))
        needs = w.needs(rows)
        if needs:
            self._load(needs)
        applied = w.apply(rows)
        raw = MEASUREMENTS[RAW]
        try:
            self._t.write(
                RAW,
                [f"{raw},{SENSOR_TAG}={escape_tag(s)} value={format_float(v)} {ts}" for (s, ts), v in rows.items()],
            )
            self._t.write(MINUTE_MS, self._rollup_lines(MINUTE_MS, applied.minutes))
            self._t.write(HOUR_MS, self._rollup_lines(HOUR_MS, applied.hours))
        except BaseException:
            w.undo(applied)  # the batch will come again (the ingest spools it)
            raise
        w.evict()
        if self.settings.settle_s is not None:
            for s, p in applied.minutes:
                self._pending.setdefault(s, set()).add(p.start_ms)
            if self._pending_since is None:
                self._pending_since = time.monotonic()

    @staticmethod
    def _rollup_lines(level: int, windows: list[tuple[str, Partial]]) -> list[str]:
        measurement = MEASUREMENTS[level]
        return [
            f"{measurement},{SENSOR_TAG}={escape_tag(s)} n={p.count}i,"
            f"total={format_float(p.total)},min={format_float(p.min)},max={format_float(p.max)},last={format_float(p.last)}"
            f" {p.start_ms}"
            for s, p in windows
        ]

    def _newest(self, sensors: list[str]) -> dict[str, int | None]:
        """Newest stored time of each sensor (None when it has nothing stored)."""
        out: dict[str, int | None] = dict.fromkeys(sensors)
        since = self._raw_since(None)
        for chunk in _chunks(sensors, SENSORS_PER_QUERY):
            q = f'SELECT last("value") FROM {self._src(RAW)} WHERE {_sensor_is(chunk)}'
            if since is not None:
                q += f" AND {time_range(since)}"
            q += f" GROUP BY {quote_ident(SENSOR_TAG)}"
            for result in self._query(RAW, q, what="newest-time query"):
                for series in result:
                    out[decode_text(series.tags.get(SENSOR_TAG, ""))] = int(series.values[-1][0])
        return out

    def _load(self, needs) -> None:
        """Read the stored contents of windows the batch touches but memory does not hold."""
        by_minute: dict[int, list[str]] = {}
        for s, minutes in needs.minutes.items():
            for m in minutes:
                by_minute.setdefault(m, []).append(s)
        for m, sensors in sorted(by_minute.items()):
            found: dict[str, list[tuple[int, float]]] = {s: [] for s in sensors}
            for chunk in _chunks(sensors, SENSORS_PER_QUERY):
                q = (
                    f'SELECT "value" FROM {self._src(RAW)} WHERE {_sensor_is(chunk)}'
                    f" AND {time_range(m, m + MINUTE_MS)} GROUP BY {quote_ident(SENSOR_TAG)}"
                )
                for result in self._query(RAW, q, what="window load"):
                    for series in result:
                        sid = decode_text(series.tags.get(SENSOR_TAG, ""))
                        found[sid] = [(int(t), float(v)) for t, v in series.values]
            for s, points in found.items():
                self._windows.load_minute(s, m, points)
        by_hour: dict[int, list[str]] = {}
        for s, hours in needs.hours.items():
            for h in hours:
                by_hour.setdefault(h, []).append(s)
        for h, sensors in sorted(by_hour.items()):
            parts: dict[str, list[Partial]] = {s: [] for s in sensors}
            for chunk in _chunks(sensors, SENSORS_PER_QUERY):
                q = (
                    f'SELECT "n", "total", "min", "max", "last" FROM {self._src(MINUTE_MS)}'
                    f" WHERE {_sensor_is(chunk)} AND {time_range(h, h + HOUR_MS)}"
                    f" GROUP BY {quote_ident(SENSOR_TAG)}"
                )
                for result in self._query(MINUTE_MS, q, what="window load"):
                    for series in result:
                        sid = decode_text(series.tags.get(SENSOR_TAG, ""))
                        parts[sid] = [
                            Partial(int(t), int(n), float(total), float(lo), float(hi), float(last))
                            for t, n, total, lo, hi, last in series.values
                        ]
            for s, partials in parts.items():
                self._windows.load_hour(s, h, partials)

    def _refresh_rollups(self, touched: dict[str, set[int]]) -> None:
        """Recompute 1-minute windows from the server's raw readings, then their hours."""
        hours = {s: {m - m % HOUR_MS for m in minutes} for s, minutes in touched.items()}
        for level, wanted in ((MINUTE_MS, touched), (HOUR_MS, hours)):
            below = RAW if level == MINUTE_MS else MINUTE_MS
            windows: list[tuple[str, Partial]] = []
            for sensors in _chunks(sorted(wanted), SENSORS_PER_QUERY):
                since = min(min(wanted[s]) for s in sensors)
                until = max(max(wanted[s]) for s in sensors) + level
                for sensor, parts in self._query_partials(below, sensors, since, until, level).items():
                    windows += [(sensor, p) for p in parts if p.start_ms in wanted[sensor]]
            self._t.write(level, self._rollup_lines(level, windows))

    def settle(self, force: bool = False) -> None:
        """Recompute the windows this writer touched since the last pass, once they are due."""
        with self._lock:
            due = self._pending_since is not None and (
                force or time.monotonic() - self._pending_since >= (self.settings.settle_s or 0.0)
            )
            if not due:
                return
            pending, self._pending, self._pending_since = self._pending, {}, None
            try:
                self._refresh_rollups(pending)
            except HistorianError as exc:  # the batches themselves are stored; try again later
                log.warning("re-settling rollups failed, will retry: %s", exc)
                for s, minutes in pending.items():
                    self._pending.setdefault(s, set()).update(minutes)
                self._pending_since = time.monotonic()
                return
            self._windows.forget(pending)  # another writer may have added to them: reload on next touch

    # ---- retention -----------------------------------------------------------

    def _delete_before(self, cutoffs: dict[int, int]) -> dict[str, int]:
        # InfluxDB drops expired shards itself (retention policies / bucket retention);
        # this deletes explicitly, e.g. after retention was shortened.
        if self.readonly:
            return {}
        self.ensure_schema()
        for level, cut in cutoffs.items():
            self._t.delete_before(level, MEASUREMENTS[level], cut)
            if level == RAW:
                self._t.delete_before(RAW, DEAD_LETTER_MEASUREMENT, cut)
        return {}

    # ---- reading -------------------------------------------------------------

    def _raw_since(self, since_ms: int | None) -> int | None:
        h = self.horizon(RAW)
        if h is None:
            return since_ms
        return h if since_ms is None else max(since_ms, h)

    def _query_partials(
        self, level: int, sensors: list[str], since_ms: int, until_ms: int, every_ms: int
    ) -> dict[str, list[Partial]]:
        q = (
            f"SELECT {_AGGREGATES[level]} FROM {self._src(level)}"
            f" WHERE {_sensor_is(sensors)} AND {time_range(since_ms, until_ms)}"
            f" GROUP BY time({duration(every_ms)}), {quote_ident(SENSOR_TAG)} fill(none)"
        )
        out: dict[str, list[Partial]] = {}
        for result in self._query(level, q, what="window query"):
            for series in result:
                sensor = decode_text(series.tags.get(SENSOR_TAG, ""))
                out[sensor] = [
                    Partial(int(t), int(n), float(total), float(lo), float(hi), float(last))
                    for t, n, total, lo, hi, last in series.values
                    if n
                ]
        return out

    def _partials(
        self, level_ms: int, sensor_ids: list[str], since_ms: int, until_ms: int, every_ms: int
    ) -> dict[str, list[Partial]]:
        out: dict[str, list[Partial]] = {}
        for sensors in _chunks(sensor_ids, SENSORS_PER_QUERY):
            out.update(self._query_partials(level_ms, sensors, since_ms, until_ms, every_ms))
        return out

    def query(self, sensor_ids: Sequence[str], since_ms: int, until_ms: int) -> list[Reading]:
        ids = list(dict.fromkeys(sensor_ids))
        since = self._raw_since(since_ms)
        if not ids or since is None or since >= until_ms:
            return []
        found: dict[str, list[Reading]] = {}
        for sensors in _chunks(ids, SENSORS_PER_QUERY):
            q = (
                f'SELECT "value" FROM {self._src(RAW)}'
                f" WHERE {_sensor_is(sensors)} AND {time_range(since, until_ms)}"
                f" GROUP BY {quote_ident(SENSOR_TAG)}"
            )
            for result in self._query(RAW, q, what="raw query"):
                for series in result:
                    sid = decode_text(series.tags.get(SENSOR_TAG, ""))
                    found[sid] = [Reading(sid, int(t), float(v)) for t, v in series.values]
        return [r for sid in ids for r in found.get(sid, [])]

    def latest(self, sensor_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        since = self._raw_since(None)
        conds = [] if since is None else [time_range(since)]
        groups: list[list[str] | None]
        if sensor_ids is None:
            groups = [None]
        else:
            ids = list(dict.fromkeys(sensor_ids))
            if not ids:
                return {}
            groups = list(_chunks(ids, SENSORS_PER_QUERY))
        out: dict[str, Reading] = {}
        for sensors in groups:
            where = conds + ([_sensor_is(sensors)] if sensors else [])
            q = f'SELECT last("value") FROM {self._src(RAW)}'
            if where:
                q += " WHERE " + " AND ".join(where)
            q += f" GROUP BY {quote_ident(SENSOR_TAG)}"
            for result in self._query(RAW, q, what="latest query"):
                for series in result:
                    sid = decode_text(series.tags.get(SENSOR_TAG, ""))
                    t, v = series.values[-1][:2]
                    out[sid] = Reading(sid, int(t), float(v))
        return out

    def counts(self) -> dict[str, int]:
        since = self._raw_since(None)
        q = f'SELECT count("value") FROM {self._src(RAW)}'
        if since is not None:
            q += f" WHERE {time_range(since)}"
        q += f" GROUP BY {quote_ident(SENSOR_TAG)}"
        out: dict[str, int] = {}
        for result in self._query(RAW, q, what="count query"):
            for series in result:
                n = int(series.values[0][1]) if series.values else 0
                if n:
                    out[decode_text(series.tags.get(SENSOR_TAG, ""))] = n
        return out

    def dead_letters(
        self, since_ms: int | None = None, reason: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        limit = max(0, int(limit))
        if limit == 0:
            return []
        since = self._raw_since(since_ms)
        where = [] if since is None else [f"time >= {int(since) * 1_000_000}"]
        if reason is not None:
            if not reason:
                return []
            where.append(f'"reason" = {quote_string(encode_text(reason))}')
        fields = '"topic", "payload", "detail", "sensor", "reason"'
        q = f"SELECT {fields} FROM {self._src(RAW, DEAD_LETTER_MEASUREMENT)}"
        if where:
            q += " WHERE " + " AND ".join(where)
        q += f" ORDER BY time DESC LIMIT {limit}"
        out: list[DeadLetter] = []
        for result in self._query(RAW, q, epoch="ns", what="dead-letter query"):
            for series in result:
                for t, topic, payload, detail, sensor, why in series.values:
                    out.append(
                        DeadLetter(
                            int(t) // 1_000_000,
                            decode_text(topic or ""),
                            base64.b64decode(payload or ""),
                            decode_text(why or ""),
                            decode_text(detail or ""),
                            decode_text(sensor) if sensor is not None else None,
                        )
                    )
        return out

    def dead_letter_counts(self) -> dict[str, int]:
        since = self._raw_since(None)
        q = f'SELECT count("topic") FROM {self._src(RAW, DEAD_LETTER_MEASUREMENT)}'
        if since is not None:
            q += f" WHERE {time_range(since)}"
        q += ' GROUP BY "reason"'
        out: dict[str, int] = {}
        for result in self._query(RAW, q, what="dead-letter count query"):
            for series in result:
                n = int(series.values[0][1]) if series.values else 0
                if n:
                    out[decode_text(series.tags.get("reason", ""))] = n
        return out

    def close(self) -> None:
        try:
            if not self.readonly:
                self.settle(force=True)
        finally:
            self._t.close()
