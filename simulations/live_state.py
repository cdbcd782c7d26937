"""A :class:`~simulations.state.ComplexState` from what the live twin observes (pure).

The live twin's snapshots (:mod:`twin.snapshot`) say what every machine is doing now
(off, idle, busy, setup, down, or unknown when its sensors are silent) and which
factories an active disaster alarm hits. Sensors cannot see the rest of the state a
model needs: the lots waiting in every buffer, the lot on each machine and how much
work is left on it, how long a repair will still take, where the trucks are. So
:func:`state_from_snapshots` combines two sources:

1. **The model's own estimate (the prior).** The model is run with the same settings
   from :data:`PRIOR_WARMUP_H` hours before the snapshot's time of day up to it (no
   disasters), and its state there is taken: buffer contents, WIP, lots on machines,
   work left, times to failure, finished goods and truck positions. This is what the
   complex typically holds at that time of day, which is far closer to the truth than
   empty buffers (empty lines would under-forecast the first hours).
2. **The observations.** Every machine with a fresh observed state overrides the prior:

   - ``busy``/``setup``: the prior's lot on the machine (its work left when the prior is
     busy too, else a fresh draw); without one, the oldest lot of the buffer in front
     of it, else a new lot of the factory's typical size;
   - ``idle``/``off``: no lot in process (a prior lot goes back to the front of the
     buffer, or is dropped if the buffer is full); a prior *blocked* machine (idle,
     holding a finished lot) stays blocked;
   - ``down``: down with the prior's lot, repair time left drawn fresh from the repair
     distribution (exact for the default exponential repairs: they are memoryless);
   - ``unknown`` or stale: the prior's state is kept.

   A factory whose zone has an active disaster alarm is stopped for the kind's typical
   duration (``DISASTER_KINDS``) plus the emergency restart time, from now; its machines
   observed down are taken as held by the stop (the prior's state), not as failed.

The :class:`StateEstimate` reports what came from where, so a forecast can say how much
of its start was observed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import simpy

from simulations.model import ComplexModel, build_model
from simulations.settings import DISASTER_KINDS, ModelSettings
from simulations.state import ComplexState, MachineSnapshot, WorkItem
from twin.model import Complex, MachineState
from twin.snapshot import UNKNOWN_STATE, AlarmCounts, FactorySnapshot
from twin.snapshot import MachineSnapshot as ObservedMachine

__all__ = [
    "PRIOR_WARMUP_H",
    "StateEstimate",
    "time_of_day_s",
    "prior_state",
    "state_from_snapshots",
]

#: Hours the model runs before the snapshot's time of day to estimate what sensors cannot see.
PRIOR_WARMUP_H = 24.0


@dataclass
class StateEstimate:
    """The state to forecast from, and where each part of it came from."""

    state: ComplexState
    snapshot_ms: int
    observed: list[str] = field(default_factory=list)  # machines whose state was observed
    estimated: list[str] = field(default_factory=list)  # machines taken from the prior
    stopped: dict[str, str] = field(default_factory=dict)  # factory -> disaster kind
    lots_created: int = 0
    lots_dropped: int = 0
    missing_factories: list[str] = field(default_factory=list)  # no snapshot received

    def summary(self) -> str:
        n = len(self.observed) + len(self.estimated)
        parts = [
            f"{len(self.observed)}/{n} machine states observed",
            f"{len(self.estimated)} estimated by the model",
            f"WIP {self.state.wip_units} units (estimated by the model)",
        ]
        if self.stopped:
            parts.append(f"{len(self.stopped)} factories stopped by active disasters")
        if self.missing_factories:
            parts.append(f"no snapshot for {len(self.missing_factories)} factories")
        return "; ".join(parts)


def time_of_day_s(complex_: Complex, ts_ms: int) -> float:
    """Seconds since 00:00 site time of the day of ``ts_ms`` (the model's clock for "today")."""
    local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(ZoneInfo(complex_.site.timezone))
    return local.hour * 3600.0 + local.minute * 60.0 + local.second + local.microsecond / 1e6


def prior_state(
    complex_: Complex,
    settings: ModelSettings,
    time_s: float,
    *,
    seed: int = 0,
    warmup_h: float = PRIOR_WARMUP_H,
) -> tuple[ComplexState, dict[str, int]]:
    """The model's own state at ``time_s`` after ``warmup_h`` hours (no disasters); and each
    factory's typical lot size."""
    if not (math.isfinite(warmup_h) and warmup_h > 0):
        raise ValueError(f'"warmup_h" must be a number > 0 (got {warmup_h!r})')
    quiet = settings.model_copy(update={"disasters": ()})
    env = simpy.Environment(initial_time=time_s - warmup_h * 3600.0)
    model = build_model(complex_, quiet, seed=seed, env=env)
    model.run(time_s)
    lots = {fid: f.typical_lot for fid, f in model.factories.items()}
    return model.snapshot(), lots


def state_from_snapshots(
    complex_: Complex,
    snapshots: Mapping[str, FactorySnapshot],
    *,
    settings: ModelSettings | None = None,
    seed: int = 0,
    warmup_h: float = PRIOR_WARMUP_H,
    now_ms: int | None = None,
) -> StateEstimate:
    """Combine the model's prior with the observed machine states (see the module docstring).

    ``snapshots`` maps factory ids to their latest snapshot; ``now_ms`` is the moment to
    start from (default: the newest snapshot's time).
    """
    settings = settings or ModelSettings()
    if now_ms is None:
        if not snapshots:
            raise ValueError("no snapshot to start from: is the live twin running?")
        now_ms = max(s.ts_ms for s in snapshots.values())
    time_s = time_of_day_s(complex_, now_ms)
    prior, typical = prior_state(complex_, settings, time_s, seed=seed, warmup_h=warmup_h)
    machines = dict(prior.machines)
    buffers = {k: list(v) for k, v in prior.buffers.items()}
    est = StateEstimate(prior, now_ms)
    capacity = {
        m.id: ln.buffer_capacity
        for f in complex_.factories.values()
        for ln in f.lines
        for m in ln.machines
    }
    first = {ln.machines[0].id for f in complex_.factories.values() for ln in f.lines}
    factory_of = {
        m.id: f.id for f in complex_.factories.values() for ln in f.lines for m in ln.machines
    }
    seen: dict[str, str] = {}
    for fid, snap in snapshots.items():
        if fid not in complex_.factories:
            continue
        for m in snap.machines:
            if m.id in factory_of and not m.stale and m.state != UNKNOWN_STATE:
                seen[m.id] = m.state
        for kind in snap.disasters:
            if kind in DISASTER_KINDS:
                est.stopped[fid] = kind
    est.missing_factories = sorted(set(complex_.factories) - set(snapshots))

    def room(mid: str) -> bool:
        return mid in first or len(buffers.get(mid, ())) < capacity[mid]

    for mid in factory_of:
        observed = seen.get(mid)
        p = machines.get(mid) or MachineSnapshot()
        if observed == MachineState.DOWN.value and factory_of[mid] in est.stopped:
            observed = None  # down because the factory is stopped, not failed: the stop holds it
        if observed is None:
            est.estimated.append(mid)
            continue
        est.observed.append(mid)
        state = MachineState(observed)
        holding = p.job is not None and not p.blocked
        if state in (MachineState.BUSY, MachineState.SETUP):
            job = p.job
            work_left = p.work_left_s if p.state is MachineState.BUSY and not p.blocked else None
            if job is None:
                queue = buffers.get(mid, [])
                if queue:
                    job = queue.pop(0)
                else:
                    job = WorkItem(max(1, typical.get(factory_of[mid], 1)))
                    est.lots_created += 1
            if p.blocked:
                work_left = None  # the observed machine works: the blocked lot has moved on
            if state is MachineState.BUSY:
                new = MachineSnapshot(
                    state,
                    job=job,
                    work_left_s=work_left,
                    time_to_failure_s=p.time_to_failure_s,
                    product=p.product,
                )
            else:
                new = MachineSnapshot(
                    state, job=job, time_to_failure_s=p.time_to_failure_s, product=p.product
                )
        elif state is MachineState.DOWN:
            job = p.job if holding else None
            new = MachineSnapshot(
                state,
                job=job,
                work_left_s=(
                    p.work_left_s
                    if job is not None and p.state in (MachineState.BUSY, MachineState.DOWN)
                    else None
                ),
                time_to_failure_s=p.time_to_failure_s,
                product=p.product,
            )
        else:  # idle or off
            if p.blocked:
                new = p  # idle, holding a finished lot: consistent with what is observed
            else:
                if holding:
                    assert p.job is not None
                    if room(mid):
                        buffers.setdefault(mid, []).insert(0, p.job)
                    else:
                        est.lots_dropped += 1
                new = MachineSnapshot(
                    MachineState.IDLE, time_to_failure_s=p.time_to_failure_s, product=p.product
                )
        machines[mid] = new
    restart_s = settings.emergency.restart.mean
    stops = dict(prior.factory_stops)
    for fid, kind in est.stopped.items():
        stops[fid] = max(stops.get(fid, 0.0), DISASTER_KINDS[kind][0] * 3600.0 + restart_s)
    est.state = replace(
        prior,
        machines=machines,
        buffers={k: tuple(v) for k, v in buffers.items() if v},
        factory_stops=stops,
    )
    return est


def observed_snapshots(model: ComplexModel, ts_ms: int) -> dict[str, FactorySnapshot]:
    """What a perfect live twin would publish about ``model`` now: every machine's state,
    fresh, with its power and counters (for tests, benchmarks and demos without ``twin live``)."""
    out: dict[str, FactorySnapshot] = {}
    for f in model.factories.values():
        machines = []
        counts: dict[str, int] = {}
        for line in f.lines:
            for m in line.machines:
                state = m.state.value
                counts[state] = counts.get(state, 0) + 1
                machines.append(
                    ObservedMachine(
                        m.id,
                        line.id,
                        state,
                        ts_ms,
                        "state_sensor",
                        m.power_kw,
                        float(m.good),
                        float(m.scrap),
                        ts_ms,
                        False,
                    )
                )
        out[f.id] = FactorySnapshot(
            f.id,
            f.tenant,
            f.zone,
            ts_ms,
            tuple(machines),
            counts,
            sum(m.power_kw or 0.0 for m in machines),
            len(machines),
            0,
            (),
            (),
            AlarmCounts(),
            (),
        )
    return out
