"""The one model of the complex: typed, immutable, validated.

Everything (sensors, ingest, alarms, simulation, dashboards) reads this model.
It is loaded from YAML by :mod:`twin.config`; this module does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "ID_PATTERN",
    "PARK_OWNER",
    "KIND_UNITS",
    "HAZARD_KINDS",
    "MachineState",
    "Position",
    "Area",
    "Sensor",
    "HazardSensor",
    "Machine",
    "Line",
    "Factory",
    "Tenant",
    "Zone",
    "Dock",
    "LogisticsCentre",
    "Truck",
    "Logistics",
    "Shift",
    "SiteInfo",
    "Complex",
    "SensorInfo",
    "SEVERITIES",
    "Severity",
    "ThresholdRule",
    "RateRule",
    "StaleRule",
    "FireRule",
    "GasLeakRule",
    "FloodRule",
    "EarthquakeRule",
    "PowerOutageRule",
    "DisasterRules",
    "AlarmConfig",
]

#: Identifiers appear in MQTT topics, SQL and line protocol; keep them boring.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: Owner segment used in topics for assets of the park itself (zones, logistics).
PARK_OWNER = "park"

#: Allowed units for each sensor kind. Payload values are always in the configured unit.
KIND_UNITS: dict[str, frozenset[str]] = {
    "power": frozenset({"kW", "W"}),
    "energy": frozenset({"kWh"}),
    "temperature": frozenset({"degC"}),
    "vibration": frozenset({"mm/s"}),
    "pressure": frozenset({"bar", "kPa"}),
    "current": frozenset({"A"}),
    "humidity": frozenset({"%RH"}),
    "speed": frozenset({"rpm", "km/h"}),
    "state": frozenset({"state"}),
    "good_count": frozenset({"count"}),
    "scrap_count": frozenset({"count"}),
    "gas": frozenset({"ppm", "%LEL"}),
    "smoke": frozenset({"%obs/m"}),
    "flame": frozenset({"bool"}),
    "water_level": frozenset({"cm", "m"}),
    "seismic": frozenset({"g", "gal"}),
    "position_x": frozenset({"m"}),
    "position_y": frozenset({"m"}),
    "occupancy": frozenset({"count"}),
    "load": frozenset({"count", "%"}),
}

#: Kinds a hazard (disaster) sensor may have.
HAZARD_KINDS = frozenset({"gas", "smoke", "flame", "temperature", "water_level", "seismic"})


class MachineState(StrEnum):
    """Machine states; the numeric code is what a ``state`` sensor publishes."""

    OFF = "off"
    IDLE = "idle"
    BUSY = "busy"
    SETUP = "setup"
    DOWN = "down"

    @property
    def code(self) -> int:
        return _STATE_CODES[self]

    @classmethod
    def from_code(cls, code: float) -> MachineState:
        return _CODE_STATES[int(code)]


_STATE_CODES = {s: i for i, s in enumerate(MachineState)}
_CODE_STATES = {i: s for s, i in _STATE_CODES.items()}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Position(_Frozen):
    """A point on the site layout, in metres from the south-west corner."""

    x: float = Field(ge=0)
    y: float = Field(ge=0)


class Area(_Frozen):
    """A rectangle on the site layout (x, y is the south-west corner)."""

    x: float = Field(ge=0)
    y: float = Field(ge=0)
    w: float = Field(gt=0)
    h: float = Field(gt=0)

    def contains(self, p: Position) -> bool:
        return self.x <= p.x <= self.x + self.w and self.y <= p.y <= self.y + self.h


class Sensor(_Frozen):
    """One measured quantity, sampled every ``period_s`` seconds."""

    id: Id
    kind: str
    unit: str
    period_s: float = Field(gt=0, le=86_400)
    range: tuple[float, float]
    name: str = ""

    @model_validator(mode="after")
    def _check(self) -> Sensor:
        units = KIND_UNITS.get(self.kind)
        if units is None:
            raise ValueError(f"unknown sensor kind {self.kind!r}; known: {', '.join(sorted(KIND_UNITS))}")
        if self.unit not in units:
            raise ValueError(
                f"unit {self.unit!r} is not valid for kind {self.kind!r}; use one of {sorted(units)}"
            )
        lo, hi = self.range
        if not lo < hi:
            raise ValueError(f"range must be [low, high] with low < high, got [{lo}, {hi}]")
        return self


class HazardSensor(Sensor):
    """A disaster-detection sensor with a place on the site layout."""

    position: Position

    @model_validator(mode="after")
    def _check_hazard(self) -> HazardSensor:
        if self.kind not in HAZARD_KINDS:
            raise ValueError(
                f"hazard sensor kind must be one of {sorted(HAZARD_KINDS)}, got {self.kind!r}"
            )
        return self


class PowerDraw(_Frozen):
    """Electrical power drawn in each machine state, in kW."""

    off: float = Field(default=0.0, ge=0)
    idle: float = Field(ge=0)
    busy: float = Field(ge=0)
    setup: float = Field(ge=0)
    down: float = Field(default=0.0, ge=0)

    def for_state(self, state: MachineState) -> float:
        return float(getattr(self, state.value))


class Machine(_Frozen):
    id: Id
    name: str = ""
    ideal_cycle_time_s: float = Field(gt=0)
    mtbf_h: float = Field(gt=0)
    mttr_h: float = Field(gt=0)
    scrap_rate: float = Field(ge=0, lt=1)
    setup_time_s: float = Field(default=0.0, ge=0)
    power_kw: PowerDraw
    sensors: tuple[Sensor, ...] = ()


class Line(_Frozen):
    id: Id
    name: str = ""
    buffer_capacity: int = Field(default=10, ge=1)
    machines: tuple[Machine, ...] = Field(min_length=1)


Industry = Literal[
    "electronics", "machinery", "automotive_parts", "chemicals", "textiles", "food", "metals", "other"
]


class Factory(_Frozen):
    id: Id
    name: str = ""
    zone: Id
    position: Position
    lines: tuple[Line, ...] = Field(min_length=1)
    hazard_sensors: tuple[HazardSensor, ...] = ()
    sensors: tuple[Sensor, ...] = ()


class Tenant(_Frozen):
    id: Id
    name: str
    industry: Industry
    factories: tuple[Factory, ...] = Field(min_length=1)


class Zone(_Frozen):
    id: Id
    name: str = ""
    area: Area
    hazard_sensors: tuple[HazardSensor, ...] = ()


class Dock(_Frozen):
    id: Id
    capacity: int = Field(default=1, ge=1)


class LogisticsCentre(_Frozen):
    id: Id
    name: str = ""
    zone: Id
    position: Position
    docks: tuple[Dock, ...] = Field(min_length=1)
    sensors: tuple[Sensor, ...] = ()
    hazard_sensors: tuple[HazardSensor, ...] = ()


class Truck(_Frozen):
    id: Id
    capacity: int = Field(ge=1, description="units of goods per trip")
    speed_kmh: float = Field(default=20.0, gt=0, le=120)
    home: Id
    tenant: Id | None = Field(default=None, description="dedicated to this tenant; None = shared pool")
    sensors: tuple[Sensor, ...] = ()


class Logistics(_Frozen):
    centre: LogisticsCentre
    trucks: tuple[Truck, ...] = ()
    roads: tuple[tuple[Position, ...], ...] = ()


class Shift(_Frozen):
    name: str
    start: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    hours: float = Field(gt=0, le=24)


class SiteInfo(_Frozen):
    id: Id
    name: str
    timezone: str = "UTC"
    width_m: float = Field(gt=0)
    height_m: float = Field(gt=0)
    shifts: tuple[Shift, ...] = ()


# ---- alarm rules (optional ``alarms:`` section; defaults in twin.alarms.rules) -----------

#: Alarm severities, most severe first.
SEVERITIES = ("critical", "major", "minor", "warning")
Severity = Literal["critical", "major", "minor", "warning"]
_Delay = Annotated[float, Field(ge=0, le=86_400)]


class ThresholdRule(_Frozen):
    """Alarm while a sensor is above (or below) a limit.

    Hysteresis: raised at ``value >= above`` and cleared only below ``above - deadband``
    (mirrored for ``below``). The condition must hold ``on_delay_s`` before the alarm is
    raised and be gone ``off_delay_s`` before it clears (reading times).
    """

    sensor: Id
    type: Id = "threshold"
    above: float | None = None
    below: float | None = None
    deadband: float = Field(default=0.0, ge=0)
    on_delay_s: _Delay = 0.0
    off_delay_s: _Delay = 0.0
    severity: Severity = "major"
    message: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _check(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self


class RateRule(_Frozen):
    """Alarm while a sensor changes faster than a rate, in its unit per minute.

    The rate is measured between the newest reading and the oldest one inside
    ``window_s`` (at least half the window must be covered).
    """

    sensor: Id
    type: Id = "rate_of_change"
    rise_per_min: float | None = Field(default=None, gt=0)
    fall_per_min: float | None = Field(default=None, gt=0)
    window_s: float = Field(default=60.0, gt=0, le=86_400)
    on_delay_s: _Delay = 0.0
    off_delay_s: _Delay = 0.0
    severity: Severity = "minor"
    message: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _check(self) -> RateRule:
        if (self.rise_per_min is None) == (self.fall_per_min is None):
            raise ValueError("give exactly one of 'rise_per_min' or 'fall_per_min'")
        return self


class StaleRule(_Frozen):
    """Alarm per device while some of the chosen sensors are silent.

    A sensor is silent when its newest reading is older than ``factor`` x its
    ``period_s`` (or it never spoke that long after the start). Chosen sensors: the
    listed ids, every sensor of the listed kinds, and every hazard sensor if ``hazard``.
    """

    sensors: tuple[Id, ...] = ()
    kinds: tuple[str, ...] = ()
    hazard: bool = False
    factor: float = Field(default=3.0, gt=1, le=10_000)
    severity: Severity = "warning"

    @model_validator(mode="after")
    def _check(self) -> StaleRule:
        unknown = sorted(set(self.kinds) - set(KIND_UNITS))
        if unknown:
            raise ValueError(f"unknown sensor kind(s) {unknown}; known: {', '.join(sorted(KIND_UNITS))}")
        if not (self.sensors or self.kinds or self.hazard):
            raise ValueError("choose sensors: give 'sensors', 'kinds' or 'hazard: true'")
        return self


class FireRule(_Frozen):
    """Fire in a zone: smoke and a temperature rise (or a hot reading) in the same zone."""

    smoke_above: float = Field(default=1.0, gt=0)  # %obs/m
    temperature_rise_c: float = Field(default=8.0, gt=0)  # within window_s
    temperature_above_c: float = Field(default=57.0)  # a fixed-temperature heat detector
    window_s: float = Field(default=300.0, gt=0, le=86_400)
    on_delay_s: _Delay = 0.0
    off_delay_s: _Delay = 60.0
    severity: Severity = "critical"


class GasLeakRule(_Frozen):
    """Gas leak in a zone: a gas sensor above its exposure limit (ppm) or flammability limit (%LEL)."""

    limit_ppm: float = Field(default=50.0, gt=0)
    limit_lel: float = Field(default=10.0, gt=0)
    deadband_share: float = Field(default=0.2, ge=0, lt=1)
    on_delay_s: _Delay = 0.0
    off_delay_s: _Delay = 30.0
    severity: Severity = "critical"


class FloodRule(_Frozen):
    """Flood in a zone: a water-level gauge above ``level_cm``, or by default above
    ``level_share`` of the way up its range."""

    level_cm: float | None = Field(default=None, gt=0)
    level_share: float = Field(default=0.25, gt=0, lt=1)
    deadband_share: float = Field(default=0.02, ge=0, lt=1)
    on_delay_s: _Delay = 0.0
    off_delay_s: _Delay = 60.0
    severity: Severity = "critical"


class EarthquakeRule(_Frozen):
    """Earthquake: peak ground acceleration above ``pga_g`` in ``min_zones`` zones within ``window_s``."""

    pga_g: float = Field(default=0.05, gt=0)
    min_zones: int = Field(default=2, ge=1)
    window_s: float = Field(default=10.0, gt=0, le=3600)
    off_delay_s: _Delay = 60.0
    severity: Severity = "critical"


class PowerOutageRule(_Frozen):
    """Power outage in a zone: many metered machines lose power within ``window_s``.

    Raised when at least ``min_machines`` and at least ``share`` of the zone's
    power-metered machines, or every metered machine of one factory (two or more),
    dropped below their off level within the window while not planned off (state
    sensor not ``off``; inside a shift when there is none).
    """

    min_machines: int = Field(default=3, ge=1)
    share: float = Field(default=0.25, ge=0, le=1)
    window_s: float = Field(default=10.0, gt=0, le=3600)
    off_delay_s: _Delay = 30.0
    severity: Severity = "critical"


class DisasterRules(_Frozen):
    """Composite disaster rules; ``null`` switches one off."""

    fire: FireRule | None = FireRule()
    gas_leak: GasLeakRule | None = GasLeakRule()
    flood: FloodRule | None = FloodRule()
    earthquake: EarthquakeRule | None = EarthquakeRule()
    power_outage: PowerOutageRule | None = PowerOutageRule()


class AlarmConfig(_Frozen):
    """The ``alarms:`` section. Absent, every default applies (see docs/alarms.md)."""

    defaults: bool = Field(
        default=True, description="add the default rules derived from the hazard sensors"
    )
    stale_factor: float = Field(default=3.0, gt=1, le=10_000)
    renotify_s: float = Field(default=300.0, ge=10, le=86_400)
    max_shelve_s: float = Field(default=8 * 3600.0, ge=60, le=7 * 86_400)
    thresholds: tuple[ThresholdRule, ...] = ()
    rates: tuple[RateRule, ...] = ()
    stale: tuple[StaleRule, ...] = ()
    disasters: DisasterRules = DisasterRules()


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """Where a sensor sits: its device (the topic segment), owner and location."""

    sensor: Sensor
    device: str
    owner: str
    zone: str | None
    factory: str | None = None
    machine: str | None = None
    hazard: bool = False


class Complex(_Frozen):
    """The whole industrial complex, as described by one YAML file."""

    version: Literal[1] = 1
    site: SiteInfo
    zones: tuple[Zone, ...] = Field(min_length=1)
    tenants: tuple[Tenant, ...] = Field(min_length=1)
    logistics: Logistics | None = None
    alarms: AlarmConfig = AlarmConfig()

    @model_validator(mode="after")
    def _check_references(self) -> Complex:
        from twin.validation import check_complex  # cross-references live in one place

        check_complex(self)
        return self

    # ---- derived indexes (computed once; the model is immutable) -------------

    @cached_property
    def factories(self) -> dict[str, Factory]:
        return {f.id: f for t in self.tenants for f in t.factories}

    @cached_property
    def machines(self) -> dict[str, Machine]:
        return {m.id: m for f in self.factories.values() for ln in f.lines for m in ln.machines}

    @cached_property
    def factory_tenant(self) -> dict[str, str]:
        return {f.id: t.id for t in self.tenants for f in t.factories}

    @cached_property
    def sensors(self) -> dict[str, SensorInfo]:
        """Every sensor of the complex by id, with its device, owner and place."""
        out: dict[str, SensorInfo] = {}
        for z in self.zones:
            for s in z.hazard_sensors:
                out[s.id] = SensorInfo(s, z.id, PARK_OWNER, z.id, hazard=True)
        for t in self.tenants:
            for f in t.factories:
                for s in f.hazard_sensors:
                    out[s.id] = SensorInfo(s, f.id, t.id, f.zone, f.id, hazard=True)
                for s in f.sensors:
                    out[s.id] = SensorInfo(s, f.id, t.id, f.zone, f.id)
                for ln in f.lines:
                    for m in ln.machines:
                        for s in m.sensors:
                            out[s.id] = SensorInfo(s, m.id, t.id, f.zone, f.id, m.id)
        if self.logistics is not None:
            c = self.logistics.centre
            for s in c.sensors:
                out[s.id] = SensorInfo(s, c.id, PARK_OWNER, c.zone)
            for s in c.hazard_sensors:
                out[s.id] = SensorInfo(s, c.id, PARK_OWNER, c.zone, hazard=True)
            for tr in self.logistics.trucks:
                for s in tr.sensors:
                    out[s.id] = SensorInfo(s, tr.id, PARK_OWNER, None)
        return out

    @cached_property
    def devices(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(owner, device) -> the ids of its sensors."""
        out: dict[tuple[str, str], list[str]] = {}
        for sid, info in self.sensors.items():
            out.setdefault((info.owner, info.device), []).append(sid)
        return {k: tuple(v) for k, v in out.items()}

    def summary(self) -> str:
        n_lines = sum(len(f.lines) for f in self.factories.values())
        return (
            f"{self.site.name}: {len(self.zones)} zones, {len(self.tenants)} tenants, "
            f"{len(self.factories)} factories, {n_lines} lines, {len(self.machines)} machines, "
            f"{len(self.sensors)} sensors "
            f"({sum(1 for i in self.sensors.values() if i.hazard)} hazard)"
        )
