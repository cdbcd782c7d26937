"""Modelling settings: what the complex config does not say but a simulation needs.

The complex YAML describes assets (machines with ideal cycle times, MTBF, MTTR,
scrap rates, power draw; lines with buffer sizes; trucks, docks, roads, shifts).
How work arrives, which products exist, how processing times vary, when
maintenance is planned, how trucks are dispatched and which disasters strike
are experiment choices: they live here, in the ``settings`` section of a
scenario file. Every field has a default derived from the complex config, so an
empty ``settings`` section simulates the complex as configured.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from simulations.distributions import Distribution, parse_distribution

__all__ = [
    "DISASTER_KINDS",
    "DistSpec",
    "ProductSettings",
    "DowntimeWindow",
    "FactorySettings",
    "MachineSettings",
    "DefaultSettings",
    "LogisticsSettings",
    "EmergencySettings",
    "DisasterSpec",
    "ModelSettings",
    "SettingsReferenceError",
    "check_settings",
]

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _dist(value: Any) -> Distribution:
    return parse_distribution(value)


#: Largest mean lot size accepted: beyond it a lot is not a lot but a typo.
MAX_LOT_UNITS = 1_000_000


def _positive_mean(d: Distribution | None, what: str) -> Distribution | None:
    # A zero time would let the model loop forever at one instant.
    if d is not None and not d.mean > 0:
        raise ValueError(f"{what} must have a mean > 0 (got {d.describe()})")
    return d


def _lot(d: Distribution | None) -> Distribution | None:
    if d is not None and not 1 <= d.mean <= MAX_LOT_UNITS:
        raise ValueError(f"lot_size must have a mean between 1 and {MAX_LOT_UNITS} units (got {d.describe()})")
    return d


#: A distribution spec in YAML: a number (constant seconds) or ``{dist: ..., unit: ...}``.
DistSpec = Annotated[Distribution, BeforeValidator(_dist)]

#: Disaster kinds, with (mean duration in hours, blocks roads, needs an emergency team).
DISASTER_KINDS: dict[str, tuple[float, bool, bool]] = {
    "fire": (6.0, False, True),
    "gas_leak": (2.0, False, True),
    "flood": (24.0, True, True),
    "earthquake": (12.0, True, True),
    "power_outage": (4.0, False, False),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class ProductSettings(_Strict):
    """A product type made by a factory; a change of type at a machine costs a setup."""

    id: Id
    weight: float = Field(default=1.0, gt=0, description="share of orders (relative)")
    lot_size: DistSpec | None = Field(default=None, description="units per order; default: the factory's")
    work_factor: float = Field(default=1.0, gt=0, description="processing time multiplier on every machine")

    @field_validator("lot_size")
    @classmethod
    def _check_lot(cls, v: Distribution | None) -> Distribution | None:
        return _lot(v)


class DowntimeWindow(_Strict):
    """Planned downtime (breaks, preventive maintenance): off for ``hours`` from ``start``
    on day ``day`` (0-based) of every ``every_days``-day cycle."""

    start: HHMM
    hours: float = Field(gt=0)
    every_days: int = Field(default=1, ge=1, le=366)
    day: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> DowntimeWindow:
        if self.day >= self.every_days:
            raise ValueError(f"day must be < every_days ({self.every_days}), got {self.day}")
        if self.hours > 24 * self.every_days:
            raise ValueError(f"hours must be <= {24 * self.every_days}, got {self.hours}")
        return self


class _ReleaseFields(_Strict):
    """Fields a factory entry and the ``defaults`` entry share."""

    utilisation: float | None = Field(
        default=None, gt=0, le=2.0, description="target load of the bottleneck in working time"
    )
    arrivals: DistSpec | None = Field(
        default=None,
        description="order inter-arrival time (working time); default: from utilisation",
    )
    release: Literal["arrivals", "saturate"] | None = Field(
        default=None, description="saturate: the first machine never waits for work"
    )
    lot_size: DistSpec | None = None
    planned_downtime: tuple[DowntimeWindow, ...] | None = None
    materials: bool | None = Field(default=None, description="orders wait for material trucked from the centre")
    pack_size: int | None = Field(default=None, ge=1, description="product units per transport unit")
    shipment_size: int | None = Field(default=None, ge=1, description="transport units that trigger a shipment")
    max_wait_h: float | None = Field(default=None, gt=0, description="ship waiting goods at least this often")
    due_h: float | None = Field(default=None, gt=0, description="delivery due time after the request")

    @field_validator("lot_size")
    @classmethod
    def _check_lot(cls, v: Distribution | None) -> Distribution | None:
        return _lot(v)

    @field_validator("arrivals")
    @classmethod
    def _check_arrivals(cls, v: Distribution | None) -> Distribution | None:
        return _positive_mean(v, "arrivals")


class FactorySettings(_ReleaseFields):
    """Per-factory settings (every field optional; unset falls back to ``defaults``)."""

    products: tuple[ProductSettings, ...] | None = Field(default=None, min_length=1)
    shifts: tuple[str, ...] | None = Field(
        default=None, description="names of the site shifts this factory works; default all"
    )

    @model_validator(mode="after")
    def _unique_products(self) -> FactorySettings:
        if self.products:
            ids = [p.id for p in self.products]
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"duplicate product id {sorted(dup)[0]!r}")
        return self


class _MachineBehaviour(_Strict):
    """Per-machine stochastic behaviour (unset falls back to ``defaults``)."""

    processing: DistSpec | None = Field(default=None, description="time per unit; relative to ideal cycle")
    time_to_failure: DistSpec | None = Field(
        default=None, description="operating time between failures; relative to MTBF"
    )
    time_to_repair: DistSpec | None = Field(default=None, description="relative to MTTR")
    setup: DistSpec | None = Field(default=None, description="time per product change; relative to setup_time_s")
    scrap_every: DistSpec | None = Field(
        default=None,
        description="units from one scrapped unit to the next; default geometric(scrap_rate)",
    )
    failures: bool | None = None

    @field_validator("processing", "time_to_failure")
    @classmethod
    def _check_times(cls, v: Distribution | None, info: Any) -> Distribution | None:
        return _positive_mean(v, info.field_name)

    @field_validator("scrap_every")
    @classmethod
    def _check_scrap(cls, v: Distribution | None) -> Distribution | None:
        if v is not None and v.mean < 1:
            raise ValueError(f"scrap_every counts units: its mean must be >= 1 (got {v.describe()})")
        return v


class MachineSettings(_MachineBehaviour):
    """Per-machine settings: stochastic behaviour and place in the line."""

    parallel_to: Id | None = Field(
        default=None,
        description="works in parallel with this machine of the same line (shares its buffers)",
    )


def _rel(kind: str, mean: float) -> Distribution:
    return parse_distribution({"dist": kind, "mean": mean, "unit": "relative"})


class DefaultSettings(_ReleaseFields, _MachineBehaviour):
    """Values used wherever a factory or machine entry does not set its own."""

    utilisation: float | None = Field(default=0.8, gt=0, le=2.0)
    release: Literal["arrivals", "saturate"] | None = "arrivals"
    lot_minutes: float = Field(
        default=30.0,
        gt=0,
        description="default lot size: this many minutes of the bottleneck's ideal work",
    )
    planned_downtime: tuple[DowntimeWindow, ...] | None = ()
    materials: bool | None = False
    max_wait_h: float | None = Field(default=2.0, gt=0)
    due_h: float | None = Field(default=4.0, gt=0)
    # Never faster than the ideal cycle time (ISO performance <= 1), 10% slower on average.
    processing: DistSpec | None = Field(
        default_factory=lambda: parse_distribution(
            {"dist": "triangular", "low": 1.0, "mode": 1.05, "high": 1.25, "unit": "relative"}
        )
    )
    time_to_failure: DistSpec | None = Field(default_factory=lambda: _rel("exponential", 1.0))
    time_to_repair: DistSpec | None = Field(default_factory=lambda: _rel("exponential", 1.0))
    setup: DistSpec | None = Field(
        default_factory=lambda: parse_distribution({"dist": "constant", "value": 1.0, "unit": "relative"})
    )
    failures: bool | None = True


class LogisticsSettings(_Strict):
    """Trucks, docks and dispatching."""

    enabled: bool = True
    dispatch: Literal["dedicated", "shared"] = Field(
        default="dedicated",
        description="dedicated: trucks with a tenant serve only it, others form a shared pool; "
        "shared: every truck serves every tenant",
    )
    handling_fixed_s: float = Field(default=300.0, ge=0, description="per stop: docking, paperwork")
    handling_per_pack_s: float = Field(default=10.0, ge=0, description="per transport unit loaded or unloaded")


class EmergencySettings(_Strict):
    """The complex's emergency response."""

    teams: int = Field(default=1, ge=1, le=1000)
    response: DistSpec = Field(
        default_factory=lambda: parse_distribution({"dist": "exponential", "mean": 20, "unit": "min"}),
        description="time for a team to reach the site",
    )
    restart: DistSpec = Field(
        default_factory=lambda: parse_distribution({"dist": "constant", "value": 30, "unit": "min"}),
        description="time from the end of the hazard until production restarts",
    )


class DisasterSpec(_Strict):
    """A disaster: scheduled (``day``+``time`` or ``at_h``) or random (``rate_per_year``).

    Targets: ``zones`` (every factory in them and their roads), or ``factories``;
    neither means the whole complex. ``day`` counts from 1 (the first simulated day).
    """

    kind: Literal["fire", "gas_leak", "flood", "earthquake", "power_outage"]
    zones: tuple[Id, ...] = ()
    factories: tuple[Id, ...] = ()
    day: int | None = Field(default=None, ge=1)
    time: HHMM = "00:00"
    at_h: float | None = Field(default=None, ge=0)
    rate_per_year: float | None = Field(default=None, gt=0, le=10_000)
    duration: DistSpec | None = None
    duration_h: float | None = Field(default=None, gt=0)
    blocks_roads: bool | None = None
    response: bool | None = Field(default=None, description="needs an emergency team before containment")
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _singular(cls, data: Any) -> Any:
        # ``zone: B`` and ``factory: x`` read better in a scenario file.
        if isinstance(data, dict):
            data = dict(data)
            for one, many in (("zone", "zones"), ("factory", "factories")):
                if one in data:
                    if many in data:
                        raise ValueError(f"give either {one!r} or {many!r}, not both")
                    v = data.pop(one)
                    data[many] = [v] if isinstance(v, str) else v
        return data

    @model_validator(mode="after")
    def _check(self) -> DisasterSpec:
        when = sum(x is not None for x in (self.day, self.at_h, self.rate_per_year))
        if when != 1:
            raise ValueError("give exactly one of 'day' (with 'time'), 'at_h' or 'rate_per_year'")
        if self.duration is not None and self.duration_h is not None:
            raise ValueError("give either 'duration' or 'duration_h', not both")
        if self.duration is not None and self.duration.relative:
            raise ValueError("a disaster duration cannot be relative; use unit s, min, h or d")
        if self.zones and self.factories:
            raise ValueError("give either zones or factories as the target, not both")
        return self

    @property
    def scheduled_at_s(self) -> float | None:
        """Onset in simulation seconds for a scheduled disaster, else ``None``."""
        if self.at_h is not None:
            return self.at_h * 3600.0
        if self.day is not None:
            hh, mm = self.time.split(":")
            return (self.day - 1) * 86400.0 + int(hh) * 3600.0 + int(mm) * 60.0
        return None

    @property
    def duration_distribution(self) -> Distribution:
        if self.duration is not None:
            return self.duration
        if self.duration_h is not None:
            return parse_distribution({"dist": "constant", "value": self.duration_h, "unit": "h"})
        mean_h = DISASTER_KINDS[self.kind][0]
        return parse_distribution({"dist": "lognormal", "mean": mean_h, "cv": 0.5, "unit": "h"})

    @property
    def effective_blocks_roads(self) -> bool:
        return DISASTER_KINDS[self.kind][1] if self.blocks_roads is None else self.blocks_roads

    @property
    def effective_response(self) -> bool:
        return DISASTER_KINDS[self.kind][2] if self.response is None else self.response

    @property
    def label(self) -> str:
        return self.name or f"{self.kind}@{','.join(self.zones or self.factories) or 'complex'}"


class ModelSettings(_Strict):
    """Everything a simulation of the complex needs beyond the complex config."""

    defaults: DefaultSettings = Field(default_factory=DefaultSettings)
    factories: dict[Id, FactorySettings] = Field(default_factory=dict)
    machines: dict[Id, MachineSettings] = Field(default_factory=dict)
    logistics: LogisticsSettings = Field(default_factory=LogisticsSettings)
    emergency: EmergencySettings = Field(default_factory=EmergencySettings)
    disasters: tuple[DisasterSpec, ...] = ()
    sample_every_min: float = Field(default=60.0, gt=0, description="WIP time-series sampling interval")

    def factory(self, fid: str) -> FactorySettings:
        return self.factories.get(fid) or _EMPTY_FACTORY

    def machine(self, mid: str) -> MachineSettings:
        return self.machines.get(mid) or _EMPTY_MACHINE

    def factory_value(self, fid: str, field: str) -> Any:
        """A factory's setting, falling back to ``defaults``."""
        v = getattr(self.factory(fid), field, None)
        return getattr(self.defaults, field) if v is None else v

    def machine_value(self, mid: str, field: str) -> Any:
        v = getattr(self.machine(mid), field)
        return getattr(self.defaults, field) if v is None else v


_EMPTY_FACTORY = FactorySettings()
_EMPTY_MACHINE = MachineSettings()


class SettingsReferenceError(ValueError):
    """A setting names an asset the complex does not have; ``path`` locates the key."""

    def __init__(self, path: tuple[str | int, ...], reason: str):
        self.path = path
        self.reason = reason
        super().__init__(reason)


def check_settings(settings: ModelSettings, complex_: Any) -> None:
    """Raise :class:`SettingsReferenceError` if ``settings`` refers to unknown assets."""
    factories = complex_.factories
    machines = complex_.machines
    zones = {z.id for z in complex_.zones}
    shifts = {s.name for s in complex_.site.shifts}

    def known(kind: str, ident: str, pool: Any, path: tuple[str | int, ...]) -> None:
        if ident not in pool:
            names = sorted(pool)
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise SettingsReferenceError(path, f"unknown {kind} {ident!r}; known: {shown}")

    for fid, fs in settings.factories.items():
        known("factory", fid, factories, ("factories", fid))
        if fs.shifts is not None:
            if not fs.shifts:
                raise SettingsReferenceError(("factories", fid, "shifts"), "a factory needs at least one shift")
            for i, name in enumerate(fs.shifts):
                if not shifts:
                    raise SettingsReferenceError(
                        ("factories", fid, "shifts", i),
                        "the site defines no shifts (it works around the clock)",
                    )
                known("shift", name, shifts, ("factories", fid, "shifts", i))
    line_of = {m.id: ln.id for f in factories.values() for ln in f.lines for m in ln.machines}
    for mid, ms in settings.machines.items():
        known("machine", mid, machines, ("machines", mid))
        if ms.parallel_to is not None:
            known("machine", ms.parallel_to, machines, ("machines", mid, "parallel_to"))
            if line_of[ms.parallel_to] != line_of[mid]:
                raise SettingsReferenceError(
                    ("machines", mid, "parallel_to"),
                    f"{ms.parallel_to!r} is in line {line_of[ms.parallel_to]!r}, not in {line_of[mid]!r}",
                )
            if ms.parallel_to == mid:
                raise SettingsReferenceError(("machines", mid, "parallel_to"), "a machine cannot be parallel to itself")
    for i, d in enumerate(settings.disasters):
        for j, z in enumerate(d.zones):
            known("zone", z, zones, ("disasters", i, "zones", j))
        for j, f in enumerate(d.factories):
            known("factory", f, factories, ("disasters", i, "factories", j))
