"""Sparkplug B host logic, pure: topic + protobuf payload + time in, readings and actions out.

:class:`SparkplugDecoder` keeps what a Sparkplug host application must remember between
messages: each edge node's birth (bdSeq, aliases, datatypes) and which devices are
alive. It does no I/O; the service (:mod:`twin.sparkplug.service`) stores the readings,
sends the rebirth requests and publishes the status changes it returns.

What it does with each message type:

- ``NBIRTH`` / ``DBIRTH``: learn the aliases and datatypes, store the values the birth
  carries, bring the node's (device's) sensors back online.
- ``NDATA`` / ``DDATA``: resolve aliases and store mapped numeric metrics. Data from a
  node or device without a current birth, or with an alias the birth did not define,
  is dead-lettered (``no_birth`` / ``unknown_alias``) and a rebirth is requested
  (at most once per :attr:`DecoderSettings.rebirth_interval_ms` per node).
- ``NDEATH`` / ``DDEATH``: the node's (device's) sensors are stale: each gets a
  ``device_offline`` marker (stored with the dead letters) and a status change. An
  ``NDEATH`` whose ``bdSeq`` is older than the current birth's belongs to an earlier
  session (a delayed will) and is ignored, as the specification requires.
- Historical metrics (``is_historical``) are stored with their own timestamps and
  returned in :attr:`SparkplugDecoded.history`, never among the live values.
"""

from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from twin.codec import Reading
from twin.sparkplug.mapping import MetricMap, NodeMap, Target
from twin.sparkplug.schema import NUMERIC_TYPES, SIGNED_BITS, DataType, Payload
from twin.sparkplug.topic import MessageType, SparkplugTopic, parse_topic

__all__ = [
    "SpReason",
    "SpRejection",
    "RebirthRequest",
    "StatusChange",
    "SparkplugDecoded",
    "DecoderSettings",
    "SparkplugDecoder",
    "metric_value",
    "encode_rebirth_request",
]

log = logging.getLogger(__name__)

#: ``uuid`` of a payload whose ``body`` is a compressed payload (Tahu convention).
COMPRESSED_UUID = "SPBV1.0_COMPRESSED"


class SpReason(StrEnum):
    """Why a Sparkplug message or metric was not stored (stable, like ``twin.codec.Reason``)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    BAD_TOPIC = "bad_topic"
    MALFORMED_PROTOBUF = "malformed_protobuf"
    UNMAPPED_NODE = "unmapped_node"
    UNMAPPED_METRIC = "unmapped_metric"
    NO_BIRTH = "no_birth"
    UNKNOWN_ALIAS = "unknown_alias"
    BAD_METRIC = "bad_metric"
    UNSUPPORTED_TYPE = "unsupported_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    TS_FUTURE = "ts_future"
    TS_PAST = "ts_past"
    #: not an error: the marker stored for each sensor of a node or device that died
    DEVICE_OFFLINE = "device_offline"
    #: not an error: the marker stored for each stale sensor whose device was born again
    DEVICE_ONLINE = "device_online"


@dataclass(frozen=True, slots=True)
class SpRejection:
    """Shaped like :class:`twin.codec.Rejection`: the ingest's writer stores it as a dead letter."""

    reason: SpReason
    detail: str
    sensor_id: str | None = None
    index: int | None = None


@dataclass(frozen=True, slots=True)
class RebirthRequest:
    group: str
    node: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A twin device's Sparkplug-fed sensors went offline (stale) or came back."""

    owner: str
    device: str
    online: bool
    ts_ms: int
    sensors: tuple[str, ...]
    cause: str  # NBIRTH, DBIRTH, NDEATH, DDEATH
    source: str  # group/node[/device]


@dataclass(slots=True)
class SparkplugDecoded:
    readings: list[Reading] = field(default_factory=list)  # everything to store, live and history
    rejections: list[SpRejection] = field(default_factory=list)
    history: list[Reading] = field(default_factory=list)  # the historical subset of ``readings``
    commands: list[RebirthRequest] = field(default_factory=list)
    status: list[StatusChange] = field(default_factory=list)
    state_changed: bool = False  # births or deaths changed what the decoder remembers

    @property
    def live(self) -> list[Reading]:
        """Readings that are current values (not store-and-forward history)."""
        if not self.history:
            return list(self.readings)
        hist = {id(r) for r in self.history}
        return [r for r in self.readings if id(r) not in hist]


@dataclass(frozen=True, slots=True)
class DecoderSettings:
    max_payload_bytes: int = 4 * 1024 * 1024
    #: Decompressed size limit of a compressed payload (zip bombs).
    max_inflated_bytes: int = 16 * 1024 * 1024
    max_future_s: float = 300.0
    max_past_s: float = 30 * 86_400.0
    #: At most one rebirth request per edge node in this interval (no request storms).
    rebirth_interval_ms: int = 5_000


@dataclass
class _Node:
    """What the host remembers about one edge node."""

    online: bool = False
    bd_seq: int | None = None
    # device (None = the node) -> alias -> (metric name, datatype)
    aliases: dict[str | None, dict[int, tuple[str, int]]] = field(default_factory=dict)
    # device (None = the node) -> metric name -> datatype
    types: dict[str | None, dict[str, int]] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)  # devices alive (born since the node's birth)
    last_rebirth_ms: int | None = None


def _signed(raw: int, bits: int) -> int:
    """Two's complement: Sparkplug sends signed integers in unsigned fields."""
    if raw >= 1 << (bits - 1):
        return raw - (1 << bits)
    return raw


def metric_value(metric: Any, datatype: int) -> float | None | tuple[SpReason, str]:
    """A metric's value as a float, None for a null value, or (reason, detail)."""
    if metric.is_null:
        return None
    kind = metric.WhichOneof("value")
    if kind is None:
        return (SpReason.BAD_METRIC, "metric has no value and is not null")
    if datatype and datatype not in NUMERIC_TYPES:
        name = DataType(datatype).name if datatype in DataType._value2member_map_ else str(datatype)
        return (SpReason.UNSUPPORTED_TYPE, f"datatype {name} is not numeric")
    if kind == "int_value" or kind == "long_value":
        raw = int(getattr(metric, kind))
        bits = SIGNED_BITS.get(datatype)  # type: ignore[call-overload]
        if bits is not None:
            # 32-bit two's complement (the field width) first, then the type's own width,
            # since encoders differ in how they widen an Int8 or Int16
            width = 32 if kind == "int_value" else 64
            if raw >= 1 << (width - 1):
                raw -= 1 << width
            elif bits < width and (1 << (bits - 1)) <= raw < (1 << bits):
                raw = _signed(raw, bits)
        return float(raw)
    if kind == "float_value" or kind == "double_value":
        v = float(getattr(metric, kind))
        if not math.isfinite(v):
            return (SpReason.NOT_FINITE, f"value is {v}")
        return v
    if kind == "boolean_value":
        return 1.0 if metric.boolean_value else 0.0
    return (SpReason.UNSUPPORTED_TYPE, f"{kind.removesuffix('_value')} values are not stored")


def encode_rebirth_request(now_ms: int) -> bytes:
    """NCMD payload asking an edge node to publish its births again."""
    p = Payload(timestamp=now_ms)
    m = p.metrics.add()
    m.name = "Node Control/Rebirth"
    m.timestamp = now_ms
    m.datatype = DataType.BOOLEAN
    m.boolean_value = True
    return bytes(p.SerializeToString())


class SparkplugDecoder:
    """Decodes Sparkplug B messages for one complex; call :meth:`decode` per message, in order."""

    def __init__(self, mapping: MetricMap, settings: DecoderSettings | None = None):
        self.mapping = mapping
        self.s = settings or DecoderSettings()
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._stale: set[str] = set()  # sensors marked offline and not born again since

    # ---- the one entry point ---------------------------------------------------------

    def decode(self, topic: str, payload: bytes, now_ms: int) -> SparkplugDecoded:
        out = SparkplugDecoded()
        t = parse_topic(topic)
        if isinstance(t, str):
            if t != "state":  # host application state: not data, not an error
                out.rejections.append(SpRejection(SpReason.BAD_TOPIC, t))
            return out
        if t.type in (MessageType.NCMD, MessageType.DCMD):
            return out  # commands to edge nodes (ours or another host's)
        if len(payload) > self.s.max_payload_bytes:
            out.rejections.append(
                SpRejection(
                    SpReason.PAYLOAD_TOO_LARGE,
                    f"{len(payload)} bytes > limit {self.s.max_payload_bytes}",
                )
            )
            return out
        nmap = self.mapping.node(t.group, t.node)
        if nmap is None:
            out.rejections.append(
                SpRejection(
                    SpReason.UNMAPPED_NODE,
                    f"edge node {t.group}/{t.node} is not in the mapping file",
                )
            )
            return out
        msg = self._parse(payload, out)
        if msg is None:
            return out
        handler = {
            MessageType.NBIRTH: self._nbirth,
            MessageType.DBIRTH: self._dbirth,
            MessageType.NDATA: self._data,
            MessageType.DDATA: self._data,
            MessageType.NDEATH: self._ndeath,
            MessageType.DDEATH: self._ddeath,
        }[t.type]
        handler(t, nmap, msg, now_ms, out)
        return out

    # ---- payloads ------------------------------------------------------------------------

    def _parse(self, payload: bytes, out: SparkplugDecoded) -> Any:
        try:
            msg = Payload.FromString(payload)
        except (DecodeError, RecursionError, ValueError) as exc:
            out.rejections.append(
                SpRejection(SpReason.MALFORMED_PROTOBUF, f"not a Sparkplug B payload: {exc}"[:200])
            )
            return None
        if msg.uuid == COMPRESSED_UUID:
            return self._inflate(msg, out)
        return msg

    def _inflate(self, msg: Any, out: SparkplugDecoded) -> Any:
        algorithm = "DEFLATE"
        for m in msg.metrics:
            if m.name == "algorithm" and m.WhichOneof("value") == "string_value":
                algorithm = m.string_value.upper()
        wbits = {"DEFLATE": zlib.MAX_WBITS, "GZIP": 16 + zlib.MAX_WBITS}.get(algorithm)
        if wbits is None:
            out.rejections.append(
                SpRejection(SpReason.MALFORMED_PROTOBUF, f"unknown compression {algorithm[:20]!r}")
            )
            return None
        d = zlib.decompressobj(wbits)
        try:
            body = d.decompress(msg.body, self.s.max_inflated_bytes)
        except zlib.error as exc:
            out.rejections.append(
                SpRejection(SpReason.MALFORMED_PROTOBUF, f"compressed body: {exc}"[:200])
            )
            return None
        if d.unconsumed_tail:
            out.rejections.append(
                SpRejection(
                    SpReason.PAYLOAD_TOO_LARGE, f"inflates past {self.s.max_inflated_bytes} bytes"
                )
            )
            return None
        inner = self._parse(body, out)
        if inner is not None and inner.uuid == COMPRESSED_UUID:
            out.rejections.append(SpRejection(SpReason.MALFORMED_PROTOBUF, "compressed twice"))
            return None
        return inner

    # ---- births and deaths ----------------------------------------------------------------

    def _node(self, t: SparkplugTopic) -> _Node:
        return self._nodes.setdefault((t.group, t.node), _Node())

    def _nbirth(
        self, t: SparkplugTopic, nmap: NodeMap, msg: Any, now_ms: int, out: SparkplugDecoded
    ) -> None:
        node = self._node(t)
        node.online = True
        node.bd_seq = _bd_seq(msg)
        node.aliases = {None: {}}
        node.types = {None: {}}
        node.devices.clear()  # every device must be born again after its node
        self._learn(node, None, msg)
        out.state_changed = True
        self._birth_status(t, nmap, [None], msg, now_ms, out)
        self._values(t, nmap, node, None, msg, now_ms, out)

    def _dbirth(
        self, t: SparkplugTopic, nmap: NodeMap, msg: Any, now_ms: int, out: SparkplugDecoded
    ) -> None:
        node = self._node(t)
        if not node.online:
            self._no_birth(
                t, node, f"DBIRTH of {t.device!r} before its edge node's NBIRTH", now_ms, out
            )
            return
        assert t.device is not None
        node.devices.add(t.device)
        node.aliases[t.device] = {}
        node.types[t.device] = {}
        self._learn(node, t.device, msg)
        out.state_changed = True
        self._birth_status(t, nmap, [t.device], msg, now_ms, out)
        self._values(t, nmap, node, t.device, msg, now_ms, out)

    def _ndeath(
        self, t: SparkplugTopic, nmap: NodeMap, msg: Any, now_ms: int, out: SparkplugDecoded
    ) -> None:
        node = self._node(t)
        bd = _bd_seq(msg)
        if node.bd_seq is not None and bd is not None and _older(bd, node.bd_seq):
            log.info(
                "ignoring NDEATH of %s/%s with bdSeq %s: the current birth has bdSeq %s",
                t.group,
                t.node,
                bd,
                node.bd_seq,
            )
            return
        devices: list[str | None] = [None, *sorted(nmap.devices | node.devices)]
        node.online = False
        node.devices.clear()
        node.aliases = {}
        node.types = {}
        out.state_changed = True
        self._death_status(t, nmap, devices, _ts(msg, now_ms), f"NDEATH bdSeq {bd}", out)

    def _ddeath(
        self, t: SparkplugTopic, nmap: NodeMap, msg: Any, now_ms: int, out: SparkplugDecoded
    ) -> None:
        node = self._node(t)
        assert t.device is not None
        node.devices.discard(t.device)
        node.aliases.pop(t.device, None)
        node.types.pop(t.device, None)
        out.state_changed = True
        self._death_status(t, nmap, [t.device], _ts(msg, now_ms), "DDEATH", out)

    def _learn(self, node: _Node, device: str | None, msg: Any) -> None:
        aliases = node.aliases.setdefault(device, {})
        types = node.types.setdefault(device, {})
        for m in msg.metrics:
            if not m.name:
                continue
            types[m.name] = m.datatype
            if m.HasField("alias"):
                aliases[int(m.alias)] = (m.name, m.datatype)

    def _birth_status(
        self,
        t: SparkplugTopic,
        nmap: NodeMap,
        devices: list[str | None],
        msg: Any,
        now_ms: int,
        out: SparkplugDecoded,
    ) -> None:
        targets = nmap.targets_of(devices)
        back = [tg for tg in targets if tg.sensor_id in self._stale]
        ts = _ts(msg, now_ms)
        for tg in back:
            self._stale.discard(tg.sensor_id)
            out.rejections.append(
                SpRejection(
                    SpReason.DEVICE_ONLINE,
                    f"{t.type.value} of {_source(t)}: data flows again",
                    tg.sensor_id,
                )
            )
        out.status.extend(_status(targets, True, ts, t.type.value, _source(t)))

    def _death_status(
        self,
        t: SparkplugTopic,
        nmap: NodeMap,
        devices: list[str | None],
        ts: int,
        cause: str,
        out: SparkplugDecoded,
    ) -> None:
        targets = nmap.targets_of(devices)
        for tg in targets:
            self._stale.add(tg.sensor_id)
            out.rejections.append(
                SpRejection(
                    SpReason.DEVICE_OFFLINE,
                    f"{cause} of {_source(t)}: sensor stale until the next birth",
                    tg.sensor_id,
                )
            )
        out.status.extend(_status(targets, False, ts, t.type.value, _source(t)))

    def _no_birth(
        self, t: SparkplugTopic, node: _Node, detail: str, now_ms: int, out: SparkplugDecoded
    ) -> None:
        out.rejections.append(SpRejection(SpReason.NO_BIRTH, detail))
        self._request_rebirth(t, node, now_ms, out)

    def _request_rebirth(
        self, t: SparkplugTopic, node: _Node, now_ms: int, out: SparkplugDecoded
    ) -> None:
        last = node.last_rebirth_ms
        if last is not None and 0 <= now_ms - last < self.s.rebirth_interval_ms:
            return
        node.last_rebirth_ms = now_ms
        out.commands.append(RebirthRequest(t.group, t.node))

    # ---- data ------------------------------------------------------------------------------

    def _data(
        self, t: SparkplugTopic, nmap: NodeMap, msg: Any, now_ms: int, out: SparkplugDecoded
    ) -> None:
        node = self._node(t)
        if not node.online:
            self._no_birth(
                t, node, f"{t.type.value} from {_source(t)} without a current NBIRTH", now_ms, out
            )
            return
        if t.device is not None and t.device not in node.devices:
            self._no_birth(
                t, node, f"{t.type.value} from {_source(t)} without a current DBIRTH", now_ms, out
            )
            return
        self._values(t, nmap, node, t.device, msg, now_ms, out)

    def _values(
        self,
        t: SparkplugTopic,
        nmap: NodeMap,
        node: _Node,
        device: str | None,
        msg: Any,
        now_ms: int,
        out: SparkplugDecoded,
    ) -> None:
        aliases = node.aliases.get(device, {})
        types = node.types.get(device, {})
        payload_ts = int(msg.timestamp) if msg.HasField("timestamp") else now_ms
        lo_ts = now_ms - int(self.s.max_past_s * 1000)
        hi_ts = now_ms + int(self.s.max_future_s * 1000)
        unknown_alias = False
        for i, m in enumerate(msg.metrics):
            name = m.name
            datatype = m.datatype
            if not name:
                if not m.HasField("alias"):
                    out.rejections.append(
                        SpRejection(
                            SpReason.BAD_METRIC, "metric has neither name nor alias", None, i
                        )
                    )
                    continue
                known = aliases.get(int(m.alias))
                if known is None:
                    unknown_alias = True
                    out.rejections.append(
                        SpRejection(
                            SpReason.UNKNOWN_ALIAS,
                            f"alias {m.alias} is not in the birth of {_source(t)}",
                            None,
                            i,
                        )
                    )
                    continue
                name, born_type = known
                datatype = datatype or born_type
            elif not datatype:
                datatype = types.get(name, 0)
            target = nmap.target(device, name)
            if target is None:
                if not nmap.ignored(name):
                    out.rejections.append(
                        SpRejection(
                            SpReason.UNMAPPED_METRIC,
                            f"metric {name[:200]!r} of {_source(t)} has no sensor in the mapping",
                            None,
                            i,
                        )
                    )
                continue
            value = metric_value(m, datatype)
            if value is None:
                continue  # a null value: the device does not know it now; nothing to store
            if isinstance(value, tuple):
                out.rejections.append(SpRejection(value[0], value[1], target.sensor_id, i))
                continue
            if not target.low <= value <= target.high:
                out.rejections.append(
                    SpRejection(
                        SpReason.OUT_OF_RANGE,
                        f"value {value} outside valid range [{target.low}, {target.high}]",
                        target.sensor_id,
                        i,
                    )
                )
                continue
            ts = int(m.timestamp) if m.HasField("timestamp") else payload_ts
            if ts > hi_ts:
                out.rejections.append(
                    SpRejection(
                        SpReason.TS_FUTURE,
                        f"timestamp {ts} is {(ts - now_ms) // 1000} s ahead",
                        target.sensor_id,
                        i,
                    )
                )
                continue
            if ts < lo_ts:
                out.rejections.append(
                    SpRejection(
                        SpReason.TS_PAST,
                        f"timestamp {ts} is {(now_ms - ts) // 1000} s old",
                        target.sensor_id,
                        i,
                    )
                )
                continue
            r = Reading(target.sensor_id, ts, value)
            out.readings.append(r)
            if m.is_historical:
                out.history.append(r)
        if unknown_alias:
            self._request_rebirth(t, node, now_ms, out)

    # ---- persistence (the service saves this between runs) ---------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What the decoder remembers, as JSON-ready data (see :meth:`restore`)."""
        nodes = []
        for (group, name), n in sorted(self._nodes.items()):
            nodes.append(
                {
                    "group": group,
                    "node": name,
                    "online": n.online,
                    "bd_seq": n.bd_seq,
                    "devices": sorted(n.devices),
                    "aliases": [
                        [d, a, nm, dt]
                        for d, tab in n.aliases.items()
                        for a, (nm, dt) in tab.items()
                    ],
                    "types": [[d, nm, dt] for d, tab in n.types.items() for nm, dt in tab.items()],
                }
            )
        return {"v": 1, "nodes": nodes, "stale": sorted(self._stale)}

    def restore(self, data: Any) -> None:
        """Load a :meth:`snapshot`; raises ValueError if it is not one."""
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a Sparkplug decoder state (v 1)")
        nodes: dict[tuple[str, str], _Node] = {}
        try:
            for d in data["nodes"]:
                n = _Node(online=bool(d["online"]), bd_seq=d["bd_seq"], devices=set(d["devices"]))
                for dev, alias, name, dt in d["aliases"]:
                    n.aliases.setdefault(dev, {})[int(alias)] = (str(name), int(dt))
                for dev, name, dt in d["types"]:
                    n.types.setdefault(dev, {})[str(name)] = int(dt)
                nodes[(str(d["group"]), str(d["node"]))] = n
            stale = {str(s) for s in data["stale"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed Sparkplug decoder state: {exc!r}") from None
        self._nodes = nodes
        self._stale = stale

    def node_online(self, group: str, node: str) -> bool:
        n = self._nodes.get((group, node))
        return bool(n and n.online)

    @property
    def stale_sensors(self) -> frozenset[str]:
        return frozenset(self._stale)


def _older(bd_seq: int, current: int) -> bool:
    """True if ``bd_seq`` belongs to a session before ``current`` (bdSeq counts modulo 256).

    Only those deaths are ignored: a will delayed past the node's next birth. A death
    with a *newer* bdSeq also ends the current session (the node connected again, or,
    as pysparkplug 0.6.1 does on a clean disconnect, sent the next session's number).
    """
    return 0 < (current - bd_seq) % 256 < 128


def _bd_seq(msg: Any) -> int | None:
    for m in msg.metrics:
        if m.name == "bdSeq" and m.WhichOneof("value") in ("long_value", "int_value"):
            return int(getattr(m, m.WhichOneof("value")))
    return None


def _ts(msg: Any, now_ms: int) -> int:
    return int(msg.timestamp) if msg.HasField("timestamp") else now_ms


def _source(t: SparkplugTopic) -> str:
    return f"{t.group}/{t.node}" + (f"/{t.device}" if t.device else "")


def _status(
    targets: list[Target], online: bool, ts: int, cause: str, source: str
) -> list[StatusChange]:
    by_device: dict[tuple[str, str], list[str]] = {}
    for tg in targets:
        by_device.setdefault((tg.owner, tg.device), []).append(tg.sensor_id)
    return [
        StatusChange(owner, device, online, ts, tuple(sorted(sensors)), cause, source)
        for (owner, device), sensors in sorted(by_device.items())
    ]
