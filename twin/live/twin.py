"""The live twin's pure core: readings in, alarm events, snapshots and KPIs out.

No I/O and no clock: every call takes ``now_ms``. The MQTT service
(:mod:`twin.live.service`) drives it; a test or a simulation can drive it directly::

    twin = LiveTwin(complex_, start_ms=t0)
    events = twin.feed(readings, now_ms)        # alarm transitions caused by the readings
    events += twin.tick(now_ms)                 # timers: delays, stale data, shelves, reminders
    twin.acknowledge("alm-1", "kim", now_ms)    # operator commands (CommandRejected if not allowed)
    twin.factory_snapshot("alpha-f1", now_ms)   # twin.snapshot.FactorySnapshot
    twin.kpis(now_ms)                           # {"kpi.shift.machine.alpha-smt.oee": 0.61, ...}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from twin.alarms.commands import AlarmCommand
from twin.alarms.lifecycle import AlarmBook, CommandRejected
from twin.alarms.records import Alarm, AlarmEvent, alarm_to_dict
from twin.alarms.rules import RuleEngine, Transition
from twin.codec import Reading
from twin.kpi.periods import SiteCalendar
from twin.kpi.tracker import KpiTracker
from twin.live.state import MachineTracker, stale_limit_ms
from twin.model import PARK_OWNER, Complex, MachineState
from twin.snapshot import (
    KPI_KEYS,
    SEVERITIES,
    UNKNOWN_STATE,
    AlarmCounts,
    ComplexSnapshot,
    FactorySnapshot,
    FactorySummary,
    HazardReading,
    MachineSnapshot,
    ZoneSummary,
)

__all__ = ["LiveTwin", "CommandRejected", "open_alarms_doc", "SEVERITY_RANK"]

log = logging.getLogger(__name__)

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _counts(alarms: Iterable[Alarm]) -> AlarmCounts:
    n = dict.fromkeys(SEVERITIES, 0)
    unack = shelved = suppressed = 0
    for a in alarms:
        n[a.severity] = n.get(a.severity, 0) + 1
        unack += a.needs_operator
        shelved += a.shelved
        suppressed += a.suppressed
    return AlarmCounts(n["critical"], n["major"], n["minor"], n["warning"], unack, shelved, suppressed)


def open_alarms_doc(owner: str, alarms: Iterable[Alarm], now_ms: int) -> dict[str, Any]:
    """The retained ``_alarms/open`` payload: an owner's open alarms, most severe, newest first."""
    items = sorted(alarms, key=lambda a: (SEVERITY_RANK.get(a.severity, 9), -a.active_ms, a.id))
    return {"v": 1, "owner": owner, "ts": now_ms, "alarms": [alarm_to_dict(a) for a in items]}


class LiveTwin:
    """State, alarms and KPIs of one complex, driven by readings and time.

    ``events`` replays a journal so the alarm state after a restart is the one before it;
    ``start_ms`` is when this twin started listening (sensors never heard since then
    turn stale one silence limit later).
    """

    def __init__(self, c: Complex, *, start_ms: int, events: Iterable[AlarmEvent] = ()):
        self.complex = c
        self.start_ms = start_ms
        a = c.alarms
        self.stale_factor = a.stale_factor
        self.calendar = SiteCalendar(c.site)
        self.book = AlarmBook(a.renotify_s, a.max_shelve_s)
        self.book.replay(events)
        self.kpi = KpiTracker(c, self.calendar)
        self.last: dict[str, tuple[int, float]] = {}
        self.machines: dict[str, MachineTracker] = {}
        self._machine_of: dict[str, MachineTracker] = {}
        for f in c.factories.values():
            for ln in f.lines:
                for m in ln.machines:
                    mt = MachineTracker(m, ln.id, f.id, self.stale_factor, self.kpi.add_time, self.kpi.add_count)
                    self.machines[m.id] = mt
                    for s in m.sensors:
                        self._machine_of[s.id] = mt
        # confirm_by_state: a shift end drops power up to a state period before the state says off
        self.rules = RuleEngine(c, planned_off=self._planned_off, start_ms=start_ms, confirm_by_state=True)
        self.rules.seed_active(self.book.active_keys())
        self._limits = {sid: stale_limit_ms(i.sensor, self.stale_factor) for sid, i in c.sensors.items()}
        self.ignored_old = 0  # readings not newer than the sensor's last one (redelivered or late)
        self._dirty_owners: set[str] = {a.owner for a in self.book.open.values()}

    # ---- readings and time ----------------------------------------------------------------

    def _planned_off(self, machine: str, ts: int) -> bool:
        mt = self.machines.get(machine)
        said = mt.planned_off(ts) if mt is not None else None
        if said is not None:
            return said
        return self.calendar.has_shifts and self.calendar.shift(ts) is None

    def feed(self, readings: Iterable[Reading], now_ms: int) -> list[AlarmEvent]:
        """Apply readings (any order across sensors; per sensor only newer ones count)."""
        trans: list[Transition] = []
        last = self.last
        machine_of = self._machine_of
        on_reading = self.rules.on_reading
        for r in readings:
            sid, ts, v = r.sensor_id, r.ts_ms, r.value
            prev = last.get(sid)
            if prev is not None and ts <= prev[0]:
                self.ignored_old += 1
                continue
            last[sid] = (ts, v)
            mt = machine_of.get(sid)
            if mt is not None:
                mt.on_reading(sid, ts, v)
            on_reading(sid, ts, v, trans)
        return self._apply(trans, now_ms)

    def tick(self, now_ms: int) -> list[AlarmEvent]:
        """Advance time: rule delays and windows, stale data, shelf expiry, reminders."""
        trans: list[Transition] = []
        self.rules.poll(now_ms, self.last_ts, trans)
        events = self._apply(trans, now_ms)
        more = self.book.tick(now_ms)
        self._touch(more)
        return events + more

    def _apply(self, trans: list[Transition], now_ms: int) -> list[AlarmEvent]:
        if not trans:
            return []
        events = self.book.apply(trans, now_ms)
        self._touch(events)
        return events

    def _touch(self, events: Iterable[AlarmEvent]) -> None:
        for e in events:
            self._dirty_owners.add(e.alarm.owner)

    def last_ts(self, sid: str) -> int | None:
        got = self.last.get(sid)
        return got[0] if got else None

    def is_stale(self, sid: str, now_ms: int) -> bool:
        ts = self.last_ts(sid)
        return now_ms - (self.start_ms if ts is None else ts) > self._limits[sid]

    # ---- operator commands -------------------------------------------------------------------

    def command(self, cmd: AlarmCommand, now_ms: int, scope: str | None = None) -> list[AlarmEvent]:
        """Apply a parsed command; ``scope`` is the owner of the topic it came on (None = any)."""
        if cmd.action == "ack":
            events = self.book.acknowledge(cmd.alarm, cmd.user, now_ms, scope)
        elif cmd.action == "comment":
            events = self.book.comment(cmd.alarm, cmd.user, cmd.text, now_ms, scope)
        elif cmd.action == "shelve":
            events = self.book.shelve(cmd.alarm, cmd.user, cmd.duration_s or 0.0, now_ms, scope, cmd.text)
        elif cmd.action == "unshelve":
            events = self.book.unshelve(cmd.alarm, cmd.user, now_ms, scope)
        else:
            raise CommandRejected("unknown_action", f"unknown action {cmd.action[:20]!r}")
        self._touch(events)
        return events

    def acknowledge(self, alarm_id: str, user: str, now_ms: int) -> list[AlarmEvent]:
        return self.command(AlarmCommand("ack", alarm_id, user), now_ms)

    def comment(self, alarm_id: str, user: str, text: str, now_ms: int) -> list[AlarmEvent]:
        return self.command(AlarmCommand("comment", alarm_id, user, text), now_ms)

    def shelve(self, alarm_id: str, user: str, duration_s: float, now_ms: int, reason: str = "") -> list[AlarmEvent]:
        return self.command(AlarmCommand("shelve", alarm_id, user, reason, duration_s), now_ms)

    def unshelve(self, alarm_id: str, user: str, now_ms: int) -> list[AlarmEvent]:
        return self.command(AlarmCommand("unshelve", alarm_id, user), now_ms)

    # ---- alarms out ----------------------------------------------------------------------------

    def open_alarms(self, owner: str | None = None) -> list[Alarm]:
        """Open (not closed) alarms, of one owner or all, most severe and newest first."""
        items = [a for a in self.book.open.values() if owner is None or a.owner == owner]
        return sorted(items, key=lambda a: (SEVERITY_RANK.get(a.severity, 9), -a.active_ms, a.id))

    def owners(self) -> list[str]:
        return [PARK_OWNER, *(t.id for t in self.complex.tenants)]

    def take_dirty_owners(self) -> set[str]:
        """Owners whose open-alarm list changed since the last call (for the retained topic)."""
        got, self._dirty_owners = self._dirty_owners, set()
        return got

    # ---- snapshots ------------------------------------------------------------------------------

    def _disasters_in(self, zone: str) -> tuple[str, ...]:
        return tuple(sorted({a.type for a in self.book.active_disasters() if zone in a.zones}))

    def factory_snapshot(self, factory_id: str, now_ms: int, kpis: dict[str, float] | None = None) -> FactorySnapshot:
        c = self.complex
        f = c.factories[factory_id]
        alarms = [a for a in self.book.open.values() if a.factory == factory_id]
        per_machine: dict[str, int] = {}
        for a in alarms:
            if a.machine:
                per_machine[a.machine] = per_machine.get(a.machine, 0) + 1
        machines = []
        counts: dict[str, int] = {}
        power = 0.0
        for ln in f.lines:
            for m in ln.machines:
                mt = self.machines[m.id]
                state, since, source = mt.state_at(now_ms)
                name = state.value if state is not None else UNKNOWN_STATE
                counts[name] = counts.get(name, 0) + 1
                kw = mt.power_at(now_ms)
                power += kw or 0.0
                machines.append(
                    MachineSnapshot(
                        id=m.id,
                        line=ln.id,
                        state=name,
                        since_ms=since,
                        source=source,
                        power_kw=kw,
                        good_count=mt.good,
                        scrap_count=mt.scrap,
                        last_ms=mt.last_ts,
                        stale=mt.stale(now_ms, self.last_ts, self.start_ms),
                        alarms=per_machine.get(m.id, 0),
                    )
                )
        sensor_ids = (
            [s.id for s in f.sensors]
            + [s.id for s in f.hazard_sensors]
            + [s.id for ln in f.lines for m in ln.machines for s in m.sensors]
        )
        stale = [sid for sid in sensor_ids if self.is_stale(sid, now_ms)]
        hazards = []
        for s in f.hazard_sensors:
            got = self.last.get(s.id)
            hazards.append(
                HazardReading(
                    s.id,
                    s.kind,
                    got[1] if got else None,
                    got[0] if got else None,
                    self.is_stale(s.id, now_ms),
                )
            )
        if kpis is None:
            self._flush_kpi()
        k = kpis if kpis is not None else self.kpi.values(now_ms, "shift")
        return FactorySnapshot(
            factory=f.id,
            tenant=c.factory_tenant[f.id],
            zone=f.zone,
            ts_ms=now_ms,
            machines=tuple(machines),
            state_counts=counts,
            power_kw=power,
            sensors=len(sensor_ids),
            stale_count=len(stale),
            stale_sensors=tuple(stale[:50]),
            hazards=tuple(hazards),
            alarms=_counts(alarms),
            disasters=self._disasters_in(f.zone),
            kpi={key: k.get(f"kpi.shift.factory.{f.id}.{key}") for key in KPI_KEYS},
        )

    def snapshots(self, now_ms: int) -> tuple[list[FactorySnapshot], ComplexSnapshot]:
        """Every factory snapshot and the complex summary, computed once for ``now_ms``."""
        c = self.complex
        self._flush_kpi()
        k = self.kpi.values(now_ms, "shift")
        factories = [self.factory_snapshot(fid, now_ms, k) for fid in c.factories]
        summaries = tuple(
            FactorySummary(
                fs.factory,
                fs.tenant,
                fs.zone,
                fs.state_counts,
                fs.power_kw,
                fs.stale_count,
                fs.alarms,
                fs.kpi.get("oee"),
            )
            for fs in factories
        )
        zones = []
        for z in c.zones:
            hz = [sid for sid, i in c.sensors.items() if i.hazard and i.zone == z.id]
            zones.append(
                ZoneSummary(
                    zone=z.id,
                    alarms=_counts(a for a in self.book.open.values() if z.id in a.zones),
                    disasters=self._disasters_in(z.id),
                    hazard_sensors=len(hz),
                    stale_hazard_sensors=sum(self.is_stale(s, now_ms) for s in hz),
                )
            )
        states: dict[str, int] = {}
        for fs in factories:
            for name, n in fs.state_counts.items():
                states[name] = states.get(name, 0) + n
        summary = ComplexSnapshot(
            site=c.site.id,
            ts_ms=now_ms,
            factories=summaries,
            zones=tuple(zones),
            state_counts=states,
            power_kw=sum(fs.power_kw for fs in factories),
            sensors=len(c.sensors),
            stale_count=sum(self.is_stale(s, now_ms) for s in c.sensors),
            alarms=_counts(self.book.open.values()),
            kpi={key: k.get(f"kpi.shift.complex.{key}") for key in KPI_KEYS},
        )
        return factories, summary

    def complex_snapshot(self, now_ms: int) -> ComplexSnapshot:
        return self.snapshots(now_ms)[1]

    def machine_state(self, machine_id: str, now_ms: int) -> MachineState | None:
        return self.machines[machine_id].state_at(now_ms)[0]

    # ---- KPIs ------------------------------------------------------------------------------------

    def _flush_kpi(self) -> None:
        for mt in self.machines.values():
            mt.flush()

    def kpis(self, now_ms: int) -> dict[str, float]:
        """Every KPI of the current shift and day by series id (NaN where undefined)."""
        self._flush_kpi()
        return self.kpi.values(now_ms)

    def kpi_readings(self, now_ms: int) -> list[Reading]:
        """KPIs as historian readings (finished periods once, then the current ones)."""
        self._flush_kpi()
        return self.kpi.readings(now_ms)

    def restore_kpis(self, latest: dict[str, Reading], now_ms: int) -> int:
        """Continue the current shift and day from stored KPI totals, without recounting."""
        n = self.kpi.restore_from(latest, now_ms)
        if n:
            upto = max((r.ts_ms for k, r in latest.items() if k.endswith(".window_h")), default=None)
            if upto is not None:
                for mt in self.machines.values():
                    mt.cursor = upto
        return n
