"""A :class:`~sensors.signals.SignalSource` driven by the SimPy model of the complex.

``twin sensors --source model`` runs the model of :mod:`simulations` (the one the
process engineer experiments with) in step with the fleet's simulated clock and
publishes what it does: machine state, power, current, energy, vibration and
temperature follow the model's machine states; good and scrap counters are the
model's own; trucks drive the routes the model sends them on; dock occupancy is the
model's; hazard sensors read their quiet background plus whatever an injected or
scheduled disaster adds (:mod:`sensors.hazards`).

Pacing: the fleet's :class:`~sensors.fleet.SimClock` is the pacing (``--speed``, and
the catch-up rule that a fixed-factor ``RealtimeEnvironment`` cannot express). Each
:meth:`ModelSource.sample` first advances the model to exactly the sample's time
(``env.run(until=t)``), so every reading is the model's state at its timestamp, and a
run against a fake clock is deterministic. The model stays pure: it stamps events with
``env.now`` and hands them to :class:`~sensors.model_view.ModelView`; this module does
no I/O either. Disasters are injected between steps from the sampling thread
(:meth:`ModelSource.request`, safe to call from any thread).

Time: simulation second 0 is 00:00 site time of the day the fleet starts (``day: 1`` of
a scenario's disaster schedule). The model is built :data:`WARMUP_S` before the start
and run silently up to it, so lines hold work and machines are mid-cycle at the first
reading; counters and energy count from 0 at the start, like the synthetic fleet.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sensors.hazards import HazardField
from sensors.injection import InjectCommand, InjectResult
from sensors.model_view import MachineTrack, ModelView, standing
from sensors.randomness import rng_for
from sensors.shifts import ShiftCalendar
from sensors.signals import (
    BASE_LOAD_SHARE,
    BUSY_VIBRATION_MM_S,
    DECIMALS,
    DRIFT_TAU_S,
    HOT_SHARE,
    INDOOR_MACHINE_HEAT_C,
    INDOOR_OUTDOOR_LEAK,
    INDOOR_SETPOINT_C,
    SEASON_MEAN_C,
    SyntheticSource,
    UnknownSensor,
)
from twin.codec import Reading
from twin.model import Complex, MachineState, SensorInfo

if TYPE_CHECKING:
    from simulations.model import ComplexModel
    from simulations.settings import ModelSettings

__all__ = ["ModelSource", "WARMUP_S"]

log = logging.getLogger(__name__)

# ---- tunables ---------------------------------------------------------------

#: The model runs this long (simulated) before the first reading, so lines hold work.
WARMUP_S = 8 * 3600.0
#: Relative white noise of power and current meters, and the ripple with the work cycle.
POWER_NOISE = 0.015
POWER_RIPPLE = 0.03
#: Seismic readings are the peak of the sample period: the envelope times a factor in this range.
SEISMIC_PEAK_RANGE = (0.7, 1.0)
#: Forget decayed incidents at most this often (simulated ms).
PRUNE_EVERY_MS = 60_000

_AMPS_PER_KW = 1000.0 / (math.sqrt(3) * 400.0 * 0.9)  # 400 V three-phase, PF 0.9

_HAZARD_BACKGROUND = frozenset({"gas", "smoke", "flame", "water_level", "seismic"})


class _Noise:
    """White noise plus a slow Ornstein-Uhlenbeck drift from one sensor's generator."""

    __slots__ = ("_rng", "_white", "_drift", "_tau_ms", "_x", "_last")

    def __init__(
        self, rng: random.Random, white: float, drift: float = 0.0, tau_s: float = DRIFT_TAU_S
    ):
        self._rng = rng
        self._white = white
        self._drift = drift
        self._tau_ms = tau_s * 1000
        self._x = rng.gauss(0.0, drift) if drift else 0.0
        self._last: int | None = None

    def __call__(self, ts_ms: int) -> float:
        if self._drift:
            if self._last is not None and ts_ms > self._last:
                a = math.exp(-(ts_ms - self._last) / self._tau_ms)
                self._x = self._x * a + self._drift * math.sqrt(1 - a * a) * self._rng.gauss(0, 1)
            self._last = ts_ms
        return self._x + (self._rng.gauss(0.0, self._white) if self._white else 0.0)


@dataclass(frozen=True, slots=True)
class _Out:
    fn: Callable[[int], float]
    lo: float
    hi: float
    decimals: int

    def value(self, ts_ms: int) -> float:
        v = self.fn(ts_ms)
        if not math.isfinite(v):
            v = self.lo
        v = round(min(max(v, self.lo), self.hi), self.decimals)
        return float(min(max(v, self.lo), self.hi))


class _BaseMeter:
    """Energy of a factory's base load, integrated at the times it is read (monotonic)."""

    __slots__ = ("kwh", "_last", "_kw")

    def __init__(self) -> None:
        self.kwh = 0.0
        self._last: int | None = None
        self._kw = 0.0

    def read(self, ts_ms: int, kw_now: float) -> float:
        if self._last is not None and ts_ms > self._last:
            self.kwh += self._kw * (ts_ms - self._last) / 3_600_000
        if self._last is None or ts_ms >= self._last:
            self._last, self._kw = ts_ms, kw_now
        return self.kwh


@dataclass(slots=True)
class _Pending:
    command: InjectCommand
    reply: Callable[[InjectResult], None] | None


class ModelSource:
    """Readings of every sensor of ``complex_`` from a SimPy model run in step with the fleet.

    ``start_ms`` is the fleet's simulated start; ``settings`` the modelling settings
    (a scenario's, with its disaster schedule; default: :class:`ModelSettings` defaults);
    ``model_complex`` the complex the model is built from when a scenario changed it
    (default ``complex_``). ``on_disaster(ts_ms, data)`` is told every disaster phase
    from the start on (``data`` as in :data:`simulations.events.DISASTER`).
    """

    def __init__(
        self,
        complex_: Complex,
        start_ms: int,
        settings: ModelSettings | None = None,
        *,
        seed: int = 0,
        warmup_s: float = WARMUP_S,
        model_complex: Complex | None = None,
        on_disaster: Callable[[int, dict[str, object]], None] | None = None,
    ):
        import simpy

        from simulations.model import build_model  # only the model-driven fleet needs SimPy

        if not (math.isfinite(warmup_s) and warmup_s >= 0):
            raise ValueError(f'"warmup_s" must be a finite number >= 0, got {warmup_s}')
        self.complex = complex_
        self.start_ms = start_ms
        self.seed = seed
        self._synthetic = SyntheticSource(complex_, seed=seed)
        self.calendar: ShiftCalendar = self._synthetic.calendar
        # Simulation second 0 = 00:00 site time of the start day.
        self.t0_s = self.calendar.local_hour(start_ms) * 3600.0
        self.hazards = HazardField(complex_)
        self.on_disaster = on_disaster
        self._started = False
        env = simpy.Environment(initial_time=self.t0_s - warmup_s)
        self.view = ModelView(complex_, self.to_ms, self.hazards, on_disaster=self._disaster_seen)
        self.model: ComplexModel = build_model(
            model_complex or complex_, settings, seed=seed, env=env, sink=self.view
        )
        lg = self.model.logistics
        if lg is not None:
            net = lg.network
            self.view.set_roads(net.places, lambda a, b: net.path(a, b, lg.blocked))
            for truck in lg.trucks:
                self.view.trucks.setdefault(truck.id, standing(net.places[truck.location]))
        if warmup_s > 0:
            self.model.run(self.t0_s)
        # The model's own KPIs cover exactly what the fleet publishes (compare with live KPIs).
        self.model.reset_statistics()
        self._started = True
        self._base = {
            mid: (t.good, t.scrap, self._energy(t, start_ms))
            for mid, t in self.view.machines.items()
        }
        self._pending: deque[_Pending] = deque()
        self._last_prune = start_ms
        self._factory_machines = {
            fid: self.view.factory_machines(fid) for fid in complex_.factories
        }
        self._signals = {sid: self._build(info) for sid, info in complex_.sensors.items()}

    # ---- time ----------------------------------------------------------------------------

    def to_ms(self, sim_s: float) -> int:
        """Epoch ms of simulation second ``sim_s``."""
        return self.start_ms + round((sim_s - self.t0_s) * 1000)

    def sim_s(self, ts_ms: int) -> float:
        """Simulation second of epoch ms ``ts_ms``."""
        return self.t0_s + (ts_ms - self.start_ms) / 1000

    # ---- the SignalSource interface ---------------------------------------------------------

    def sample(self, sensor_ids: Sequence[str], ts_ms: int) -> list[Reading]:
        self.advance(ts_ms)
        out = []
        for sid in sensor_ids:
            sig = self._signals.get(sid)
            if sig is None:
                raise UnknownSensor(sid)
            out.append(Reading(sid, ts_ms, sig.value(ts_ms)))
        return out

    def advance(self, ts_ms: int) -> None:
        """Run the model up to ``ts_ms``, then start any disaster requested meanwhile."""
        until = self.sim_s(ts_ms)
        if until > self.model.env.now:
            self.model.run(until)
        while self._pending:
            self._apply(self._pending.popleft())
        if ts_ms - self._last_prune >= PRUNE_EVERY_MS:
            self.hazards.prune(ts_ms)
            self._last_prune = ts_ms

    # ---- disasters -----------------------------------------------------------------------------

    def request(
        self, command: InjectCommand, reply: Callable[[InjectResult], None] | None = None
    ) -> None:
        """Start the disaster at the next sample (any thread); ``reply`` gets the outcome."""
        self._pending.append(_Pending(command, reply))

    def inject(self, command: InjectCommand) -> InjectResult:
        """Start ``command``'s disaster now (call from the sampling thread, between samples)."""
        from simulations.errors import SimulationError

        now_ms = self.to_ms(self.model.env.now)
        try:
            did = self.model.inject_disaster(command.to_spec())
        except (SimulationError, ValueError) as exc:
            log.warning("injection %s refused: %s", command.id, exc)
            return InjectResult(command.id, False, now_ms, error=str(exc)[:300])
        rec = next(r for r in self.model.disasters.records if r.id == did)
        log.info(
            "injected %s (%s) at %s: zones %s, factories %s",
            did,
            command.id,
            now_ms,
            rec.zones,
            rec.factories,
        )
        return InjectResult(
            command.id,
            True,
            now_ms,
            disaster=did,
            zones=tuple(rec.zones),
            factories=tuple(rec.factories),
        )

    def _apply(self, p: _Pending) -> None:
        result = self.inject(p.command)
        if p.reply is not None:
            try:
                p.reply(result)
            except Exception:  # the reply is an adapter's; a failing one must not stop the fleet
                log.exception("reply to injection %s failed", p.command.id)

    def _disaster_seen(self, ts_ms: int, data: dict[str, object]) -> None:
        if self._started and self.on_disaster is not None:
            try:
                self.on_disaster(ts_ms, data)
            except Exception:  # an adapter's callback; the model must keep running
                log.exception("publishing disaster phase %s failed", data.get("phase"))

    # ---- what the model says, for callers and tests -------------------------------------

    def machine_state(self, machine_id: str) -> MachineState:
        return self.view.machines[machine_id].state

    def kpis(self) -> dict[str, float]:
        """The model's KPIs (``docs/kpis.md``) from the fleet's start to the last sample."""
        return self.model.kpis()

    @property
    def now_ms(self) -> int:
        """The model's clock as epoch ms (the last sample's time)."""
        return self.to_ms(self.model.env.now)

    def counters(self, machine_id: str) -> tuple[int, int]:
        """(good, scrap) since the fleet started."""
        t = self.view.machines[machine_id]
        g0, s0, _ = self._base[machine_id]
        return t.good - g0, t.scrap - s0

    # ---- signals ------------------------------------------------------------------------

    @staticmethod
    def _energy(t: MachineTrack, ts_ms: int) -> float:
        return t.segment.energy_kwh(ts_ms) if t.segment is not None else 0.0

    def _indoor_c(self, factory_id: str, ts_ms: int) -> float:
        tracks = self._factory_machines.get(factory_id, [])
        heat = 0.0
        if tracks:
            heat = sum(t.segment.heat_level(ts_ms) for t in tracks if t.segment) / len(tracks)
        outdoor = self._synthetic.outdoor_temp_c(ts_ms)
        return (
            INDOOR_SETPOINT_C
            + INDOOR_OUTDOOR_LEAK * (outdoor - SEASON_MEAN_C)
            + INDOOR_MACHINE_HEAT_C * heat
        )

    def _background(self, sid: str) -> Callable[[int], float]:
        synth = self._synthetic

        def value(ts_ms: int) -> float:
            return synth.sample((sid,), ts_ms)[0].value

        return value

    def _build(self, info: SensorInfo) -> _Out:
        s = info.sensor
        lo, hi = s.range
        rng = rng_for(self.seed, "model-sensor", s.id)
        return _Out(self._signal_fn(info, rng), lo, hi, DECIMALS.get(s.unit, 4))

    def _signal_fn(self, info: SensorInfo, rng: random.Random) -> Callable[[int], float]:
        s = info.sensor
        kind, sid = s.kind, s.id
        hz = self.hazards
        view = self.view
        background = self._background(sid)

        def with_overlay(base: Callable[[int], float]) -> Callable[[int], float]:
            return lambda t: base(t) + hz.overlay(sid, t)

        # -- hazard kinds anywhere: the quiet background plus what disasters add --------------
        if kind in _HAZARD_BACKGROUND:
            if kind == "seismic":
                peak = SEISMIC_PEAK_RANGE

                def seismic(t: int) -> float:
                    extra = hz.overlay(sid, t)
                    return background(t) + (extra * rng.uniform(*peak) if extra else 0.0)

                return seismic
            return with_overlay(background)

        track = view.machines.get(info.machine or "")
        if track is not None:
            return self._machine_fn(info, track, rng, with_overlay, background)

        if info.factory is not None:
            got = self._factory_fn(info, rng, with_overlay)
            if got is not None:
                return got
            return with_overlay(background) if kind == "temperature" else background

        if info.hazard or kind == "temperature":
            return with_overlay(background)

        truck = view.trucks.get(info.device)
        if truck is not None and info.factory is None:
            return self._truck_fn(info, rng) or background

        lg = self.complex.logistics
        if (
            kind == "occupancy"
            and lg is not None
            and info.device == lg.centre.id
            and self.model.logistics is not None
        ):
            return lambda t: float(view.dock_occupied)
        return background

    def _machine_fn(
        self,
        info: SensorInfo,
        track: MachineTrack,
        rng: random.Random,
        with_overlay: Callable[[Callable[[int], float]], Callable[[int], float]],
        background: Callable[[int], float],
    ) -> Callable[[int], float]:
        s = info.sensor
        kind, unit = s.kind, s.unit
        lo, hi = s.range
        span = hi - lo
        mid = track.id
        base = self._base
        cycle_ms = max(1, round(self.complex.machines[mid].ideal_cycle_time_s * 1000))

        def seg(t: int) -> Any:
            return track.segment

        if kind == "state":
            return lambda t: float(track.state.code)
        if kind == "good_count":
            return lambda t: float(track.good - base[mid][0])
        if kind == "scrap_count":
            return lambda t: float(track.scrap - base[mid][1])
        if kind == "energy":
            return lambda t: seg(t).energy_kwh(t) - base[mid][2]
        if kind in ("power", "current"):
            noise = _Noise(rng, POWER_NOISE)
            per_kw = _AMPS_PER_KW if kind == "current" else (1000.0 if unit == "W" else 1.0)

            def power(t: int) -> float:
                sg = seg(t)
                p = sg.power_kw
                if p == 0.0:
                    return 0.0  # a meter without power reads zero, not noise
                if sg.state is MachineState.BUSY:
                    p *= 1.0 + POWER_RIPPLE * math.sin(2 * math.pi * (t - sg.start_ms) / cycle_ms)
                return per_kw * p * (1.0 + noise(t))

            return power
        if kind == "vibration":
            busy = min(BUSY_VIBRATION_MM_S, lo + 0.4 * span)
            floor = lo + min(0.05, 0.01 * span)
            wear = _Noise(rng, 0.0, 0.05, tau_s=24 * 3600)
            jitter = _Noise(rng, 0.06)

            def vibration(t: int) -> float:
                level = seg(t).fast_level(t)
                return (floor + level * (busy - floor)) * (1.0 + abs(wear(t)) + jitter(t))

            return vibration
        if kind == "temperature":
            noise = _Noise(rng, 0.3, 0.5)
            fid = track.factory

            def temperature(t: int) -> float:
                amb = self._indoor_c(fid, t)
                hot = amb + HOT_SHARE * (hi - max(lo, amb))
                return amb + seg(t).heat_level(t) * (hot - amb) + noise(t)

            return with_overlay(temperature)
        if kind in ("pressure", "speed", "load"):
            noise = _Noise(rng, 0.01 * span, 0.01 * span)
            share = {"pressure": 0.6, "speed": 0.7, "load": 0.8}[kind]
            idle = 0.05 if kind == "pressure" else 0.0
            return lambda t: lo + (idle + share * seg(t).fast_level(t)) * span + noise(t)
        return background

    def _factory_fn(
        self,
        info: SensorInfo,
        rng: random.Random,
        with_overlay: Callable[[Callable[[int], float]], Callable[[int], float]],
    ) -> Callable[[int], float] | None:
        s = info.sensor
        kind, unit = s.kind, s.unit
        lo, hi = s.range
        span = hi - lo
        fid = info.factory
        assert fid is not None
        tracks = self._factory_machines.get(fid, [])
        specs = [self.complex.machines[t.id] for t in tracks]
        base_kw = BASE_LOAD_SHARE * sum(m.power_kw.busy for m in specs)
        hz, cal, base = self.hazards, self.calendar, self._base

        def base_load(t: int) -> float:
            if hz.power_cut(fid, t):
                return 0.0
            return base_kw * (1.0 if cal.shift_at(t) is not None else 0.6)

        if kind in ("power", "current"):
            noise = _Noise(rng, 0.01)
            per_kw = _AMPS_PER_KW if kind == "current" else (1000.0 if unit == "W" else 1.0)

            def factory_power(t: int) -> float:
                total = sum(tr.segment.power_kw for tr in tracks if tr.segment) + base_load(t)
                return per_kw * total * (1.0 + noise(t)) if total else 0.0

            return factory_power
        if kind == "energy":
            meter = _BaseMeter()
            return lambda t: (
                sum(self._energy(tr, t) - base[tr.id][2] for tr in tracks)
                + meter.read(t, base_load(t))
            )
        if kind == "good_count":
            return lambda t: float(sum(tr.good - base[tr.id][0] for tr in tracks))
        if kind == "scrap_count":
            return lambda t: float(sum(tr.scrap - base[tr.id][1] for tr in tracks))
        if kind == "state" and tracks:
            return lambda t: float(max(tr.state.code for tr in tracks))
        if kind == "temperature":
            noise = _Noise(rng, 0.2, 0.3)
            return with_overlay(lambda t: self._indoor_c(fid, t) + noise(t))
        if kind == "pressure" and tracks:
            noise = _Noise(rng, 0.003 * span, 0.005 * span)

            def header(t: int) -> float:
                busy = sum(tr.segment.fast_level(t) for tr in tracks if tr.segment) / len(tracks)
                return lo + (0.58 - 0.04 * busy) * span + noise(t)

            return header
        return None

    def _truck_fn(self, info: SensorInfo, rng: random.Random) -> Callable[[int], float] | None:
        s = info.sensor
        kind, unit = s.kind, s.unit
        view, tid = self.view, info.device
        if kind in ("position_x", "position_y"):
            axis = 0 if kind == "position_x" else 1
            noise = _Noise(rng, 1.5)  # GPS jitter, metres
            return lambda t: view.trucks[tid].position(t)[axis] + noise(t)
        if kind == "speed":
            noise = _Noise(rng, 0.03)
            if unit == "rpm":
                return lambda t: (
                    1500.0 * (1.0 + 3 * noise(t)) if view.trucks[tid].speed_kmh(t) else 0.0
                )
            return lambda t: view.trucks[tid].speed_kmh(t) * (1.0 + noise(t))
        if kind == "load":
            lg = self.complex.logistics
            assert lg is not None  # a truck sensor exists only with logistics
            spec = next(tr for tr in lg.trucks if tr.id == tid)
            scale = 100.0 / spec.capacity if unit == "%" else 1.0
            return lambda t: view.trucks[tid].load * scale
        return None
