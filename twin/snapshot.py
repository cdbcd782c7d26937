"""State snapshots of the live twin: payloads, codec and topics (contract v1, see docs/protocol.md).

Pure: no I/O. The live twin (``twin live``) publishes one retained snapshot per factory
and one for the whole complex; dashboards and the forecast read them back with
:func:`decode_snapshot`. Owner and device stay topic levels so broker ACLs can confine a
tenant to ``twin/v1/{tenant}/#``::

    twin/v1/{tenant}/{factory}/state      one factory (retained, QoS 1)
    twin/v1/park/_complex/state           the complex summary (retained, QoS 1)

``_complex`` can never clash with a device: config ids start with a letter or a digit.

Stability: within ``v: 1`` fields are only ever added, never renamed, removed or
retyped; readers ignore keys they do not know. Times are UTC epoch milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from twin.errors import TwinError
from twin.model import PARK_OWNER, MachineState
from twin.topics import ROOT, VERSION

__all__ = [
    "SNAPSHOT_VERSION",
    "COMPLEX_DEVICE",
    "STATE",
    "STATE_FILTER",
    "SEVERITIES",
    "UNKNOWN_STATE",
    "STATE_SOURCES",
    "KPI_KEYS",
    "SnapshotError",
    "AlarmCounts",
    "MachineSnapshot",
    "HazardReading",
    "FactorySnapshot",
    "FactorySummary",
    "ZoneSummary",
    "ComplexSnapshot",
    "factory_state_topic",
    "complex_state_topic",
    "parse_state_topic",
    "encode_snapshot",
    "decode_snapshot",
]

SNAPSHOT_VERSION = 1
#: Device level of the complex summary (not an id: ids cannot start with ``_``).
COMPLEX_DEVICE = "_complex"
STATE = "state"
#: Every snapshot, factory and complex.
STATE_FILTER = f"{ROOT}/{VERSION}/+/+/{STATE}"
#: Alarm severities, most severe first.
SEVERITIES = ("critical", "major", "minor", "warning")
#: Machine state when no fresh signal tells it.
UNKNOWN_STATE = "unknown"
#: Where a machine's state came from: its ``state`` sensor, its power draw, or nothing fresh.
STATE_SOURCES = ("state_sensor", "power", "none")
#: Current-shift KPIs carried in snapshots (the full set is in the historian, docs/live.md).
KPI_KEYS = (
    "oee",
    "availability",
    "performance",
    "quality",
    "throughput_uph",
    "energy_per_good_unit_kwh",
)
#: Most stale sensor ids a factory snapshot lists by name (the count is always exact).
MAX_LISTED_STALE = 50
#: Largest snapshot payload a reader accepts.
MAX_SNAPSHOT_BYTES = 1024 * 1024

_STATES = frozenset({s.value for s in MachineState} | {UNKNOWN_STATE})


class SnapshotError(TwinError):
    """A snapshot payload or topic does not follow the v1 contract."""


# ---- topics -------------------------------------------------------------------


def factory_state_topic(tenant: str, factory: str) -> str:
    """``twin/v1/{tenant}/{factory}/state``."""
    return f"{ROOT}/{VERSION}/{tenant}/{factory}/{STATE}"


def complex_state_topic() -> str:
    """``twin/v1/park/_complex/state``."""
    return f"{ROOT}/{VERSION}/{PARK_OWNER}/{COMPLEX_DEVICE}/{STATE}"


def parse_state_topic(topic: str) -> tuple[str, str] | None:
    """(owner, device) of a state topic, or None; device is ``_complex`` for the summary."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != ROOT or parts[1] != VERSION or parts[4] != STATE:
        return None
    return parts[2], parts[3]


# ---- payload types --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmCounts:
    """Open alarms of a scope by severity (not closed; shelved and suppressed included).

    ``unacknowledged`` counts the ones that still need an operator: not acknowledged,
    not shelved, not suppressed. ``shelved`` and ``suppressed`` are subsets of the total.
    """

    critical: int = 0
    major: int = 0
    minor: int = 0
    warning: int = 0
    unacknowledged: int = 0
    shelved: int = 0
    suppressed: int = 0

    def __post_init__(self) -> None:
        for name in (*SEVERITIES, "unacknowledged", "shelved", "suppressed"):
            v = getattr(self, name)
            if type(v) is not int or v < 0:
                raise SnapshotError(f"alarm count {name} must be a non-negative integer, got {v!r}")

    @property
    def total(self) -> int:
        return self.critical + self.major + self.minor + self.warning

    def __add__(self, o: AlarmCounts) -> AlarmCounts:
        return AlarmCounts(
            self.critical + o.critical,
            self.major + o.major,
            self.minor + o.minor,
            self.warning + o.warning,
            self.unacknowledged + o.unacknowledged,
            self.shelved + o.shelved,
            self.suppressed + o.suppressed,
        )


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    """One machine now: inferred state, since when, and its latest signals."""

    id: str
    line: str
    state: str  # a MachineState value, or "unknown"
    since_ms: int | None  # reading time the current state began (None while unknown)
    source: str  # one of STATE_SOURCES
    power_kw: float | None  # latest fresh power reading in kW
    good_count: float | None  # latest raw counter values (restart at 0 with the device)
    scrap_count: float | None
    last_ms: int | None  # newest reading of any of the machine's sensors
    stale: bool  # every sensor of the machine is silent past its limit
    alarms: int = 0  # open alarms raised on the machine or its sensors

    def __post_init__(self) -> None:
        if self.state not in _STATES:
            raise SnapshotError(f"machine {self.id!r}: unknown state {self.state!r}")
        if self.source not in STATE_SOURCES:
            raise SnapshotError(f"machine {self.id!r}: unknown state source {self.source!r}")


@dataclass(frozen=True, slots=True)
class HazardReading:
    """The latest value of one hazard sensor."""

    sensor: str
    kind: str
    value: float | None
    ts_ms: int | None
    stale: bool


@dataclass(frozen=True, slots=True)
class FactorySnapshot:
    """Everything a factory page needs now; published on ``twin/v1/{tenant}/{factory}/state``."""

    factory: str
    tenant: str
    zone: str
    ts_ms: int  # when the snapshot was taken
    machines: tuple[MachineSnapshot, ...]
    state_counts: Mapping[str, int]  # machines per state (incl. "unknown")
    power_kw: float  # sum of the machines' fresh power readings
    sensors: int  # sensors of the factory and its machines
    stale_count: int
    stale_sensors: tuple[str, ...]  # ids, at most MAX_LISTED_STALE of them
    hazards: tuple[HazardReading, ...]
    alarms: AlarmCounts
    disasters: tuple[str, ...]  # active disaster alarm types hitting the factory's zone
    kpi: Mapping[str, float | None] = field(default_factory=dict)  # current shift, KPI_KEYS
    kind: str = field(default="factory", init=False)


@dataclass(frozen=True, slots=True)
class FactorySummary:
    """One factory's line in the complex summary."""

    factory: str
    tenant: str
    zone: str
    state_counts: Mapping[str, int]
    power_kw: float
    stale_count: int
    alarms: AlarmCounts
    oee: float | None  # current shift


@dataclass(frozen=True, slots=True)
class ZoneSummary:
    """A zone of the complex: its alarms, active disasters and silent hazard sensors."""

    zone: str
    alarms: AlarmCounts
    disasters: tuple[str, ...]
    hazard_sensors: int
    stale_hazard_sensors: int


@dataclass(frozen=True, slots=True)
class ComplexSnapshot:
    """The complex at a glance; published on ``twin/v1/park/_complex/state``."""

    site: str
    ts_ms: int
    factories: tuple[FactorySummary, ...]
    zones: tuple[ZoneSummary, ...]
    state_counts: Mapping[str, int]
    power_kw: float
    sensors: int
    stale_count: int
    alarms: AlarmCounts  # every open alarm of the complex
    kpi: Mapping[str, float | None] = field(default_factory=dict)  # current shift, KPI_KEYS
    kind: str = field(default="complex", init=False)


Snapshot = FactorySnapshot | ComplexSnapshot


# ---- encoding -----------------------------------------------------------------------


def _num(v: float | None) -> float | None:
    """JSON has no NaN: undefined values travel as null."""
    if v is None or not math.isfinite(v):
        return None
    return v


def _counts(a: AlarmCounts) -> dict[str, int]:
    return {n: getattr(a, n) for n in (*SEVERITIES, "unacknowledged", "shelved", "suppressed")}


def _kpi(k: Mapping[str, float | None]) -> dict[str, float | None]:
    return {name: _num(v) for name, v in k.items()}


def encode_snapshot(s: Snapshot) -> bytes:
    """Compact JSON of a snapshot (``v``, ``kind`` first)."""
    doc: dict[str, Any]
    if isinstance(s, FactorySnapshot):
        doc = {
            "v": SNAPSHOT_VERSION,
            "kind": "factory",
            "ts": s.ts_ms,
            "factory": s.factory,
            "tenant": s.tenant,
            "zone": s.zone,
            "machines": [
                {
                    "id": m.id,
                    "line": m.line,
                    "state": m.state,
                    "since": m.since_ms,
                    "source": m.source,
                    "power_kw": _num(m.power_kw),
                    "good_count": _num(m.good_count),
                    "scrap_count": _num(m.scrap_count),
                    "last": m.last_ms,
                    "stale": m.stale,
                    "alarms": m.alarms,
                }
                for m in s.machines
            ],
            "state_counts": dict(s.state_counts),
            "power_kw": _num(s.power_kw),
            "sensors": s.sensors,
            "stale_count": s.stale_count,
            "stale_sensors": list(s.stale_sensors[:MAX_LISTED_STALE]),
            "hazards": [
                {
                    "sensor": h.sensor,
                    "kind": h.kind,
                    "value": _num(h.value),
                    "ts": h.ts_ms,
                    "stale": h.stale,
                }
                for h in s.hazards
            ],
            "alarms": _counts(s.alarms),
            "disasters": list(s.disasters),
            "kpi": _kpi(s.kpi),
        }
    elif isinstance(s, ComplexSnapshot):
        doc = {
            "v": SNAPSHOT_VERSION,
            "kind": "complex",
            "ts": s.ts_ms,
            "site": s.site,
            "factories": [
                {
                    "factory": f.factory,
                    "tenant": f.tenant,
                    "zone": f.zone,
                    "state_counts": dict(f.state_counts),
                    "power_kw": _num(f.power_kw),
                    "stale_count": f.stale_count,
                    "alarms": _counts(f.alarms),
                    "oee": _num(f.oee),
                }
                for f in s.factories
            ],
            "zones": [
                {
                    "zone": z.zone,
                    "alarms": _counts(z.alarms),
                    "disasters": list(z.disasters),
                    "hazard_sensors": z.hazard_sensors,
                    "stale_hazard_sensors": z.stale_hazard_sensors,
                }
                for z in s.zones
            ],
            "state_counts": dict(s.state_counts),
            "power_kw": _num(s.power_kw),
            "sensors": s.sensors,
            "stale_count": s.stale_count,
            "alarms": _counts(s.alarms),
            "kpi": _kpi(s.kpi),
        }
    else:
        raise TypeError(f"not a snapshot: {type(s).__name__}")
    return orjson.dumps(doc)


# ---- decoding (strict on what it uses, tolerant of added keys) -------------------------


def _get(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, *, null: bool = False) -> Any:
    if key not in d:
        raise SnapshotError(f"{where}: missing key {key!r}")
    v = d[key]
    if v is None and null:
        return None
    # bool is an int in Python; a JSON true is never a count or a number here
    if isinstance(v, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise SnapshotError(f"{where}.{key}: expected {_kname(kind)}, got a boolean")
    if not isinstance(v, kind):
        raise SnapshotError(f"{where}.{key}: expected {_kname(kind)}, got {type(v).__name__}")
    return v


def _kname(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


_NUM = (int, float)


def _fnum(d: Mapping[str, Any], key: str, where: str) -> float | None:
    v = _get(d, key, _NUM, where, null=True)
    return None if v is None else float(v)


def _str_list(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _get(d, key, list, where)
    if not all(isinstance(x, str) for x in items):
        raise SnapshotError(f"{where}.{key}: expected a list of strings")
    return tuple(items)


def _int_map(d: Mapping[str, Any], key: str, where: str) -> dict[str, int]:
    m = _get(d, key, dict, where)
    for k, v in m.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise SnapshotError(f"{where}.{key}.{k}: expected an integer")
    return dict(m)


def _alarm_counts(d: Mapping[str, Any], where: str) -> AlarmCounts:
    a = _get(d, "alarms", dict, where)
    w = f"{where}.alarms"
    return AlarmCounts(**{n: _get(a, n, int, w) for n in (*SEVERITIES, "unacknowledged", "shelved", "suppressed")})


def _kpis(d: Mapping[str, Any], where: str) -> dict[str, float | None]:
    k = _get(d, "kpi", dict, where)
    return {name: _fnum(k, name, f"{where}.kpi") for name in k}


def _decode_factory(d: Mapping[str, Any]) -> FactorySnapshot:
    w = "factory snapshot"
    machines = []
    for i, m in enumerate(_get(d, "machines", list, w)):
        mw = f"{w}.machines[{i}]"
        if not isinstance(m, dict):
            raise SnapshotError(f"{mw}: expected an object")
        machines.append(
            MachineSnapshot(
                id=_get(m, "id", str, mw),
                line=_get(m, "line", str, mw),
                state=_get(m, "state", str, mw),
                since_ms=_get(m, "since", int, mw, null=True),
                source=_get(m, "source", str, mw),
                power_kw=_fnum(m, "power_kw", mw),
                good_count=_fnum(m, "good_count", mw),
                scrap_count=_fnum(m, "scrap_count", mw),
                last_ms=_get(m, "last", int, mw, null=True),
                stale=_get(m, "stale", bool, mw),
                alarms=_get(m, "alarms", int, mw),
            )
        )
    hazards = []
    for i, h in enumerate(_get(d, "hazards", list, w)):
        hw = f"{w}.hazards[{i}]"
        if not isinstance(h, dict):
            raise SnapshotError(f"{hw}: expected an object")
        hazards.append(
            HazardReading(
                sensor=_get(h, "sensor", str, hw),
                kind=_get(h, "kind", str, hw),
                value=_fnum(h, "value", hw),
                ts_ms=_get(h, "ts", int, hw, null=True),
                stale=_get(h, "stale", bool, hw),
            )
        )
    return FactorySnapshot(
        factory=_get(d, "factory", str, w),
        tenant=_get(d, "tenant", str, w),
        zone=_get(d, "zone", str, w),
        ts_ms=_get(d, "ts", int, w),
        machines=tuple(machines),
        state_counts=_int_map(d, "state_counts", w),
        power_kw=_fnum(d, "power_kw", w) or 0.0,
        sensors=_get(d, "sensors", int, w),
        stale_count=_get(d, "stale_count", int, w),
        stale_sensors=_str_list(d, "stale_sensors", w),
        hazards=tuple(hazards),
        alarms=_alarm_counts(d, w),
        disasters=_str_list(d, "disasters", w),
        kpi=_kpis(d, w),
    )


def _decode_complex(d: Mapping[str, Any]) -> ComplexSnapshot:
    w = "complex snapshot"
    factories = []
    for i, f in enumerate(_get(d, "factories", list, w)):
        fw = f"{w}.factories[{i}]"
        if not isinstance(f, dict):
            raise SnapshotError(f"{fw}: expected an object")
        factories.append(
            FactorySummary(
                factory=_get(f, "factory", str, fw),
                tenant=_get(f, "tenant", str, fw),
                zone=_get(f, "zone", str, fw),
                state_counts=_int_map(f, "state_counts", fw),
                power_kw=_fnum(f, "power_kw", fw) or 0.0,
                stale_count=_get(f, "stale_count", int, fw),
                alarms=_alarm_counts(f, fw),
                oee=_fnum(f, "oee", fw),
            )
        )
    zones = []
    for i, z in enumerate(_get(d, "zones", list, w)):
        zw = f"{w}.zones[{i}]"
        if not isinstance(z, dict):
            raise SnapshotError(f"{zw}: expected an object")
        zones.append(
            ZoneSummary(
                zone=_get(z, "zone", str, zw),
                alarms=_alarm_counts(z, zw),
                disasters=_str_list(z, "disasters", zw),
                hazard_sensors=_get(z, "hazard_sensors", int, zw),
                stale_hazard_sensors=_get(z, "stale_hazard_sensors", int, zw),
            )
        )
    return ComplexSnapshot(
        site=_get(d, "site", str, w),
        ts_ms=_get(d, "ts", int, w),
        factories=tuple(factories),
        zones=tuple(zones),
        state_counts=_int_map(d, "state_counts", w),
        power_kw=_fnum(d, "power_kw", w) or 0.0,
        sensors=_get(d, "sensors", int, w),
        stale_count=_get(d, "stale_count", int, w),
        alarms=_alarm_counts(d, w),
        kpi=_kpis(d, w),
    )


def decode_snapshot(payload: bytes) -> Snapshot:
    """A factory or complex snapshot from its JSON; :class:`SnapshotError` says what is wrong."""
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"snapshot of {len(payload)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot is not JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise SnapshotError("snapshot must be a JSON object")
    v = doc.get("v")
    if v != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {str(v)[:20]!r} is not {SNAPSHOT_VERSION}")
    kind = doc.get("kind")
    if kind == "factory":
        return _decode_factory(doc)
    if kind == "complex":
        return _decode_complex(doc)
    raise SnapshotError(f"unknown snapshot kind {str(kind)[:40]!r}; expected 'factory' or 'complex'")
