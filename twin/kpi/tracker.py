"""Live KPIs per machine, factory, tenant and the complex, per shift and day (pure).

The live twin reports, for every machine, how long it spent in each state and at
what power (:meth:`KpiTracker.add_time`), and the good and scrap parts it counted
(:meth:`KpiTracker.add_count`). The tracker files them under the current shift and
day of the site and turns them into the KPIs of docs/kpis.md, named as series ids
of the historian::

    kpi.{period}.machine.{machine}.{kpi}     period: shift | day
    kpi.{period}.factory.{factory}.{kpi}
    kpi.{period}.tenant.{tenant}.{kpi}
    kpi.{period}.complex.{kpi}

i.e. ``kpi.{period}.`` + the simulation's KPI name (``machine.hanbit-f1-smt.oee``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from twin.codec import Reading
from twin.kpi.oee import OeeElements, ratio
from twin.kpi.periods import Period, SiteCalendar
from twin.model import Complex, MachineState

__all__ = [
    "PERIODS",
    "MACHINE_KPIS",
    "GROUP_KPIS",
    "KpiTracker",
    "kpi_series_id",
    "FINISHED_GRACE_MS",
]

PERIODS = ("shift", "day")
MACHINE_KPIS = (
    "availability",
    "performance",
    "quality",
    "oee",
    "produced",
    "good",
    "scrap",
    "throughput_uph",
    "energy_kwh",
    "energy_per_good_unit_kwh",
    "pbt_h",
    "apt_h",
)
GROUP_KPIS = (
    "availability",
    "performance",
    "quality",
    "oee",
    "good",
    "throughput_uph",
    "energy_kwh",
    "energy_per_good_unit_kwh",
)
#: A finished shift or day is written one last time this long after its end (late data).
FINISHED_GRACE_MS = 60_000

_OFF, _BUSY = MachineState.OFF.code, MachineState.BUSY.code
_N_STATES = len(MachineState)


def kpi_series_id(period: str, level: str, ident: str | None, kpi: str) -> str:
    """``kpi.shift.machine.m1.oee``; ``kpi.day.complex.oee`` when ``ident`` is None."""
    return f"kpi.{period}.{level}.{kpi}" if ident is None else f"kpi.{period}.{level}.{ident}.{kpi}"


@dataclass(slots=True)
class _Acc:
    """One machine in one period: seconds per state, energy, counted parts, observed span."""

    seconds: list[float] = field(default_factory=lambda: [0.0] * _N_STATES)
    energy_kwh: float = 0.0
    good: float = 0.0
    scrap: float = 0.0
    first_ms: int | None = None

    def seen(self, ts: int) -> None:
        if self.first_ms is None or ts < self.first_ms:
            self.first_ms = ts


class KpiTracker:
    """Accumulates machine time, energy and counts by period; computes KPIs on demand."""

    def __init__(self, c: Complex, calendar: SiteCalendar | None = None):
        self.complex = c
        self.calendar = calendar or SiteCalendar(c.site)
        self._ideal = {mid: m.ideal_cycle_time_s for mid, m in c.machines.items()}
        self._counted = {mid: any(s.kind == "good_count" for s in m.sensors) for mid, m in c.machines.items()}
        # factory -> machines; factory -> the machine whose good count is each line's output
        self._factory_machines: dict[str, list[str]] = {}
        self._line_outputs: dict[str, list[str]] = {}
        for fid, f in c.factories.items():
            self._factory_machines[fid] = [m.id for ln in f.lines for m in ln.machines]
            outs = []
            for ln in f.lines:
                counted = [m.id for m in ln.machines if self._counted[m.id]]
                if counted:
                    outs.append(counted[-1])
            self._line_outputs[fid] = outs
        self._tenant_factories = {t.id: [f.id for f in t.factories] for t in c.tenants}
        self._inst: dict[str, dict[Period, dict[str, _Acc]]] = {k: {} for k in PERIODS}
        self._last_period: dict[str, Period | None] = dict.fromkeys(PERIODS)

    # ---- input ---------------------------------------------------------------------------

    def _period(self, kind: str, ts: int) -> Period | None:
        p = self._last_period[kind]
        if p is not None and p.start_ms <= ts < p.end_ms:
            return p
        p = self.calendar.period(kind, ts)
        if p is not None:
            self._last_period[kind] = p
        return p

    def _acc(self, kind: str, p: Period, machine: str) -> _Acc:
        inst = self._inst[kind].get(p)
        if inst is None:
            inst = self._inst[kind][p] = {}
        acc = inst.get(machine)
        if acc is None:
            acc = inst[machine] = _Acc()
        return acc

    def add_time(self, machine: str, t0: int, t1: int, state: MachineState, power_kw: float) -> None:
        """The machine was in ``state`` drawing ``power_kw`` over ``[t0, t1)``."""
        code = state.code
        for kind in PERIODS:
            a = t0
            while a < t1:
                p = self._period(kind, a)
                if p is None:  # between shifts: belongs to no shift
                    break
                b = min(t1, p.end_ms)
                acc = self._acc(kind, p, machine)
                acc.seen(a)
                acc.seconds[code] += (b - a) / 1000.0
                acc.energy_kwh += power_kw * (b - a) / 3_600_000.0
                a = b

    def add_count(self, machine: str, ts: int, good: float, scrap: float) -> None:
        """Parts counted at ``ts`` (increments, already corrected for counter resets)."""
        for kind in PERIODS:
            p = self._period(kind, ts)
            if p is not None:
                acc = self._acc(kind, p, machine)
                acc.seen(ts)
                acc.good += good
                acc.scrap += scrap

    def restore(
        self,
        kind: str,
        p: Period,
        machine: str,
        *,
        pbt_h: float,
        apt_h: float,
        good: float,
        scrap: float,
        energy_kwh: float,
        first_ms: int,
    ) -> None:
        """Start a period from stored totals (after a restart).

        Time in states other than busy is lumped as idle: the KPIs need only PBT and APT.
        """
        acc = self._acc(kind, p, machine)
        acc.seconds[_BUSY] = apt_h * 3600.0
        acc.seconds[MachineState.IDLE.code] = max(0.0, (pbt_h - apt_h) * 3600.0)
        acc.good, acc.scrap, acc.energy_kwh = good, scrap, energy_kwh
        acc.seen(first_ms)

    # ---- output ----------------------------------------------------------------------------

    def _elements(self, machine: str, acc: _Acc) -> OeeElements:
        s = acc.seconds
        pbt = sum(s) - s[_OFF]
        apt = s[_BUSY]
        produced = acc.good + acc.scrap
        counted = self._counted[machine]
        return OeeElements(
            pbt,
            apt,
            apt if counted else 0.0,
            self._ideal[machine] * produced,
            produced,
            acc.good,
            counted,
        )

    def _compute(self, p: Period, inst: dict[str, _Acc], now_ms: int) -> dict[str, float]:
        out: dict[str, float] = {}
        period = p.kind
        firsts = [a.first_ms for a in inst.values() if a.first_ms is not None]
        if not firsts:
            return out
        start = max(p.start_ms, min(firsts))
        hours = max(0.0, (min(now_ms, p.end_ms) - start) / 3_600_000.0)
        el: dict[str, OeeElements] = {}

        def put(level: str, ident: str | None, e: OeeElements, good: float, energy: float) -> None:
            pre = kpi_series_id(period, level, ident, "")
            out[pre + "availability"] = e.availability
            out[pre + "performance"] = e.performance
            out[pre + "quality"] = e.quality
            out[pre + "oee"] = e.oee
            out[pre + "good"] = good if e.counted else math.nan
            out[pre + "throughput_uph"] = ratio(good, hours) if e.counted else math.nan
            out[pre + "energy_kwh"] = energy
            out[pre + "energy_per_good_unit_kwh"] = ratio(energy, good) if e.counted else math.nan

        for mid, acc in inst.items():
            e = self._elements(mid, acc)
            el[mid] = e
            put("machine", mid, e, acc.good, acc.energy_kwh)
            pre = kpi_series_id(period, "machine", mid, "")
            out[pre + "produced"] = e.produced if e.counted else math.nan
            out[pre + "scrap"] = acc.scrap if e.counted else math.nan
            out[pre + "pbt_h"] = e.pbt_s / 3600.0
            out[pre + "apt_h"] = e.apt_s / 3600.0
        f_good: dict[str, float] = {}
        f_energy: dict[str, float] = {}
        f_el: dict[str, OeeElements] = {}
        for fid, mids in self._factory_machines.items():
            present = [m for m in mids if m in el]
            if not present:
                continue
            f_el[fid] = OeeElements.total(el[m] for m in present)
            f_good[fid] = sum(inst[m].good for m in self._line_outputs[fid] if m in inst)
            f_energy[fid] = sum(inst[m].energy_kwh for m in present)
            put("factory", fid, f_el[fid], f_good[fid], f_energy[fid])
        for tid, fids in self._tenant_factories.items():
            present = [f for f in fids if f in f_el]
            if present:
                put(
                    "tenant",
                    tid,
                    OeeElements.total(f_el[f] for f in present),
                    sum(f_good[f] for f in present),
                    sum(f_energy[f] for f in present),
                )
        if f_el:
            put(
                "complex",
                None,
                OeeElements.total(f_el.values()),
                sum(f_good.values()),
                sum(f_energy.values()),
            )
            out[kpi_series_id(period, "complex", None, "window_h")] = hours
        return out

    def values(self, now_ms: int, kind: str | None = None) -> dict[str, float]:
        """KPIs of the current shift and day at ``now_ms`` (NaN where undefined)."""
        out: dict[str, float] = {}
        for k in (kind,) if kind else PERIODS:
            p = self.calendar.period(k, now_ms)
            inst = self._inst[k].get(p) if p is not None else None
            if p is not None and inst:
                out.update(self._compute(p, inst, now_ms))
        return out

    def readings(self, now_ms: int) -> list[Reading]:
        """Historian readings: finished periods once (at their last ms), then the current ones.

        Undefined (NaN) KPIs are left out; the historian stores numbers only.
        """
        out: list[Reading] = []
        for kind in PERIODS:
            current = self.calendar.period(kind, now_ms)
            for p in list(self._inst[kind]):
                if p == current:
                    continue
                if p.end_ms + FINISHED_GRACE_MS <= now_ms or p.start_ms > now_ms:
                    inst = self._inst[kind].pop(p)
                    if p.start_ms <= now_ms:
                        ts = p.end_ms - 1
                        out.extend(
                            Reading(k, ts, v) for k, v in self._compute(p, inst, p.end_ms).items() if math.isfinite(v)
                        )
        out.extend(Reading(k, now_ms, v) for k, v in self.values(now_ms).items() if math.isfinite(v))
        return out

    def restore_series(self, now_ms: int) -> list[str]:
        """Series ids :meth:`restore_from` needs after a restart (machine totals per period)."""
        ids = []
        for kind in PERIODS:
            ids.append(kpi_series_id(kind, "complex", None, "window_h"))
            for mid in self._ideal:
                for k in ("pbt_h", "apt_h", "good", "scrap", "energy_kwh"):
                    ids.append(kpi_series_id(kind, "machine", mid, k))
        return ids

    def restore_from(self, latest: dict[str, Reading], now_ms: int) -> int:
        """Continue the current shift and day from stored readings; returns (machine, period)s."""
        n = 0
        for kind in PERIODS:
            p = self.calendar.period(kind, now_ms)
            if p is None:
                continue
            w = latest.get(kpi_series_id(kind, "complex", None, "window_h"))
            if w is None or w.ts_ms not in p:
                continue
            first = w.ts_ms - round(w.value * 3_600_000)
            for mid in self._ideal:
                got = {
                    k: latest.get(kpi_series_id(kind, "machine", mid, k))
                    for k in ("pbt_h", "apt_h", "good", "scrap", "energy_kwh")
                }
                if got["pbt_h"] is None or got["pbt_h"].ts_ms not in p:
                    continue

                def val(k: str, got: dict[str, Reading | None] = got, p: Period = p) -> float:
                    r = got[k]
                    return r.value if r is not None and r.ts_ms in p else 0.0

                self.restore(
                    kind,
                    p,
                    mid,
                    pbt_h=val("pbt_h"),
                    apt_h=val("apt_h"),
                    good=val("good"),
                    scrap=val("scrap"),
                    energy_kwh=val("energy_kwh"),
                    first_ms=first,
                )
                n += 1
        return n
