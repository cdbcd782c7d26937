"""Plausible sensor signals for every sensor of a complex (pure: no I/O, no wall clock).

:class:`SignalSource` is the one interface the fleet needs: "give me the readings
of these sensors at this simulated time". :class:`SyntheticSource` implements it
with stochastic models; a SimPy-driven source can replace it without touching
the scheduler, the publisher or the CLI.

What the synthetic source simulates (see docs/sensors.md):

- machines: an off/setup/idle/busy/down process per machine (:mod:`sensors.machines`)
  drives power (the configured ``power_kw`` of the state plus noise), current,
  energy, vibration, speed and pressure (fast lag), temperature (slow lag),
  the ``state`` code and monotonic good/scrap counters;
- factories: total power and energy of their machines plus a base load, indoor
  temperature and humidity, compressed-air pressure;
- hazards: quiet, realistic backgrounds (gas a few ppm, smoke near 0, flame 0,
  water level stable, seismic a few milli-g of noise, temperature = ambient);
- logistics: trucks driving the roads (position, speed, load) and dock occupancy;
- weather: seasonal and daily outdoor temperature and humidity in site time.

Every value is clamped into the sensor's configured range and rounded to a
resolution fit for its unit. Each sensor draws noise from its own generator,
seeded from (seed, sensor id), so a run is reproducible: the same complex,
seed and sequence of ``sample`` calls give identical readings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sensors.logistics import Fleet
from sensors.machines import MachineProcess
from sensors.randomness import derive_seed, rng_for
from sensors.shifts import ShiftCalendar
from twin.codec import Reading
from twin.model import Complex, MachineState, SensorInfo

__all__ = ["SignalSource", "SyntheticSource", "UnknownSensor"]

_DAY_MS = 86_400_000
_TWO_PI = 2 * math.pi

# ---- tunables ---------------------------------------------------------------

#: Outdoor climate (a temperate, Korean-like site): yearly mean and half swing, daily half swing.
SEASON_MEAN_C = 12.5
SEASON_SWING_C = 14.0
DAILY_SWING_C = 5.0
#: Indoor temperature: set point, how much outdoor weather leaks in, heat from busy machines.
INDOOR_SETPOINT_C = 21.0
INDOOR_OUTDOOR_LEAK = 0.2
INDOOR_MACHINE_HEAT_C = 3.0
#: How slowly sensor drift wanders (Ornstein-Uhlenbeck time constant), seconds.
DRIFT_TAU_S = 6 * 3600.0
#: Factory base load (lighting, HVAC, compressors) as a share of its machines' busy power.
BASE_LOAD_SHARE = 0.08
#: Machine temperature when busy, as a share of the way from ambient to the top of the range.
HOT_SHARE = 0.3
#: Healthy vibration when busy (ISO 10816 zone A/B), mm/s.
BUSY_VIBRATION_MM_S = 4.0
#: Decimals a published value is rounded to, by unit (counts and codes are whole numbers).
DECIMALS = {
    "kW": 3,
    "W": 1,
    "kWh": 3,
    "degC": 2,
    "mm/s": 3,
    "bar": 3,
    "kPa": 2,
    "A": 2,
    "%RH": 1,
    "rpm": 1,
    "km/h": 2,
    "ppm": 2,
    "%LEL": 3,
    "%obs/m": 4,
    "cm": 2,
    "m": 2,
    "g": 5,
    "gal": 3,
    "%": 2,
    "count": 0,
    "state": 0,
    "bool": 0,
}
#: 1 g in gal (cm/s^2).
GAL_PER_G = 980.665


class UnknownSensor(KeyError):
    """A sensor id that is not in the complex."""

    def __str__(self) -> str:
        return f"unknown sensor {self.args[0]!r}: not in the complex config"


@runtime_checkable
class SignalSource(Protocol):
    """Produces the readings of sensors at a simulated time; the fleet's only input.

    Calls come in non-decreasing ``ts_ms`` (sensors of one tick share it). An
    implementation must return one reading per id, stamped ``ts_ms``, with a
    value inside the sensor's configured range.
    """

    def sample(self, sensor_ids: Sequence[str], ts_ms: int) -> list[Reading]: ...


class _Noise:
    """White noise plus a slow Ornstein-Uhlenbeck drift, from one sensor's generator."""

    __slots__ = ("_rng", "_white", "_drift_sd", "_tau_ms", "_x", "_last")

    def __init__(
        self, rng: random.Random, white_sd: float, drift_sd: float, tau_s: float = DRIFT_TAU_S
    ):
        self._rng = rng
        self._white = white_sd
        self._drift_sd = drift_sd
        self._tau_ms = tau_s * 1000
        self._x = rng.gauss(0.0, drift_sd) if drift_sd else 0.0  # also the calibration offset
        self._last: int | None = None

    def __call__(self, ts_ms: int) -> float:
        rng = self._rng
        if self._drift_sd:
            if self._last is not None and ts_ms > self._last:
                a = math.exp(-(ts_ms - self._last) / self._tau_ms)
                self._x = self._x * a + self._drift_sd * math.sqrt(1 - a * a) * rng.gauss(0.0, 1.0)
            self._last = ts_ms
        return self._x + (rng.gauss(0.0, self._white) if self._white else 0.0)


@dataclass(frozen=True, slots=True)
class _Signal:
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


class SyntheticSource:
    """Stochastic signals for every sensor of ``complex_``, reproducible from ``seed``."""

    def __init__(self, complex_: Complex, seed: int = 0):
        self.complex = complex_
        self.seed = seed
        site = complex_.site
        self.calendar = ShiftCalendar(site.shifts, site.timezone)
        self.machines: dict[str, MachineProcess] = {
            mid: MachineProcess(
                m, self.calendar, rng_for(seed, "machine", mid), derive_seed(seed, "scrap", mid)
            )
            for mid, m in complex_.machines.items()
        }
        self.fleet = Fleet(complex_, self.calendar, lambda tid: rng_for(seed, "truck", tid))
        weather = rng_for(seed, "weather")
        # Passing fronts: a few slow waves with random phases (degC amplitude, period in days).
        self._fronts = [
            (weather.uniform(1.0, 3.0), p, weather.uniform(0, _TWO_PI)) for p in (2.7, 5.3, 11.0)
        ]
        self._factory_machines = {
            f.id: tuple(m.id for ln in f.lines for m in ln.machines)
            for f in complex_.factories.values()
        }
        self._anchor_ms: int | None = None
        self._signals = {sid: self._build(info) for sid, info in complex_.sensors.items()}

    # ---- the interface --------------------------------------------------------------

    def sample(self, sensor_ids: Sequence[str], ts_ms: int) -> list[Reading]:
        if self._anchor_ms is None:
            self._anchor_ms = ts_ms
        out = []
        for sid in sensor_ids:
            sig = self._signals.get(sid)
            if sig is None:
                raise UnknownSensor(sid)
            out.append(Reading(sid, ts_ms, sig.value(ts_ms)))
        return out

    def machine_state(self, machine_id: str, ts_ms: int) -> MachineState:
        """The simulated state of a machine (what its ``state`` sensor reports)."""
        return self.machines[machine_id].state_at(ts_ms)

    # ---- environment ----------------------------------------------------------------

    def outdoor_temp_c(self, ts_ms: int) -> float:
        cal = self.calendar
        doy, hour = cal.day_of_year(ts_ms), cal.local_hour(ts_ms)
        season = SEASON_MEAN_C - SEASON_SWING_C * math.cos(_TWO_PI * (doy - 15) / 365.25)
        daily = DAILY_SWING_C * math.cos(_TWO_PI * (hour - 15) / 24)
        days = ts_ms / _DAY_MS
        fronts = sum(a * math.sin(_TWO_PI * days / p + ph) for a, p, ph in self._fronts)
        return season + daily + fronts

    def outdoor_humidity(self, ts_ms: int) -> float:
        hour = self.calendar.local_hour(ts_ms)
        return 65.0 + 15.0 * math.cos(_TWO_PI * (hour - 5) / 24)

    def _busy_heat(self, factory_id: str | None, ts_ms: int) -> float:
        mids = self._factory_machines.get(factory_id or "", ())
        if not mids:
            return 0.0
        return sum(self.machines[m].segment_at(ts_ms).heat_level(ts_ms) for m in mids) / len(mids)

    def indoor_temp_c(self, factory_id: str | None, ts_ms: int) -> float:
        outdoor = self.outdoor_temp_c(ts_ms)
        return (
            INDOOR_SETPOINT_C
            + INDOOR_OUTDOOR_LEAK * (outdoor - SEASON_MEAN_C)
            + INDOOR_MACHINE_HEAT_C * self._busy_heat(factory_id, ts_ms)
        )

    def _elapsed_h(self, ts_ms: int) -> float:
        anchor = self._anchor_ms if self._anchor_ms is not None else ts_ms
        return max(0, ts_ms - anchor) / 3_600_000

    def _daily_wave(self, ts_ms: int, peak_hour: float = 14.0) -> float:
        """-1..1 over the local day, highest at ``peak_hour``."""
        return math.cos(_TWO_PI * (self.calendar.local_hour(ts_ms) - peak_hour) / 24)

    def _metered_kwh(self, rate_kw: float, phase: float) -> Callable[[int], float]:
        """An energy meter for a load of ``rate_kw`` * (1 + 0.3 sin(day)): exact and monotonic."""
        w = _TWO_PI / 24

        def energy(ts_ms: int) -> float:
            h = self._elapsed_h(ts_ms)
            return rate_kw * (h + 0.3 / w * (math.cos(phase) - math.cos(w * h + phase)))

        return energy

    # ---- building one sensor's signal ---------------------------------------------

    def _build(self, info: SensorInfo) -> _Signal:
        s = info.sensor
        lo, hi = s.range
        rng = rng_for(self.seed, "sensor", s.id)
        fn = self._signal_fn(info, rng)
        return _Signal(fn, lo, hi, DECIMALS.get(s.unit, 4))

    def _signal_fn(self, info: SensorInfo, rng: random.Random) -> Callable[[int], float]:
        s = info.sensor
        kind, unit = s.kind, s.unit
        lo, hi = s.range
        span = hi - lo
        machine = self.machines.get(info.machine) if info.machine else None
        truck = self.fleet.trucks.get(info.device) if not info.factory else None
        is_centre = (
            self.complex.logistics is not None and info.device == self.complex.logistics.centre.id
        )

        def noise(white: float, drift: float = 0.0, tau_s: float = DRIFT_TAU_S) -> _Noise:
            return _Noise(rng, white, drift, tau_s)

        # -- hazard kinds: quiet backgrounds wherever they are mounted ------------------
        if kind == "gas":
            base = lo + min(0.3 if unit == "%LEL" else 2.0, 0.01 * span)
            n = noise(0.1 * (base - lo) + 1e-6, 0.2 * (base - lo))
            return lambda t: base + n(t)
        if kind == "smoke":
            base = lo + min(0.04, 0.005 * span)
            n = noise(0.005, 0.01)
            return lambda t: base + n(t)
        if kind == "flame":
            return lambda t: lo
        if kind == "water_level":
            base = lo + 0.1 * span
            n = noise(0.002 * span, 0.01 * span, tau_s=12 * 3600)
            return lambda t: base + n(t)
        if kind == "seismic":
            scale = GAL_PER_G if unit == "gal" else 1.0
            return lambda t: scale * (0.0003 + abs(rng.gauss(0.0, 0.0015)))

        # -- machines --------------------------------------------------------------------
        if machine is not None:
            m = machine
            if kind == "state":
                return lambda t: float(m.state_at(t).code)
            if kind == "good_count":
                return lambda t: float(m.good_at(t))
            if kind == "scrap_count":
                return lambda t: float(m.scrap_at(t))
            if kind == "energy":
                return m.energy_kwh_at
            if kind in ("power", "current"):
                n = noise(0.015)
                watts = 1000.0 if unit == "W" else 1.0
                amps_per_kw = 1000.0 / (math.sqrt(3) * 400.0 * 0.9)  # 400 V three-phase, PF 0.9
                per_kw = amps_per_kw if kind == "current" else watts

                def power(t: int) -> float:
                    seg = m.segment_at(t)
                    p = seg.power_kw
                    if p == 0.0:
                        return 0.0  # a switched-off meter reads zero, not noise
                    if seg.cycle_ms:  # the load ripples with the work cycle
                        p *= 1.0 + 0.03 * math.sin(_TWO_PI * (t - seg.start_ms) / seg.cycle_ms)
                    return per_kw * p * (1.0 + n(t))

                return power
            if kind == "vibration":
                busy = min(BUSY_VIBRATION_MM_S, lo + 0.4 * span)
                floor = lo + min(0.05, 0.01 * span)
                wear = noise(0.0, 0.05, tau_s=24 * 3600)
                jitter = noise(0.06)

                def vibration(t: int) -> float:
                    level = m.segment_at(t).fast_level(t)
                    return (floor + level * (busy - floor)) * (1.0 + abs(wear(t)) + jitter(t))

                return vibration
            if kind == "temperature":
                n = noise(0.3, 0.5)

                def temperature(t: int) -> float:
                    amb = self.indoor_temp_c(info.factory, t)
                    hot = amb + HOT_SHARE * (hi - max(lo, amb))
                    return amb + m.segment_at(t).heat_level(t) * (hot - amb) + n(t)

                return temperature
            if kind in ("pressure", "speed", "load"):
                n = noise(0.01 * span, 0.01 * span)
                share = {"pressure": 0.6, "speed": 0.7, "load": 0.8}[kind]
                idle = 0.05 if kind == "pressure" else 0.0
                return lambda t: lo + (idle + share * m.segment_at(t).fast_level(t)) * span + n(t)
            if kind == "humidity":
                n = noise(0.5, 1.0)
                return lambda t: 45.0 + 0.3 * (self.outdoor_humidity(t) - 65.0) + n(t)

        # -- factories (and their other sensors) -------------------------------------------
        if info.factory is not None:
            mids = self._factory_machines.get(info.factory, ())
            procs = [self.machines[i] for i in mids]
            base_kw = BASE_LOAD_SHARE * sum(p.machine.power_kw.busy for p in procs)
            if kind in ("power", "current"):
                n = noise(0.01)
                per_kw = (
                    1000.0 / (math.sqrt(3) * 400.0 * 0.9)
                    if kind == "current"
                    else (1000.0 if unit == "W" else 1.0)
                )

                def factory_power(t: int) -> float:
                    shift = 1.0 if self.calendar.shift_at(t) is not None else 0.6
                    total = sum(p.segment_at(t).power_kw for p in procs) + base_kw * shift
                    return per_kw * total * (1.0 + n(t))

                return factory_power
            if kind == "energy":
                base_meter = self._metered_kwh(base_kw, rng.uniform(0, _TWO_PI))
                return lambda t: sum(p.energy_kwh_at(t) for p in procs) + base_meter(t)
            if kind in ("good_count", "scrap_count"):
                if kind == "good_count":
                    return lambda t: float(sum(p.good_at(t) for p in procs))
                return lambda t: float(sum(p.scrap_at(t) for p in procs))
            if kind == "state" and procs:
                return lambda t: float(max(p.state_at(t).code for p in procs))
            if kind == "temperature":
                n = noise(0.2, 0.3)
                return lambda t: self.indoor_temp_c(info.factory, t) + n(t)
            if kind == "humidity":
                n = noise(0.5, 1.5)
                return lambda t: 45.0 + 0.3 * (self.outdoor_humidity(t) - 65.0) + n(t)
            if kind == "pressure":  # compressed-air header: dips a little when machines work
                n = noise(0.003 * span, 0.005 * span)

                def header(t: int) -> float:
                    busy = sum(p.segment_at(t).fast_level(t) for p in procs) / max(1, len(procs))
                    return lo + (0.58 - 0.04 * busy) * span + n(t)

                return header

        # -- logistics -----------------------------------------------------------------------
        if truck is not None:
            tp = truck
            if kind in ("position_x", "position_y"):
                axis = 0 if kind == "position_x" else 1
                n = noise(1.5)  # GPS jitter, metres
                return lambda t: tp.position_at(t)[axis] + n(t)
            if kind == "speed":
                n = noise(0.03)
                if unit == "rpm":
                    return lambda t: 1500.0 * (1.0 + 3 * n(t)) if tp.speed_kmh_at(t) else 0.0
                return lambda t: tp.speed_kmh_at(t) * (1.0 + n(t))
            if kind == "load":
                cap = float(tp.truck.capacity)
                scale = 100.0 / cap if unit == "%" else 1.0
                return lambda t: round(tp.load_at(t)) * scale
        if is_centre and kind == "occupancy":
            return lambda t: float(self.fleet.docked_at(t))
        if kind in ("position_x", "position_y"):  # fixed assets sit where the layout puts them
            x, y = self._place_of(info)
            v = x if kind == "position_x" else y
            return lambda t: v
        if kind == "temperature":
            n = noise(0.2, 0.3)
            if is_centre:
                return lambda t: 0.5 * (self.outdoor_temp_c(t) + INDOOR_SETPOINT_C) + n(t)
            return lambda t: self.outdoor_temp_c(t) + n(t)
        if kind == "humidity":
            n = noise(1.0, 2.0)
            return lambda t: self.outdoor_humidity(t) + n(t)
        if kind in ("power", "energy", "current") and (is_centre or truck is None):
            rate = min(50.0, 0.3 * span) if kind != "energy" else 40.0
            phase = rng.uniform(0, _TWO_PI)
            if kind == "energy":
                return self._metered_kwh(rate, phase)
            n = noise(0.02)
            return lambda t: (
                lo
                + rate
                * (1 + 0.3 * math.sin(_TWO_PI * self._elapsed_h(t) / 24 + phase))
                * (1 + n(t))
            )
        if kind in ("good_count", "scrap_count", "energy"):
            rate = 0.001 * span
            return lambda t: lo + rate * self._elapsed_h(t)
        if kind == "state":
            return lambda t: float(MachineState.IDLE.code)

        # -- anything else: a mid-low level with a daily rhythm, drift and noise ----------
        integer = unit in ("count", "state", "bool")
        n = noise(0.01 * span, 0.03 * span)

        def generic(t: int) -> float:
            v = lo + span * (0.35 + 0.1 * self._daily_wave(t)) + n(t)
            return round(v) if integer else v

        return generic

    def _place_of(self, info: SensorInfo) -> tuple[float, float]:
        c = self.complex
        if info.factory is not None:
            p = c.factories[info.factory].position
            return p.x, p.y
        if c.logistics is not None and info.device == c.logistics.centre.id:
            p = c.logistics.centre.position
            return p.x, p.y
        for z in c.zones:
            if z.id == info.device:
                return z.area.x + z.area.w / 2, z.area.y + z.area.h / 2
        return 0.0, 0.0
