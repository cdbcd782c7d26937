"""KPIs per machine, line, factory, tenant and the complex (ISO 22400-2), and logistics.

The time and quantity *elements* of ISO 22400-2 are measured per machine (work
unit) and summed for every higher level; ratios are taken last. So a factory's
availability is its machines' total actual production time over their total
planned busy time, not an average of ratios. The live twin computes the same
elements from the sensor stream (state durations and good/scrap counters), which
is why the definitions live in plain functions here. ``docs/kpis.md`` documents
each definition.

Names are ``LEVEL.ID.KPI`` (``machine.hanbit-f1-smt.oee``) or ``LEVEL.KPI`` for
the complex and logistics (``complex.oee``, ``logistics.on_time_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulations.machine import BUSY, CATEGORIES, OFF, SETUP
from twin.kpi.oee import availability, oee, performance, quality, ratio

if TYPE_CHECKING:
    from simulations.model import ComplexModel

__all__ = [
    "OeeElements",
    "KPI_UNITS",
    "kpi_unit",
    "availability",
    "performance",
    "quality",
    "oee",
    "collect_kpis",
]

#: Unit of each KPI, by the last part of its name. "1" is a ratio in [0, 1].
KPI_UNITS: dict[str, str] = {
    "availability": "1",
    "performance": "1",
    "quality": "1",
    "oee": "1",
    "utilisation": "1",
    "starved_share": "1",
    "blocked_share": "1",
    "setup_share": "1",
    "failure_share": "1",
    "disaster_share": "1",
    "produced": "units",
    "good": "units",
    "scrap": "units",
    "failures": "count",
    "setups": "count",
    "throughput_uph": "units/h",
    "wip_units": "units",
    "mean_queue_units": "units",
    "lead_time_h": "h",
    "energy_kwh": "kWh",
    "energy_per_good_unit_kwh": "kWh/unit",
    "orders": "count",
    "disaster_downtime_h": "h",
    "production_lost_units": "units",
    "disasters": "count",
    "time_to_recover_h": "h",
    "on_time_rate": "1",
    "deliveries": "count",
    "delivery_time_h": "h",
    "dock_wait_min": "min",
    "truck_utilisation": "1",
    "waiting_requests": "count",
}


def kpi_unit(name: str) -> str:
    """``"factory.x.oee"`` -> ``"1"``."""
    return KPI_UNITS.get(name.rsplit(".", 1)[-1], "")


# The ISO 22400-2 ratios are the live twin's (twin.kpi.oee): one definition for both.
_ratio = ratio


@dataclass(frozen=True, slots=True)
class OeeElements:
    """ISO 22400-2 elements of one or more work units over one period.

    ``pbt_s`` planned busy time (planned operating time minus planned downtime),
    ``apt_s`` actual production time (processing), ``ideal_s`` ideal cycle time x
    produced quantity, ``ideal_good_s`` ideal cycle time x good quantity.
    """

    pbt_s: float = 0.0
    apt_s: float = 0.0
    ideal_s: float = 0.0
    ideal_good_s: float = 0.0
    produced: float = 0.0
    good: float = 0.0

    def __add__(self, o: OeeElements) -> OeeElements:
        return OeeElements(
            self.pbt_s + o.pbt_s,
            self.apt_s + o.apt_s,
            self.ideal_s + o.ideal_s,
            self.ideal_good_s + o.ideal_good_s,
            self.produced + o.produced,
            self.good + o.good,
        )

    @classmethod
    def total(cls, items: Iterable[OeeElements]) -> OeeElements:
        out = cls()
        for e in items:
            out = out + e
        return out

    @property
    def availability(self) -> float:
        return _ratio(self.apt_s, self.pbt_s)

    @property
    def performance(self) -> float:
        return _ratio(self.ideal_s, self.apt_s)

    @property
    def quality(self) -> float:
        return _ratio(self.good, self.produced)

    @property
    def oee(self) -> float:
        """A x P x Q; equal to ``ideal_good_s / pbt_s`` for a single work unit."""
        a, p, q = self.availability, self.performance, self.quality
        if self.pbt_s > 0 and self.produced == 0:
            return 0.0
        return a * p * q

    def as_kpis(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}.availability": self.availability,
            f"{prefix}.performance": self.performance,
            f"{prefix}.quality": self.quality,
            f"{prefix}.oee": self.oee,
        }


def collect_kpis(model: ComplexModel) -> dict[str, float]:
    """All KPIs of ``model`` since its last statistics reset, by name."""
    now = model.env.now
    T = now - model.stats_start
    out: dict[str, float] = {}
    if T <= 0:
        return out
    hours = T / 3600.0
    m_el: dict[str, OeeElements] = {}
    m_energy: dict[str, float] = {}

    for line in model.lines.values():
        for m in line.machines:
            t = m.category_times()
            produced, good, scrap, failures, setups = m.counters()
            pbt = T - t[OFF]
            ideal = m.spec.ideal_cycle_time_s
            el = OeeElements(pbt, t[BUSY], ideal * produced, ideal * good, produced, good)
            m_el[m.id] = el
            energy = m.energy_kwh()
            m_energy[m.id] = energy
            p = f"machine.{m.id}"
            out.update(el.as_kpis(p))
            out[f"{p}.utilisation"] = _ratio(t[BUSY] + t[SETUP], pbt)
            for cat in ("starved", "blocked", "setup", "failure", "disaster"):
                out[f"{p}.{cat}_share"] = _ratio(t[CATEGORIES.index(cat)], pbt)
            out[f"{p}.produced"] = produced
            out[f"{p}.good"] = good
            out[f"{p}.scrap"] = scrap
            out[f"{p}.failures"] = failures
            out[f"{p}.setups"] = setups
            out[f"{p}.throughput_uph"] = good / hours
            out[f"{p}.energy_kwh"] = energy
            out[f"{p}.energy_per_good_unit_kwh"] = _ratio(energy, good)
            out[f"{p}.mean_queue_units"] = line.inbuf_of[m.id].unit_area() / T
        el = OeeElements.total(m_el[m.id] for m in line.machines)
        p = f"line.{line.id}"
        out.update(el.as_kpis(p))
        out[f"{p}.throughput_uph"] = line.good_units / hours
        out[f"{p}.wip_units"] = line.wip_area() / T
        out[f"{p}.lead_time_h"] = _ratio(line.good_unit_time, line.good_units) / 3600.0

    lg = model.logistics
    tenants: dict[str, list[str]] = {}
    f_lost: dict[str, float] = {}
    for f in model.factories.values():
        tenants.setdefault(f.tenant, []).append(f.id)
        mids = [m.id for ln in f.lines for m in ln.machines]
        el = OeeElements.total(m_el[x] for x in mids)
        energy = sum(m_energy[x] for x in mids)
        p = f"factory.{f.id}"
        out.update(el.as_kpis(p))
        out[f"{p}.throughput_uph"] = f.good_units / hours
        out[f"{p}.wip_units"] = f.wip_area() / T
        out[f"{p}.lead_time_h"] = _ratio(f.lead_unit_time, f.good_units) / 3600.0
        out[f"{p}.energy_kwh"] = energy
        out[f"{p}.energy_per_good_unit_kwh"] = _ratio(energy, f.good_units)
        out[f"{p}.orders"] = f.orders
        lost_s = f.gate.disaster_s()
        undisturbed = f.gate.planned_open_s() - lost_s
        # Lost output: the factory's own undisturbed output rate over the time it was stopped.
        lost = f.good_units / undisturbed * lost_s if lost_s > 0 and undisturbed > 0 else 0.0
        f_lost[f.id] = lost
        out[f"{p}.disaster_downtime_h"] = lost_s / 3600.0
        out[f"{p}.production_lost_units"] = lost

    for tid, fids in tenants.items():
        facs = [model.factories[x] for x in fids]
        mids = [m.id for f in facs for ln in f.lines for m in ln.machines]
        el = OeeElements.total(m_el[x] for x in mids)
        good = sum(f.good_units for f in facs)
        energy = sum(m_energy[x] for x in mids)
        p = f"tenant.{tid}"
        out.update(el.as_kpis(p))
        out[f"{p}.throughput_uph"] = good / hours
        out[f"{p}.wip_units"] = sum(f.wip_area() for f in facs) / T
        out[f"{p}.energy_per_good_unit_kwh"] = _ratio(energy, good)
        out[f"{p}.production_lost_units"] = sum(f_lost[x] for x in fids)
        if lg is not None:
            d, ok = lg.by_tenant.get(tid, (0, 0))
            out[f"{p}.on_time_rate"] = _ratio(ok, d)

    facs = list(model.factories.values())
    el = OeeElements.total(m_el.values())
    good = sum(f.good_units for f in facs)
    energy = sum(m_energy.values())
    out.update(el.as_kpis("complex"))
    out["complex.throughput_uph"] = good / hours
    out["complex.wip_units"] = sum(f.wip_area() for f in facs) / T
    out["complex.lead_time_h"] = _ratio(sum(f.lead_unit_time for f in facs), good) / 3600.0
    out["complex.energy_kwh"] = energy
    out["complex.energy_per_good_unit_kwh"] = _ratio(energy, good)
    out["complex.production_lost_units"] = sum(f_lost.values())
    recs = [r for r in model.disasters.records if r.onset >= model.stats_start]
    out["complex.disasters"] = len(recs)
    # Not yet recovered at the end of the run: counted up to now (right-censored).
    ttr = [((r.recovered if r.recovered is not None else now) - r.onset) / 3600.0 for r in recs]
    out["complex.time_to_recover_h"] = sum(ttr) / len(ttr) if ttr else math.nan
    out["complex.disaster_downtime_h"] = sum(f.gate.disaster_s() for f in facs) / 3600.0

    if lg is not None:
        out["logistics.on_time_rate"] = _ratio(lg.on_time_n, lg.delivered_n)
        out["logistics.deliveries"] = lg.delivered_n
        out["logistics.delivery_time_h"] = _ratio(lg.delivery_time_s, lg.delivered_n) / 3600.0
        out["logistics.dock_wait_min"] = _ratio(lg.dock_wait_s, lg.dock_waits) / 60.0
        busy = [truck.busy_time() / T for truck in lg.trucks]
        out["logistics.truck_utilisation"] = sum(busy) / len(busy)
        out["logistics.waiting_requests"] = lg.waiting_requests()
        for truck, u in zip(lg.trucks, busy, strict=True):
            out[f"truck.{truck.id}.truck_utilisation"] = u
    return out
