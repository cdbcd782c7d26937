"""What the dashboards show of the complex: assets on the map and sensors grouped for pickers.

Pure: derived from the :class:`~twin.model.Complex` only, no I/O. Built once per app.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from twin.model import Complex, Position, SensorInfo

__all__ = ["AssetKind", "Asset", "SensorGroup", "SiteIndex", "GROUP_PREFIX"]

#: Prefix of the disabled header options in sensor pickers. ``:`` is not allowed in
#: config ids, so a header value can never collide with a sensor id.
GROUP_PREFIX = "group:"


class AssetKind(StrEnum):
    FACTORY = "factory"
    LOGISTICS = "logistics"


@dataclass(frozen=True, slots=True)
class Asset:
    """A clickable place on the site map and the sensors that report for it."""

    id: str
    kind: AssetKind
    name: str
    position: Position
    zone: str
    owner: str
    sensor_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensorGroup:
    """Sensors shown together in a picker: one factory, one zone, the logistics centre, a truck."""

    key: str
    title: str
    asset_id: str | None
    sensor_ids: tuple[str, ...]


class SiteIndex:
    """Lookups the dashboards need, computed once from an immutable complex."""

    def __init__(self, complex_: Complex):
        self.complex = complex_

    @cached_property
    def assets(self) -> dict[str, Asset]:
        """Factories and the logistics centre, in config order."""
        c = self.complex
        by_factory: dict[str, list[str]] = {}
        for sid, info in c.sensors.items():
            if info.factory is not None:
                by_factory.setdefault(info.factory, []).append(sid)
        out: dict[str, Asset] = {}
        for tenant in c.tenants:
            for f in tenant.factories:
                out[f.id] = Asset(
                    f.id,
                    AssetKind.FACTORY,
                    f.name or f.id,
                    f.position,
                    f.zone,
                    tenant.id,
                    tuple(by_factory.get(f.id, ())),
                )
        if c.logistics is not None:
            centre = c.logistics.centre
            ids = tuple(sid for sid, info in c.sensors.items() if info.device == centre.id)
            out[centre.id] = Asset(
                centre.id,
                AssetKind.LOGISTICS,
                centre.name or centre.id,
                centre.position,
                centre.zone,
                "park",
                ids,
            )
        return out

    @cached_property
    def groups(self) -> tuple[SensorGroup, ...]:
        """Sensor groups in map order: factories, the logistics centre, zones, trucks."""
        c = self.complex
        groups = [
            SensorGroup(a.id, f"{a.name} ({a.id})", a.id, _by_device(c, a.sensor_ids))
            for a in self.assets.values()
            if a.sensor_ids
        ]
        for z in c.zones:
            ids = tuple(s.id for s in z.hazard_sensors)
            if ids:
                groups.append(
                    SensorGroup(z.id, f"{z.name or z.id} - zone hazard sensors", None, ids)
                )
        if c.logistics is not None:
            for truck in c.logistics.trucks:
                ids = tuple(s.id for s in truck.sensors)
                if ids:
                    groups.append(SensorGroup(truck.id, f"Truck {truck.id}", None, ids))
        return tuple(groups)

    def sensor(self, sensor_id: object) -> SensorInfo | None:
        """The sensor a (possibly hostile) client value names, or None."""
        if not isinstance(sensor_id, str):
            return None
        return self.complex.sensors.get(sensor_id)

    def asset(self, asset_id: object) -> Asset | None:
        """The asset a (possibly hostile) client value names, or None."""
        if not isinstance(asset_id, str):
            return None
        return self.assets.get(asset_id)

    def sensor_label(self, sensor_id: str) -> str:
        """``sensor · kind [unit]``, with ``device · `` first when the sensor id does not already
        start with it: enough to tell sensors apart in a list, and no longer (the picker indexes
        every substring of every word for its search)."""
        info = self.complex.sensors[sensor_id]
        s = info.sensor
        device = f"{info.device} · " if not sensor_id.startswith(info.device) else ""
        hazard = " · hazard" if info.hazard else ""
        return f"{device}{sensor_id} · {s.kind} [{s.unit}]{hazard}"

    def default_sensor(self) -> str | None:
        """First sensor of the first group: what the trend shows before anyone picks."""
        for g in self.groups:
            if g.sensor_ids:
                return g.sensor_ids[0]
        return None


def _by_device(c: Complex, ids: tuple[str, ...]) -> tuple[str, ...]:
    """Machine sensors first, grouped per device in config order; the plant's own after."""
    machines = [sid for sid in ids if c.sensors[sid].machine is not None]
    plant = [sid for sid in ids if c.sensors[sid].machine is None]
    return tuple(machines + plant)
