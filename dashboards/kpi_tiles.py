"""Complex KPI tiles: OEE, throughput, energy, active alarms by severity, sensors stale.

Pure: the caller passes what the live twin wrote to the historian (the newest reading
of each KPI series, docs/live.md#series-ids), the open alarms it publishes, the newest
reading of every sensor and the time. Nothing here reads a clock, a broker or a disk.

A tile never invents a number: a KPI the live twin has not written is "no data", and a
KPI last written long ago is shown with its time and marked "not live".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dashboards.alarm_feed import SEVERITY_ORDER
from dashboards.freshness import Freshness, sensor_freshness
from twin.codec import Reading
from twin.model import Sensor

__all__ = [
    "KPI_LIVE_MS",
    "TileState",
    "Tile",
    "kpi_series",
    "complex_kpi_ids",
    "active_alarm_counts",
    "stale_sensor_counts",
    "oee_tile",
    "throughput_tile",
    "energy_tile",
    "alarms_tile",
    "stale_tile",
    "complex_tiles",
]

#: A KPI written longer ago than this is shown as "not live". The live twin writes every
#: ``--kpi-interval`` seconds (default 10 s); six missed writes mean it is not running.
KPI_LIVE_MS = 60_000


class TileState(StrEnum):
    OK = "ok"
    NOT_LIVE = "not-live"  # a value, but old: the live twin stopped writing
    NO_DATA = "no-data"
    WARN = "warn"  # something needs a look (stale sensors, minor alarms)
    ALARM = "alarm"  # an active critical alarm


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile: a big value, a line of detail, and its state (written out, not colour only)."""

    key: str
    title: str
    value: str
    detail: str
    state: TileState
    #: Extra text badges (severity chips): ``(css suffix, text)``.
    chips: tuple[tuple[str, str], ...] = ()


def kpi_series(period: str, level: str, kpi: str, ident: str | None = None) -> str:
    """``kpi.shift.factory.alpha-f1.oee``; the complex has no id: ``kpi.day.complex.energy_kwh``."""
    return f"kpi.{period}.{level}.{ident}.{kpi}" if ident else f"kpi.{period}.{level}.{kpi}"


#: The complex series the tiles read.
_OEE = ("oee", "availability", "performance", "quality")


def complex_kpi_ids() -> list[str]:
    return [
        *(kpi_series("shift", "complex", k) for k in _OEE),
        kpi_series("shift", "complex", "throughput_uph"),
        kpi_series("shift", "complex", "good"),
        kpi_series("day", "complex", "energy_kwh"),
        kpi_series("shift", "complex", "energy_per_good_unit_kwh"),
    ]


def _usable(r: Reading | None) -> bool:
    return r is not None and isinstance(r.value, int | float) and math.isfinite(r.value)


def _age_state(r: Reading, now_ms: int) -> TileState:
    return TileState.OK if now_ms - r.ts_ms <= KPI_LIVE_MS else TileState.NOT_LIVE


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _num(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def _as_of(r: Reading, state: TileState, clock: Any) -> str:
    when = clock(r.ts_ms)
    return f"not live: last written {when}" if state is TileState.NOT_LIVE else f"as of {when}"


def _no_data(key: str, title: str, why: str) -> Tile:
    return Tile(key, title, "no data", why, TileState.NO_DATA)


_NO_KPI = "the live twin has not written this KPI yet (is `twin live` running?)"


def oee_tile(kpis: Mapping[str, Reading], now_ms: int, clock: Any = str, level: str = "complex",
             ident: str | None = None) -> Tile:
    """Current-shift OEE with its availability, performance and quality (ISO 22400-2)."""
    oee = kpis.get(kpi_series("shift", level, "oee", ident))
    if not _usable(oee):
        return _no_data("oee", "OEE (shift)", _NO_KPI)
    assert oee is not None
    state = _age_state(oee, now_ms)
    parts = []
    for k, short in (("availability", "A"), ("performance", "P"), ("quality", "Q")):
        r = kpis.get(kpi_series("shift", level, k, ident))
        parts.append(f"{short} {_pct(r.value) if _usable(r) else 'n/a'}")  # type: ignore[union-attr]
    return Tile("oee", "OEE (shift)", _pct(oee.value), f"{' · '.join(parts)} · {_as_of(oee, state, clock)}", state)


def throughput_tile(kpis: Mapping[str, Reading], now_ms: int, clock: Any = str, level: str = "complex",
                    ident: str | None = None) -> Tile:
    """Good units per hour this shift, and how many so far."""
    r = kpis.get(kpi_series("shift", level, "throughput_uph", ident))
    if not _usable(r):
        return _no_data("throughput", "Throughput (shift)", _NO_KPI)
    assert r is not None
    state = _age_state(r, now_ms)
    good = kpis.get(kpi_series("shift", level, "good", ident))
    lead = f"{_num(good.value)} good units · " if _usable(good) else ""  # type: ignore[union-attr]
    value = f"{_num(r.value, 1)} units/h"
    return Tile("throughput", "Throughput (shift)", value, lead + _as_of(r, state, clock), state)


def energy_tile(kpis: Mapping[str, Reading], now_ms: int, clock: Any = str, level: str = "complex",
                ident: str | None = None) -> Tile:
    """Energy used today (kWh) and energy per good unit this shift."""
    r = kpis.get(kpi_series("day", level, "energy_kwh", ident))
    if not _usable(r):
        return _no_data("energy", "Energy (today)", _NO_KPI)
    assert r is not None
    state = _age_state(r, now_ms)
    per = kpis.get(kpi_series("shift", level, "energy_per_good_unit_kwh", ident))
    lead = f"{per.value:.3g} kWh per good unit (shift) · " if _usable(per) else ""  # type: ignore[union-attr]
    return Tile("energy", "Energy (today)", f"{_num(r.value, 1)} kWh", lead + _as_of(r, state, clock), state)


def active_alarm_counts(alarms: Iterable[Any]) -> dict[str, int]:
    """Active alarms (``active_unack``, ``active_ack``) per severity, most severe first.

    Cleared alarms still waiting for an acknowledgement are open but not active; they are
    counted under ``cleared`` so the tile can say so. Malformed entries are skipped.
    """
    out = {s: 0 for s in SEVERITY_ORDER}
    out["other"] = 0
    out["cleared"] = 0
    out["unacknowledged"] = 0
    for a in alarms:
        if not isinstance(a, dict):
            continue
        state = a.get("state")
        if state == "cleared_unack":
            out["cleared"] += 1
            continue
        if state not in ("active_unack", "active_ack"):
            continue
        sev = a.get("severity")
        out[sev if sev in SEVERITY_ORDER else "other"] += 1
        if state == "active_unack":
            out["unacknowledged"] += 1
    return out


def alarms_tile(alarms: Sequence[Any] | None, problem: str | None = None) -> Tile:
    """Active alarms by severity; each severity is a chip with its name (not colour alone)."""
    title = "Active alarms"
    if alarms is None:
        return _no_data("alarms", title, problem or "alarms unavailable")
    n = active_alarm_counts(alarms)
    total = sum(n[s] for s in SEVERITY_ORDER) + n["other"]
    chips = tuple((s, f"{s} {n[s]}") for s in SEVERITY_ORDER)
    if n["other"]:
        chips += (("other", f"other {n['other']}"),)
    detail = f"{n['unacknowledged']} unacknowledged"
    if n["cleared"]:
        detail += f" · {n['cleared']} cleared, awaiting acknowledgement"
    if n["critical"]:
        state = TileState.ALARM
    elif total:
        state = TileState.WARN
    else:
        state = TileState.OK
    return Tile("alarms", title, str(total), detail, state, chips)


def stale_sensor_counts(
    sensors: Iterable[Sensor], latest: Mapping[str, Reading], now_ms: int
) -> tuple[int, int, int]:
    """``(late, never reported, total)`` by the freshness rule of the site map."""
    late = never = total = 0
    for s in sensors:
        total += 1
        f = sensor_freshness(s, latest.get(s.id), now_ms)
        late += f is Freshness.LATE
        never += f is Freshness.NO_DATA
    return late, never, total


def stale_tile(sensors: Iterable[Sensor], latest: Mapping[str, Reading] | None, now_ms: int,
               problem: str | None = None) -> Tile:
    """Sensors silent for more than 3 sample periods, or never heard, out of all sensors."""
    title = "Sensors stale"
    if latest is None:
        return _no_data("stale", title, problem or "historian unavailable")
    late, never, total = stale_sensor_counts(sensors, latest, now_ms)
    if total and never == total:
        return Tile("stale", title, f"{total} / {total}", "no sensor has reported yet", TileState.NO_DATA)
    stale = late + never
    detail = f"{late} late (> 3 periods) · {never} never reported · of {total} sensors"
    return Tile("stale", title, f"{stale} / {total}", detail, TileState.WARN if stale else TileState.OK)


def complex_tiles(
    *,
    kpis: Mapping[str, Reading] | None,
    alarms: Sequence[Any] | None,
    sensors: Iterable[Sensor],
    latest: Mapping[str, Reading] | None,
    now_ms: int,
    clock: Any = str,
    historian_problem: str | None = None,
    alarms_problem: str | None = None,
) -> list[Tile]:
    """The five tiles of the overview, in order. ``None`` inputs mean "could not read"."""
    if kpis is None:
        why = historian_problem or "historian unavailable"
        kpi_tiles = [
            _no_data("oee", "OEE (shift)", why),
            _no_data("throughput", "Throughput (shift)", why),
            _no_data("energy", "Energy (today)", why),
        ]
    else:
        kpi_tiles = [tile(kpis, now_ms, clock) for tile in (oee_tile, throughput_tile, energy_tile)]
    return [
        *kpi_tiles,
        alarms_tile(alarms, alarms_problem),
        stale_tile(sensors, latest, now_ms, historian_problem),
    ]
