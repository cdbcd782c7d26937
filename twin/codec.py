"""Telemetry payload codec: one module for the sensor side and the ingest side.

Pure: no I/O. A payload is either one reading::

    {"sensor": "alpha-smt-power", "ts": 1764208200000, "value": 7.9}

or a batch of readings from one device::

    {"readings": [{"sensor": "...", "ts": ..., "value": ...}, ...]}

``ts`` is UTC, as integer epoch milliseconds or an RFC 3339 string with an
offset (``2026-11-27T01:50:00.250Z``). Values are numbers in the unit the
config gives the sensor; an optional ``unit`` key must match it.
Every rejected reading or payload carries a machine-readable :class:`Reason`;
a bad reading in a batch never costs the good readings beside it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from twin.model import Complex
from twin.topics import parse_telemetry_topic, telemetry_topic

__all__ = [
    "Reason",
    "Reading",
    "Rejection",
    "Decoded",
    "Limits",
    "Codec",
    "encode_reading",
    "encode_batch",
    "topic_for",
]


class Reason(StrEnum):
    """Why a payload or a reading was rejected (stable, machine-readable)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_JSON = "malformed_json"
    BAD_TOPIC = "bad_topic"
    BAD_SCHEMA = "bad_schema"
    BATCH_TOO_LARGE = "batch_too_large"
    UNKNOWN_SENSOR = "unknown_sensor"
    TOPIC_MISMATCH = "topic_mismatch"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    TS_FUTURE = "ts_future"
    TS_PAST = "ts_past"
    UNIT_MISMATCH = "unit_mismatch"


class Reading(NamedTuple):
    """One stored value; (sensor_id, ts_ms) identifies it.

    A named tuple, not a dataclass: the ingest builds hundreds of thousands per second
    and a tuple is built in about half the time of a frozen dataclass.
    """

    sensor_id: str
    ts_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str
    sensor_id: str | None = None
    index: int | None = None


@dataclass(slots=True)
class Decoded:
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds every payload must respect (named tunables, documented in docs/protocol.md)."""

    max_payload_bytes: int = 256 * 1024
    max_batch: int = 10_000
    max_future_s: float = 300.0
    max_past_s: float = 30 * 86_400.0


_MISSING = object()


#: Integers up to this size convert to float exactly (2**53).
_INT_EXACT = 2**53


def _storable(text: str) -> str:
    """Text that encodes as UTF-8 (the stdlib parser lets lone surrogates through)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _short(n: int) -> str:
    """An integer for a message, bounded in length (payloads may carry huge ones)."""
    text = str(n)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _ts_to_ms(ts: Any) -> int | str:
    """Epoch ms, or an error text."""
    if isinstance(ts, bool):
        return "timestamp must be epoch milliseconds or an RFC 3339 string, got a boolean"
    if isinstance(ts, int):
        return ts
    if isinstance(ts, float):
        if not math.isfinite(ts):
            return "timestamp is not finite"
        return int(ts)
    if isinstance(ts, str):
        if len(ts) > 40:
            return "timestamp string too long"
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            return f"timestamp {ts!r} is not RFC 3339"
        if dt.tzinfo is None:
            return f"timestamp {ts!r} has no UTC offset"
        return int(dt.timestamp() * 1000)
    return f"timestamp must be epoch milliseconds or an RFC 3339 string, got {type(ts).__name__}"


class Codec:
    """Decodes telemetry for one complex; build once, call :meth:`decode` per message."""

    #: Plain valid readings take a short path (:meth:`_readings`); False sends all through :meth:`_one`.
    _fast = True

    def __init__(self, complex_: Complex, limits: Limits | None = None):
        self.limits = limits or Limits()
        # sensor id -> (owner, device, low, high, unit): everything the hot path needs
        self._sensors = {
            sid: (i.owner, i.device, i.sensor.range[0], i.sensor.range[1], i.sensor.unit)
            for sid, i in complex_.sensors.items()
        }
        self._devices = set(complex_.devices)
        # The fast path: one canonical (owner, device) tuple per device, so that a sensor's
        # device is checked by identity; sensor id -> (device tuple, low, high).
        canon = {d: d for d in complex_.devices}
        self._canon = canon
        self._fast_meta = {
            sid: (canon[(i.owner, i.device)], i.sensor.range[0], i.sensor.range[1])
            for sid, i in complex_.sensors.items()
            if (i.owner, i.device) in canon
        }
        # telemetry topic -> (owner, device), for the config's own devices only (so bounded)
        self._topics: dict[str, tuple[str, str]] = {}

    def _device_of(self, topic: str) -> tuple[str, str] | Rejection:
        where = self._topics.get(topic)
        if where is not None:
            return where
        where = parse_telemetry_topic(topic)
        if where is None:
            return Rejection(Reason.BAD_TOPIC, "expected twin/v1/{owner}/{device}/telemetry")
        canonical = self._canon.get(where)
        if canonical is None:
            return Rejection(Reason.BAD_TOPIC, f"no device {where[1]!r} of owner {where[0]!r} in the config")
        self._topics[topic] = canonical
        return canonical

    def decode(self, topic: str, payload: bytes, now_ms: int) -> Decoded:
        out = Decoded()
        lim = self.limits
        if len(payload) > lim.max_payload_bytes:
            out.rejections.append(
                Rejection(Reason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes > limit {lim.max_payload_bytes}")
            )
            return out
        where = self._device_of(topic)
        if isinstance(where, Rejection):
            out.rejections.append(where)
            return out
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            doc = _slow_parse(payload)
            if isinstance(doc, Rejection):
                out.rejections.append(doc)
                return out
        if not isinstance(doc, dict):
            out.rejections.append(Rejection(Reason.BAD_SCHEMA, "payload must be a JSON object"))
            return out
        items = doc.get("readings", _MISSING)
        earliest = now_ms - lim.max_past_s * 1000
        latest = now_ms + lim.max_future_s * 1000
        if items is _MISSING:
            self._readings([doc], where, now_ms, earliest, latest, out, batched=False)
            return out
        if not isinstance(items, list) or len(doc) != 1:
            out.rejections.append(
                Rejection(Reason.BAD_SCHEMA, "a batch is {\"readings\": [...]} and nothing else")
            )
            return out
        if len(items) > lim.max_batch:
            out.rejections.append(
                Rejection(Reason.BATCH_TOO_LARGE, f"{len(items)} readings > limit {lim.max_batch}")
            )
            return out
        self._readings(items, where, now_ms, earliest, latest, out, batched=True)
        return out

    def _readings(
        self, items: list[Any], where: tuple[str, str], now_ms: int, earliest: int, latest: int, out: Decoded,
        batched: bool,
    ) -> None:
        """Decode readings (one message's, or a batch's with their index).

        A fast path accepts the common, valid reading in a few checks: exactly the keys
        sensor, ts, value; a known sensor of this device (compared by identity); an int or
        float value inside its range, which also rules out NaN and infinities; an integer
        timestamp inside the window. Anything else, valid or not, goes through :meth:`_one`,
        which says what is wrong. This loop is the ingest's hottest, hence inline code.
        """
        fast = self._fast
        meta_of = self._fast_meta.get
        append = out.readings.append
        for i, item in enumerate(items):
            if type(item) is dict and fast and len(item) == 3:
                ts = item.get("ts")
                value = item.get("value")
                sid = item.get("sensor")
                if type(ts) is int and earliest <= ts <= latest and type(sid) is str:
                    meta = meta_of(sid)
                    if meta is not None and meta[0] is where:
                        tv = type(value)
                        if tv is float:
                            if meta[1] <= value <= meta[2]:
                                append(Reading(sid, ts, value))
                                continue
                        elif tv is int and -_INT_EXACT <= value <= _INT_EXACT and meta[1] <= value <= meta[2]:
                            append(Reading(sid, ts, float(value)))
                            continue
            if isinstance(item, dict):
                self._one(item, where, now_ms, i if batched else None, out)
            else:
                out.rejections.append(Rejection(Reason.BAD_SCHEMA, "a reading must be an object", index=i))

    def _one(self, r: dict[str, Any], where: tuple[str, str], now_ms: int, idx: int | None, out: Decoded) -> None:
        sid = r.get("sensor")
        if not isinstance(sid, str):
            out.rejections.append(Rejection(Reason.BAD_SCHEMA, "missing string key 'sensor'", index=idx))
            return
        meta = self._sensors.get(sid)
        if meta is None:
            safe = _storable(sid[:200])
            out.rejections.append(
                Rejection(Reason.UNKNOWN_SENSOR, f"sensor {safe[:80]!r} is not in the config", safe, idx)
            )
            return
        owner, device, lo, hi, unit = meta
        if (owner, device) != where:
            out.rejections.append(
                Rejection(
                    Reason.TOPIC_MISMATCH,
                    f"sensor {sid!r} belongs to {owner}/{device}, not {where[0]}/{where[1]}",
                    sid,
                    idx,
                )
            )
            return
        extra = r.keys() - {"sensor", "ts", "value", "unit"}
        if extra:
            keys = _storable(str(sorted(str(k)[:40] for k in extra)[:5]))
            out.rejections.append(Rejection(Reason.BAD_SCHEMA, f"unknown key(s) {keys}", sid, idx))
            return
        if "unit" in r and r["unit"] != unit:
            out.rejections.append(
                Rejection(
                    Reason.UNIT_MISMATCH,
                    f"unit {_storable(str(r['unit'])[:20])!r}, config says {unit!r}", sid, idx,
                )
            )
            return
        value = r.get("value", _MISSING)
        if value is _MISSING:
            out.rejections.append(Rejection(Reason.BAD_SCHEMA, "missing key 'value'", sid, idx))
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.rejections.append(
                Rejection(Reason.WRONG_TYPE, f"value must be a number, got {type(value).__name__}", sid, idx)
            )
            return
        try:
            value = float(value)
        except OverflowError:  # an integer too large for a double
            out.rejections.append(Rejection(Reason.OUT_OF_RANGE, "value does not fit a double", sid, idx))
            return
        if not math.isfinite(value):
            out.rejections.append(Rejection(Reason.NOT_FINITE, f"value is {value}", sid, idx))
            return
        if not lo <= value <= hi:
            out.rejections.append(
                Rejection(Reason.OUT_OF_RANGE, f"value {value} outside valid range [{lo}, {hi}]", sid, idx)
            )
            return
        ts = r.get("ts", _MISSING)
        if ts is _MISSING:
            out.rejections.append(Rejection(Reason.BAD_SCHEMA, "missing key 'ts'", sid, idx))
            return
        ts_ms = _ts_to_ms(ts)
        if isinstance(ts_ms, str):
            out.rejections.append(Rejection(Reason.BAD_TIMESTAMP, ts_ms, sid, idx))
            return
        if ts_ms > now_ms + self.limits.max_future_s * 1000:
            out.rejections.append(
                Rejection(
                    Reason.TS_FUTURE, f"timestamp {_short(ts_ms)} is {_short((ts_ms - now_ms) // 1000)} s ahead",
                    sid, idx,
                )
            )
            return
        if ts_ms < now_ms - self.limits.max_past_s * 1000:
            out.rejections.append(
                Rejection(
                    Reason.TS_PAST, f"timestamp {_short(ts_ms)} is {_short((now_ms - ts_ms) // 1000)} s old",
                    sid, idx,
                )
            )
            return
        out.readings.append(Reading(sid, ts_ms, value))


def _slow_parse(payload: bytes) -> Any:
    """Second opinion when orjson refuses: tells NaN/Infinity apart from garbage.

    Non-finite numbers are let through here so that the reading-level check
    rejects only those readings and keeps the rest of the batch.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.MALFORMED_JSON, f"not UTF-8 (byte {exc.start})")
    try:
        return json.loads(text, parse_constant=float)
    except RecursionError:
        return Rejection(Reason.MALFORMED_JSON, "JSON nested too deeply")
    except ValueError as exc:
        return Rejection(Reason.MALFORMED_JSON, str(exc)[:120])


def encode_reading(r: Reading, unit: str | None = None) -> bytes:
    doc: dict[str, Any] = {"sensor": r.sensor_id, "ts": r.ts_ms, "value": r.value}
    if unit is not None:
        doc["unit"] = unit
    return orjson.dumps(doc)


def encode_batch(readings: list[Reading]) -> bytes:
    return orjson.dumps(
        {"readings": [{"sensor": r.sensor_id, "ts": r.ts_ms, "value": r.value} for r in readings]}
    )


def topic_for(complex_: Complex, sensor_id: str) -> str:
    """The telemetry topic a sensor's readings are published on."""
    info = complex_.sensors[sensor_id]
    return telemetry_topic(info.owner, info.device)
