"""What the factory view shows, and who may see it. Pure: no session, historian or broker.

The factory comes from the URL (``/factory?id=alpha-f1``): a browser value that may be
forged. :func:`allowed_factory` is the one check every callback makes, with the user
from the server-side session: an unknown id and another tenant's factory look the
same (nothing), so a tenant cannot even learn which ids exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

from dashboards.auth.users import User
from dashboards.freshness import sensor_freshness
from dashboards.kpi_tiles import (
    Tile,
    TileState,
    alarms_tile,
    energy_tile,
    kpi_series,
    oee_tile,
    stale_tile,
    throughput_tile,
)
from dashboards.pages.factory.timeline import UNKNOWN, state_name
from dashboards.sitemap import zone_alarms
from twin.codec import Reading
from twin.live.state import classify_power, power_levels
from twin.model import Complex, Factory, Machine, Sensor

__all__ = [
    "RANGES",
    "DEFAULT_RANGE",
    "MAX_SEARCH_CHARS",
    "MachineRow",
    "factory_id_from_search",
    "allowed_factory",
    "visible_factories",
    "factory_sensor_ids",
    "factory_kpi_ids",
    "machine_rows",
    "machine_state",
    "factory_tiles",
    "factory_alarms",
]

#: Time ranges of the timeline and the trends: key -> (label, length in ms).
RANGES: dict[str, tuple[str, int]] = {
    "15m": ("15 min", 15 * 60_000),
    "1h": ("1 h", 3_600_000),
    "24h": ("24 h", 86_400_000),
    "7d": ("7 days", 7 * 86_400_000),
    "30d": ("30 days", 30 * 86_400_000),
}
DEFAULT_RANGE = "1h"

#: A query string longer than this is not parsed at all.
MAX_SEARCH_CHARS = 512


def factory_id_from_search(search: object) -> str | None:
    """The ``id`` of a ``?id=...`` query string (any client value), or None."""
    if not isinstance(search, str) or len(search) > MAX_SEARCH_CHARS:
        return None
    try:
        values = parse_qs(search.lstrip("?"), max_num_fields=8).get("id")
    except ValueError:
        return None
    return values[0] if values else None


def allowed_factory(c: Complex, user: User | None, factory_id: object) -> Factory | None:
    """The factory ``factory_id`` names if ``user`` may see its tenant, else None."""
    if user is None or not isinstance(factory_id, str):
        return None
    f = c.factories.get(factory_id)
    if f is None or not user.may_see_tenant(c.factory_tenant[f.id]):
        return None
    return f


def visible_factories(c: Complex, user: User | None) -> list[Factory]:
    """The factories ``user`` may open, in config order."""
    if user is None:
        return []
    return [f for f in c.factories.values() if user.may_see_tenant(c.factory_tenant[f.id])]


def factory_sensor_ids(c: Complex, factory_id: str) -> list[str]:
    """Every sensor of the factory: its machines', its own and its hazard sensors."""
    return [sid for sid, info in c.sensors.items() if info.factory == factory_id]


def _machines(f: Factory) -> list[tuple[str, Machine]]:
    return [(ln.id, m) for ln in f.lines for m in ln.machines]


def _first(m: Machine, kind: str) -> Sensor | None:
    return next((s for s in m.sensors if s.kind == kind), None)


def factory_kpi_ids(f: Factory) -> list[str]:
    fid = f.id
    ids = [kpi_series("shift", "factory", k, fid) for k in
           ("oee", "availability", "performance", "quality", "throughput_uph", "good", "energy_per_good_unit_kwh")]
    ids.append(kpi_series("day", "factory", "energy_kwh", fid))
    ids += [kpi_series("shift", "machine", "oee", m.id) for _, m in _machines(f)]
    return ids


@dataclass(frozen=True, slots=True)
class MachineRow:
    line: str
    machine: str
    name: str
    state: str  # a MachineState value or "unknown"
    why: str  # where the state comes from, or why it is unknown
    power_kw: float | None
    oee: float | None
    last_ms: int | None


def machine_state(m: Machine, latest: Mapping[str, Reading], now_ms: int, power_kw: float | None) -> tuple[str, str]:
    """``(state, why)`` now, by the live twin's rule (docs/live.md, *State*): the machine's
    ``state`` sensor while fresh; else its power draw while fresh (``power_kw``), as the
    state whose configured draw is nearest (off, idle or busy: setup and down cannot be told
    apart by power); else unknown, saying why."""
    state_sensor = _first(m, "state")
    if state_sensor is None:
        why = "no state sensor"
    else:
        r = latest.get(state_sensor.id)
        fresh = sensor_freshness(state_sensor, r, now_ms)
        if r is None:
            why = "state sensor never reported"
        elif fresh.value != "fresh":
            why = f"state sensor {fresh.label} (last: {state_name(r.value)})"
        else:
            return state_name(r.value), "state sensor"
    if power_kw is None:
        return UNKNOWN, why
    state = classify_power(power_levels(m), power_kw)
    return state.value, f"from the power draw, {power_kw:.3g} kW ({why}; off, idle or busy only)"


def machine_rows(f: Factory, latest: Mapping[str, Reading], now_ms: int) -> list[MachineRow]:
    """Each machine's current state (:func:`machine_state`), power, shift OEE and last reading."""
    rows = []
    for line, m in _machines(f):
        power = _first(m, "power")
        last = max((r.ts_ms for s in m.sensors if (r := latest.get(s.id)) is not None), default=None)
        p = latest.get(power.id) if power is not None else None
        pkw = None
        if p is not None and power is not None and sensor_freshness(power, p, now_ms).value == "fresh":
            pkw = p.value / 1000 if power.unit == "W" else p.value
        state, why = machine_state(m, latest, now_ms, pkw)
        o = latest.get(kpi_series("shift", "machine", "oee", m.id))
        rows.append(MachineRow(line, m.id, m.name or m.id, state, why, pkw, o.value if o else None, last))
    return rows


def factory_alarms(f: Factory, alarms: Sequence[Any]) -> list[dict[str, Any]]:
    """The open alarms of the factory, its machines and sensors."""
    return [a for a in alarms if isinstance(a, dict) and a.get("factory") == f.id]


def factory_tiles(
    c: Complex,
    f: Factory,
    *,
    latest: Mapping[str, Reading] | None,
    alarms: Sequence[Any] | None,
    now_ms: int,
    clock: Any = str,
    historian_problem: str | None = None,
    alarms_problem: str | None = None,
) -> list[Tile]:
    """OEE, throughput, energy of the factory (live twin's KPIs), its alarms and stale sensors."""
    sensors = [c.sensors[sid].sensor for sid in factory_sensor_ids(c, f.id)]
    if latest is None:
        why = historian_problem or "historian unavailable"
        kpis = [Tile(k, t, "no data", why, TileState.NO_DATA) for k, t in
                (("oee", "OEE (shift)"), ("throughput", "Throughput (shift)"), ("energy", "Energy (today)"))]
    else:
        kpis = [tile(latest, now_ms, clock, "factory", f.id) for tile in (oee_tile, throughput_tile, energy_tile)]
    own = factory_alarms(f, alarms) if alarms is not None else None
    alarm = alarms_tile(own, alarms_problem)
    zone = zone_alarms(alarms or [], [f.zone]).get(f.zone)
    if zone is not None and zone.disasters:  # a disaster in its zone hits the factory too
        alarm = replace(alarm, detail=f"zone {f.zone}: {zone.label()} · {alarm.detail}", state=TileState.ALARM)
    return [*kpis, alarm, stale_tile(sensors, latest, now_ms, historian_problem)]

