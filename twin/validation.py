"""Cross-reference checks of a complex: unique ids, references that resolve, places that fit.

Field-level checks live on the model classes; what needs the whole complex lives here.
Errors carry the path of the offending key so the config loader can point at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from twin.errors import TwinError

if TYPE_CHECKING:
    from twin.model import Complex, Position, RateRule, ThresholdRule

__all__ = ["ModelReferenceError", "check_complex"]


class ModelReferenceError(TwinError):
    """A cross-reference in the complex is wrong; ``path`` locates the key."""

    def __init__(self, path: tuple[str | int, ...], reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{format_path(path)}: {reason}")


def format_path(path: tuple[str | int, ...]) -> str:
    """``('tenants', 2, 'id')`` -> ``tenants[2].id``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _ids(c: Complex) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Every declared id with the path of its ``id`` key."""
    for zi, z in enumerate(c.zones):
        yield z.id, ("zones", zi, "id")
        for si, s in enumerate(z.hazard_sensors):
            yield s.id, ("zones", zi, "hazard_sensors", si, "id")
    for ti, t in enumerate(c.tenants):
        yield t.id, ("tenants", ti, "id")
        for fi, f in enumerate(t.factories):
            fp: tuple[str | int, ...] = ("tenants", ti, "factories", fi)
            yield f.id, (*fp, "id")
            for si, s in enumerate(f.hazard_sensors):
                yield s.id, (*fp, "hazard_sensors", si, "id")
            for si, s in enumerate(f.sensors):
                yield s.id, (*fp, "sensors", si, "id")
            for li, ln in enumerate(f.lines):
                yield ln.id, (*fp, "lines", li, "id")
                for mi, m in enumerate(ln.machines):
                    mp = (*fp, "lines", li, "machines", mi)
                    yield m.id, (*mp, "id")
                    for si, s in enumerate(m.sensors):
                        yield s.id, (*mp, "sensors", si, "id")
    if c.logistics is not None:
        ce = c.logistics.centre
        yield ce.id, ("logistics", "centre", "id")
        for di, d in enumerate(ce.docks):
            yield d.id, ("logistics", "centre", "docks", di, "id")
        for si, s in enumerate(ce.sensors):
            yield s.id, ("logistics", "centre", "sensors", si, "id")
        for si, s in enumerate(ce.hazard_sensors):
            yield s.id, ("logistics", "centre", "hazard_sensors", si, "id")
        for tri, tr in enumerate(c.logistics.trucks):
            yield tr.id, ("logistics", "trucks", tri, "id")
            for si, s in enumerate(tr.sensors):
                yield s.id, ("logistics", "trucks", tri, "sensors", si, "id")


def check_complex(c: Complex) -> None:
    """Raise :class:`ModelReferenceError` at the first cross-reference problem."""
    from twin.model import PARK_OWNER

    seen: dict[str, tuple[str | int, ...]] = {}
    for ident, path in _ids(c):
        if ident in seen:
            raise ModelReferenceError(
                path, f"duplicate id {ident!r} (first used at {format_path(seen[ident])})"
            )
        seen[ident] = path

    zones = {z.id: z for z in c.zones}
    w, h = c.site.width_m, c.site.height_m

    def inside_site(p: Position, path: tuple[str | int, ...]) -> None:
        if p.x > w or p.y > h:
            raise ModelReferenceError(
                path, f"position ({p.x}, {p.y}) is outside the site ({w} x {h} m)"
            )

    for zi, z in enumerate(c.zones):
        a = z.area
        if a.x + a.w > w or a.y + a.h > h:
            raise ModelReferenceError(("zones", zi, "area"), f"zone area exceeds the site ({w} x {h} m)")
        for si, s in enumerate(z.hazard_sensors):
            if not a.contains(s.position):
                raise ModelReferenceError(
                    ("zones", zi, "hazard_sensors", si, "position"),
                    f"hazard sensor {s.id!r} lies outside zone {z.id!r}",
                )

    for ti, t in enumerate(c.tenants):
        if t.id == PARK_OWNER:
            raise ModelReferenceError(
                ("tenants", ti, "id"), f"{PARK_OWNER!r} is reserved for assets of the park itself"
            )
        for fi, f in enumerate(t.factories):
            fp: tuple[str | int, ...] = ("tenants", ti, "factories", fi)
            zone = zones.get(f.zone)
            if zone is None:
                raise ModelReferenceError(
                    (*fp, "zone"), f"unknown zone {f.zone!r}; zones are {sorted(zones)}"
                )
            if not zone.area.contains(f.position):
                raise ModelReferenceError(
                    (*fp, "position"), f"factory {f.id!r} lies outside its zone {f.zone!r}"
                )
            for si, s in enumerate(f.hazard_sensors):
                inside_site(s.position, (*fp, "hazard_sensors", si, "position"))

    if c.logistics is not None:
        ce = c.logistics.centre
        if ce.zone not in zones:
            raise ModelReferenceError(
                ("logistics", "centre", "zone"), f"unknown zone {ce.zone!r}; zones are {sorted(zones)}"
            )
        inside_site(ce.position, ("logistics", "centre", "position"))
        homes = {ce.id} | {f.id for t in c.tenants for f in t.factories}
        tenants = {t.id for t in c.tenants}
        for tri, tr in enumerate(c.logistics.trucks):
            if tr.home not in homes:
                raise ModelReferenceError(
                    ("logistics", "trucks", tri, "home"),
                    f"unknown home {tr.home!r}: must be the logistics centre or a factory",
                )
            if tr.tenant is not None and tr.tenant not in tenants:
                raise ModelReferenceError(
                    ("logistics", "trucks", tri, "tenant"), f"unknown tenant {tr.tenant!r}"
                )
        for ri, road in enumerate(c.logistics.roads):
            for pi, p in enumerate(road):
                inside_site(p, ("logistics", "roads", ri, pi))

    _check_alarms(c, {ident for ident, path in _ids(c) if _is_sensor_path(path)})


def _is_sensor_path(path: tuple[str | int, ...]) -> bool:
    return len(path) >= 3 and path[-3] in ("sensors", "hazard_sensors")


def _check_alarms(c: Complex, sensor_ids: set[str]) -> None:
    """Alarm rules name sensors that exist; one rule per sensor and alarm type."""
    a = c.alarms
    seen: dict[tuple[str, str], tuple[str | int, ...]] = {}
    sections: tuple[tuple[str, tuple[ThresholdRule | RateRule, ...]], ...] = (
        ("thresholds", a.thresholds),
        ("rates", a.rates),
    )
    for section, rules in sections:
        for i, r in enumerate(rules):
            path: tuple[str | int, ...] = ("alarms", section, i)
            if r.sensor not in sensor_ids:
                raise ModelReferenceError((*path, "sensor"), f"unknown sensor {r.sensor!r}")
            key = (r.sensor, r.type)
            if key in seen:
                raise ModelReferenceError(
                    (*path, "type"),
                    f"sensor {r.sensor!r} already has a rule of type {r.type!r} (at "
                    f"{format_path(seen[key])}); one alarm per source and type: give this one "
                    "another 'type'",
                )
            seen[key] = path
    for i, st in enumerate(a.stale):
        for j, sid in enumerate(st.sensors):
            if sid not in sensor_ids:
                raise ModelReferenceError(("alarms", "stale", i, "sensors", j), f"unknown sensor {sid!r}")
