"""Alarm rules: compiled from the complex config, evaluated on readings (pure, no I/O).

The engine turns readings into :class:`Transition` s ("condition of key K became
true/false at t"); the lifecycle (:mod:`twin.alarms.lifecycle`) turns transitions into
alarms. Rule kinds:

- threshold with deadband (hysteresis) and on/off delays, per sensor;
- rate of change over a window, per sensor;
- stale or missing data, per device;
- composite disaster rules: fire, gas leak, flood and power outage per zone,
  earthquake for the complex.

Times are reading times (epoch ms) except for :meth:`RuleEngine.poll`, which
advances timers to ``now``. When the config has no ``alarms:`` section (or
``defaults: true``), :func:`default_rules` derives rules from the hazard sensors
(docs/alarms.md lists them).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from twin.alarms.records import AlarmKey
from twin.model import (
    PARK_OWNER,
    Complex,
    PowerDraw,
    RateRule,
    SensorInfo,
    StaleRule,
    ThresholdRule,
)

__all__ = [
    "AlarmSpec",
    "Transition",
    "Debounce",
    "ThresholdCheck",
    "RateCheck",
    "RuleEngine",
    "default_rules",
    "off_power_level",
    "GAL_PER_G",
]

#: 1 g in gal (cm/s²).
GAL_PER_G = 980.665
#: With ``RuleEngine(confirm_by_state=True)``, a machine's power drop joins an outage this
#: long after one period of its state sensor (the state reading of the same moment may be
#: sampled up to a period later, and travels in another message).
OUTAGE_CONFIRM_MARGIN_S = 1.0
#: A rate window keeps at most about this many points (older ones are thinned out), so
#: memory and time per reading stay bounded however fast a sensor publishes.
WINDOW_POINTS = 256


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """What an alarm of one key is: type, source, severity and where it sits."""

    type: str
    source: str
    source_kind: str  # sensor | device | zone | complex
    severity: str
    owner: str
    zones: tuple[str, ...]
    tenant: str | None = None
    factory: str | None = None
    machine: str | None = None
    disaster: bool = False

    @property
    def key(self) -> AlarmKey:
        return (self.source, self.type)


@dataclass(frozen=True, slots=True)
class Transition:
    """The condition of ``spec.key`` became ``active`` (or stopped being) at ``ts_ms``."""

    spec: AlarmSpec
    active: bool
    ts_ms: int
    value: float | None = None
    message: str = ""
    zones: tuple[str, ...] | None = None  # overrides spec.zones (earthquake: the zones hit)

    @property
    def key(self) -> AlarmKey:
        return self.spec.key


class Debounce:
    """Latched condition with on/off delays: flips only after the new raw value held long enough."""

    __slots__ = ("on_ms", "off_ms", "active", "pending_since")

    def __init__(self, on_delay_s: float = 0.0, off_delay_s: float = 0.0):
        self.on_ms = round(on_delay_s * 1000)
        self.off_ms = round(off_delay_s * 1000)
        self.active = False
        self.pending_since: int | None = None

    def update(self, raw: bool, ts_ms: int) -> int | None:
        """Feed the raw condition at ``ts_ms``; returns the transition time when the latch flips."""
        if raw == self.active:
            self.pending_since = None
            return None
        if self.pending_since is None:
            self.pending_since = ts_ms
        delay = self.on_ms if raw else self.off_ms
        if ts_ms - self.pending_since >= delay:
            self.active = raw
            self.pending_since = None
            return ts_ms
        return None

    def poll(self, now_ms: int) -> int | None:
        """Complete a pending change whose delay ran out by ``now_ms`` (no new reading needed)."""
        if self.pending_since is None:
            return None
        at = self.pending_since + (self.off_ms if self.active else self.on_ms)
        if now_ms >= at:
            self.active = not self.active
            self.pending_since = None
            return at
        return None


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class ThresholdCheck:
    """Value at or beyond a limit, with a deadband and on/off delays."""

    __slots__ = ("spec", "above", "limit", "clear", "unit", "deb", "label")

    def __init__(self, spec: AlarmSpec, rule: ThresholdRule, unit: str):
        self.spec = spec
        self.above = rule.above is not None
        self.limit = float(rule.above if rule.above is not None else rule.below)  # type: ignore[arg-type]
        self.clear = self.limit - rule.deadband if self.above else self.limit + rule.deadband
        self.unit = unit
        self.deb = Debounce(rule.on_delay_s, rule.off_delay_s)
        self.label = rule.message

    def on_value(self, ts: int, v: float) -> Transition | None:
        d = self.deb
        if self.above:
            raw = v >= self.clear if d.active else v >= self.limit
        else:
            raw = v <= self.clear if d.active else v <= self.limit
        at = d.update(raw, ts)
        if at is None:
            return None
        op = (">=" if self.above else "<=") if d.active else ("<" if self.above else ">")
        lim = self.limit if d.active else self.clear
        msg = f"{self.spec.source} {_fmt(v)} {self.unit} {op} {_fmt(lim)} {self.unit}"
        return Transition(self.spec, d.active, at, v, f"{self.label}: {msg}" if self.label else msg)

    def poll(self, now: int) -> Transition | None:
        at = self.deb.poll(now)
        if at is None:
            return None
        return Transition(
            self.spec,
            self.deb.active,
            at,
            None,
            self.label or f"{self.spec.source} (delay elapsed)",
        )


class RateCheck:
    """Change per minute between the newest reading and the oldest inside the window."""

    __slots__ = ("spec", "rise", "limit", "window_ms", "unit", "deb", "points", "spacing_ms", "label")

    def __init__(self, spec: AlarmSpec, rule: RateRule, unit: str):
        self.spec = spec
        self.rise = rule.rise_per_min is not None
        self.limit = float(rule.rise_per_min if self.rise else rule.fall_per_min)  # type: ignore[arg-type]
        self.window_ms = round(rule.window_s * 1000)
        self.unit = unit
        self.deb = Debounce(rule.on_delay_s, rule.off_delay_s)
        self.points: deque[tuple[int, float]] = deque()
        self.spacing_ms = max(1, self.window_ms // WINDOW_POINTS)
        self.label = rule.message

    def on_value(self, ts: int, v: float) -> Transition | None:
        pts = self.points
        if not pts or ts - pts[-1][0] >= self.spacing_ms:
            pts.append((ts, v))
        while pts and pts[0][0] < ts - self.window_ms:
            pts.popleft()
        if not pts:
            return None
        t0, v0 = pts[0]
        if ts - t0 < self.window_ms // 2:
            return None  # not enough history to tell a rate
        rate = (v - v0) / (ts - t0) * 60_000
        raw = rate >= self.limit if self.rise else -rate >= self.limit
        at = self.deb.update(raw, ts)
        if at is None:
            return None
        word = "rising" if self.rise else "falling"
        rate_txt = f"{_fmt(abs(rate))} {self.unit}/min"
        msg = f"{self.spec.source} {word} {rate_txt} (limit {_fmt(self.limit)})"
        return Transition(self.spec, self.deb.active, at, v, f"{self.label}: {msg}" if self.label else msg)

    def poll(self, now: int) -> Transition | None:
        at = self.deb.poll(now)
        if at is None:
            return None
        return Transition(
            self.spec,
            self.deb.active,
            at,
            None,
            self.label or f"{self.spec.source} (delay elapsed)",
        )


class StaleCheck:
    """Some of a device's chosen sensors are silent past factor x period."""

    __slots__ = ("spec", "sensors", "deb")

    def __init__(self, spec: AlarmSpec, sensors: list[tuple[str, int]]):
        self.spec = spec
        self.sensors = sensors  # (sensor id, silence limit ms)
        self.deb = Debounce()

    def evaluate(self, now: int, last_ts: Callable[[str], int | None], start_ms: int) -> Transition | None:
        stale = []
        for sid, limit in self.sensors:
            ts = last_ts(sid)
            # never heard since the start: silent since the start
            if now - (start_ms if ts is None else ts) > limit:
                stale.append(sid)
        at = self.deb.update(bool(stale), now)
        if at is None:
            return None
        if stale:
            msg = f"{self.spec.source}: no data from {', '.join(stale[:10])}" + (" ..." if len(stale) > 10 else "")
        else:
            msg = f"{self.spec.source}: data flowing again"
        return Transition(self.spec, self.deb.active, at, None, msg)


# ---- composite disaster rules -------------------------------------------------------------


class _Latest:
    """Latest (ts, value) of every sensor, shared by the engine's composite rules."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, tuple[int, float]] = {}


class ZoneLimitCheck:
    """Any of the zone's sensors at or above its limit (gas leak, flood)."""

    def __init__(
        self,
        spec: AlarmSpec,
        limits: dict[str, tuple[float, float, str]],
        deb: Debounce,
        latest: _Latest,
        what: str,
    ):
        self.spec = spec
        self.limits = limits  # sensor -> (raise level, clear level, unit)
        self.deb = deb
        self.latest = latest
        self.what = what

    def evaluate(self, ts: int) -> Transition | None:
        d = self.deb
        worst: tuple[str, float, float, str] | None = None
        for sid, (hi, lo, unit) in self.limits.items():
            got = self.latest.values.get(sid)
            if got is None:
                continue
            v = got[1]
            if v >= (lo if d.active else hi) and (worst is None or v / hi > worst[1] / worst[2]):
                worst = (sid, v, hi, unit)
        at = d.update(worst is not None, ts)
        if at is None:
            return None
        if worst is not None:
            sid, v, hi, unit = worst
            where = f"{self.what} in zone {self.spec.source}"
            msg = f"{where}: {sid} {_fmt(v)} {unit} >= {_fmt(hi)} {unit}"
            return Transition(self.spec, True, at, v, msg)
        return Transition(self.spec, False, at, None, f"{self.what} in zone {self.spec.source} over")

    def poll(self, now: int) -> Transition | None:
        at = self.deb.poll(now)
        if at is None:
            return None
        return Transition(self.spec, self.deb.active, at, None, f"{self.what} in zone {self.spec.source}")


class _SlidingMin:
    """Minimum of the values of the last ``window_ms`` (monotonic deque), and the latest value."""

    __slots__ = ("q", "latest")

    def __init__(self) -> None:
        self.q: deque[tuple[int, float]] = deque()
        self.latest: float | None = None

    def add(self, ts: int, v: float, window_ms: int) -> None:
        q = self.q
        while q and q[-1][1] >= v:
            q.pop()
        q.append((ts, v))
        while q[0][0] < ts - window_ms:
            q.popleft()
        self.latest = v

    @property
    def minimum(self) -> float:
        return self.q[0][1]


class FireCheck:
    """Smoke and a temperature rise (or a hot reading) in the same zone."""

    def __init__(
        self,
        spec: AlarmSpec,
        smoke: list[str],
        temps: list[str],
        smoke_above: float,
        rise_c: float,
        hot_c: float,
        window_s: float,
        deb: Debounce,
        latest: _Latest,
    ):
        self.spec = spec
        self.smoke = smoke
        # per sensor: latest reading, and a monotonic deque giving the window's minimum in O(1)
        self.temps = {sid: _SlidingMin() for sid in temps}
        self.smoke_above = smoke_above
        self.rise_c = rise_c
        self.hot_c = hot_c
        self.window_ms = round(window_s * 1000)
        self.deb = deb
        self.latest = latest

    def on_temperature(self, sid: str, ts: int, v: float) -> None:
        self.temps[sid].add(ts, v, self.window_ms)

    def evaluate(self, ts: int) -> Transition | None:
        d = self.deb
        smoke = max((self.latest.values[s][1] for s in self.smoke if s in self.latest.values), default=0.0)
        hottest, rise = -math.inf, 0.0
        for w in self.temps.values():
            if w.latest is not None:
                hottest = max(hottest, w.latest)
                rise = max(rise, w.latest - w.minimum)
        if d.active:  # burning: smoke at half the limit or a hot reading keeps it on
            raw = smoke >= self.smoke_above / 2 or hottest >= self.hot_c
        else:
            raw = smoke >= self.smoke_above and (rise >= self.rise_c or hottest >= self.hot_c)
        at = d.update(raw, ts)
        if at is None:
            return None
        if d.active:
            msg = (
                f"fire in zone {self.spec.source}: smoke {_fmt(smoke)} %obs/m, temperature "
                f"{_fmt(hottest)} degC (rise {_fmt(rise)} degC in {self.window_ms // 1000} s)"
            )
            return Transition(self.spec, True, at, smoke, msg)
        return Transition(self.spec, False, at, None, f"fire in zone {self.spec.source}: smoke and heat gone")

    def poll(self, now: int) -> Transition | None:
        at = self.deb.poll(now)
        if at is None:
            return None
        return Transition(self.spec, self.deb.active, at, None, f"fire in zone {self.spec.source}")


class EarthquakeCheck:
    """Ground acceleration above the limit in at least ``min_zones`` zones within the window."""

    def __init__(self, spec: AlarmSpec, pga_g: float, min_zones: int, window_s: float, deb: Debounce):
        self.spec = spec
        self.pga_g = pga_g
        self.min_zones = min_zones
        self.window_ms = round(window_s * 1000)
        self.deb = deb
        self.hits: dict[str, tuple[int, float]] = {}  # zone -> (last time above the limit, peak g)

    def on_value(self, zone: str, ts: int, g: float) -> Transition | None:
        if g >= self.pga_g:
            prev = self.hits.get(zone)
            peak = g if prev is None or ts - prev[0] > self.window_ms else max(g, prev[1])
            self.hits[zone] = (ts, peak)
        return self.evaluate(ts)

    def evaluate(self, ts: int) -> Transition | None:
        recent = sorted(z for z, (t, _) in self.hits.items() if ts - t <= self.window_ms)
        d = self.deb
        raw = len(recent) >= (1 if d.active else self.min_zones)
        if d.active and not raw and self.hits:
            # the shaking ended one window after the last hit, not when we noticed
            ended = max(t for t, _ in self.hits.values()) + self.window_ms + 1
            at = d.update(False, min(ts, ended)) if d.pending_since is None else None
            at = at if at is not None else d.poll(ts)
        else:
            at = d.update(raw, ts)
        if at is None:
            return None
        if d.active:
            peak = max(self.hits[z][1] for z in recent)
            msg = f"earthquake: {_fmt(peak)} g in zones {', '.join(recent)}"
            return Transition(self.spec, True, at, peak, msg, zones=tuple(recent))
        return Transition(self.spec, False, at, None, "earthquake: shaking over")

    def poll(self, now: int) -> Transition | None:
        got = self.deb.poll(now)
        if got is not None:
            return Transition(self.spec, self.deb.active, got, None, "earthquake")
        return self.evaluate(now) if self.deb.active or self.hits else None


class PowerOutageCheck:
    """Many metered machines of a zone, or every metered machine of one of its factories,
    lose power within a window while not planned off."""

    def __init__(
        self,
        spec: AlarmSpec,
        machines: dict[str, float],
        need: int,
        window_s: float,
        deb: Debounce,
        planned_off: Callable[[str, int], bool],
        factories: dict[str, list[str]] | None = None,
        confirm_ms: dict[str, int] | None = None,
    ):
        self.spec = spec
        self.off_level = machines  # machine -> kW below which it has no power
        # machine -> how long after its power drop its state sensor has surely reported: a PLC
        # reports a planned stop's power before its state, so a drop counts only once the state
        # had time to say "off" (at a shift end nine machines go dark in one second otherwise)
        self.confirm_ms = confirm_ms or {}
        self.need = need
        # factories with at least two metered machines: all of them dark is an outage too
        self.factories = {f: ms for f, ms in (factories or {}).items() if len(ms) >= 2}
        self.window_ms = round(window_s * 1000)
        self.deb = deb
        self.planned_off = planned_off
        self.powered: dict[str, bool] = {}
        self.lost_at: dict[str, int] = {}

    def on_power(self, machine: str, ts: int, kw: float) -> Transition | None:
        has = kw >= self.off_level[machine]
        was = self.powered.get(machine)
        self.powered[machine] = has
        if has:
            if self.lost_at.pop(machine, None) is None:
                return None
        elif (was or (was is None and self.deb.active)) and not self.planned_off(machine, ts):
            # dark after being powered; or first seen dark during an outage (after a restart)
            if machine in self.lost_at:
                return None
            self.lost_at[machine] = ts
        else:
            return None
        return self.evaluate(ts)

    def evaluate(self, ts: int) -> Transition | None:
        d = self.deb
        confirm = self.confirm_ms
        if confirm:
            for m in [m for m in self.lost_at if m in confirm and self.planned_off(m, ts)]:
                del self.lost_at[m]  # the state sensor caught up: a planned stop, not an outage
        if d.active:  # still dark, however long ago it went
            dark = set(self.lost_at)
        elif confirm:
            dark = {m for m, t in self.lost_at.items() if 0 <= ts - t - confirm.get(m, 0) <= self.window_ms}
        else:
            dark = {m for m, t in self.lost_at.items() if ts - t <= self.window_ms}
        n = len(dark)
        raw = n >= self.need or any(all(m in dark for m in ms) for ms in self.factories.values())
        at = d.update(raw, ts)
        if at is None:
            return None
        if d.active:
            msg = (
                f"power outage in zone {self.spec.source}: {n} machines lost power "
                f"({', '.join(sorted(self.lost_at)[:8])})"
            )
            return Transition(self.spec, True, at, float(n), msg)
        return Transition(self.spec, False, at, None, f"power outage in zone {self.spec.source}: power back")

    def poll(self, now: int) -> Transition | None:
        at = self.deb.poll(now)
        if at is not None:
            return Transition(self.spec, self.deb.active, at, None, f"power outage in zone {self.spec.source}")
        return self.evaluate(now) if self.lost_at or self.deb.active else None


# ---- compiling the rules ---------------------------------------------------------------------


def _sensor_spec(info: SensorInfo, type_: str, severity: str) -> AlarmSpec:
    return AlarmSpec(
        type=type_,
        source=info.sensor.id,
        source_kind="sensor",
        severity=severity,
        owner=info.owner,
        zones=(info.zone,) if info.zone else (),
        tenant=None if info.owner == PARK_OWNER else info.owner,
        factory=info.factory,
        machine=info.machine,
    )


def _flood_level(info: SensorInfo, level_cm: float | None, share: float) -> float:
    lo, hi = info.sensor.range
    if level_cm is not None:
        return level_cm / 100.0 if info.sensor.unit == "m" else level_cm
    return lo + share * (hi - lo)


def _gas_limit(info: SensorInfo, limit_ppm: float, limit_lel: float) -> float:
    return limit_lel if info.sensor.unit == "%LEL" else limit_ppm


def _g_scale(unit: str) -> float:
    """Multiply a seismic reading by this to get g."""
    return 1.0 / GAL_PER_G if unit == "gal" else 1.0


def default_rules(c: Complex) -> tuple[list[ThresholdRule], list[RateRule], list[StaleRule]]:
    """Rules derived from the hazard sensors (used unless ``alarms.defaults`` is false)."""
    a = c.alarms
    dis = a.disasters
    fire, gas, flood, quake = dis.fire, dis.gas_leak, dis.flood, dis.earthquake
    th: list[ThresholdRule] = []
    rates: list[RateRule] = []
    for info in c.sensors.values():
        if not info.hazard:
            continue
        s = info.sensor
        lo, hi = s.range
        span = hi - lo
        if s.kind == "smoke":
            limit = fire.smoke_above if fire else 1.0
            th.append(ThresholdRule(sensor=s.id, type="smoke", above=limit, deadband=0.3 * limit, severity="major"))
        elif s.kind == "flame":
            th.append(
                ThresholdRule(
                    sensor=s.id,
                    type="flame",
                    above=lo + 0.5 * span,
                    off_delay_s=10,
                    severity="critical",
                )
            )
        elif s.kind == "gas":
            limit = 0.5 * _gas_limit(info, gas.limit_ppm if gas else 50.0, gas.limit_lel if gas else 10.0)
            th.append(ThresholdRule(sensor=s.id, type="gas", above=limit, deadband=0.2 * limit, severity="warning"))
        elif s.kind == "water_level":
            level = _flood_level(info, flood.level_cm if flood else None, flood.level_share if flood else 0.25)
            th.append(
                ThresholdRule(
                    sensor=s.id,
                    type="high_water",
                    above=lo + 0.6 * (level - lo),
                    deadband=0.02 * span,
                    off_delay_s=30,
                    severity="warning",
                )
            )
        elif s.kind == "seismic":
            pga = (quake.pga_g if quake else 0.05) / _g_scale(s.unit)
            th.append(ThresholdRule(sensor=s.id, type="seismic", above=pga, off_delay_s=30, severity="major"))
        elif s.kind == "temperature":
            hot = fire.temperature_above_c if fire else 57.0
            th.append(ThresholdRule(sensor=s.id, type="heat", above=hot, deadband=2.0, severity="major"))
            if fire:
                rates.append(
                    RateRule(
                        sensor=s.id,
                        type="temperature_rise",
                        rise_per_min=fire.temperature_rise_c / (fire.window_s / 60),
                        window_s=fire.window_s,
                        off_delay_s=60,
                        severity="minor",
                    )
                )
    stale = [StaleRule(hazard=True, factor=a.stale_factor, severity="warning")]
    return th, rates, stale


def _merge(user: Iterable, defaults: Iterable) -> list:
    """User rules win over default rules of the same sensor and type."""
    mine = list(user)
    keys = {(r.sensor, r.type) for r in mine}
    return mine + [r for r in defaults if (r.sensor, r.type) not in keys]


@dataclass
class _Dispatch:
    """What to do with a reading of one sensor (built once per sensor)."""

    checks: list = field(default_factory=list)  # ThresholdCheck / RateCheck
    fire: list[FireCheck] = field(default_factory=list)
    fire_temp: list[FireCheck] = field(default_factory=list)
    zone_limit: list[ZoneLimitCheck] = field(default_factory=list)
    quake: tuple[EarthquakeCheck, str, float] | None = None
    outage: tuple[PowerOutageCheck, str, float] | None = None


class RuleEngine:
    """Every rule of a complex; feed readings in time order per sensor.

    ``planned_off(machine, ts)`` tells the power-outage rule whether a machine is off
    on purpose (the live twin answers it from the state sensor or the shift calendar).
    With ``confirm_by_state``, a machine with a state sensor counts as dark for the
    power-outage rule only one state period (plus :data:`OUTAGE_CONFIRM_MARGIN_S`) after
    its power dropped, if its state sensor does not say ``off`` by then: devices report
    a planned stop's power before its state, so a shift end is not an outage.
    """

    def __init__(
        self,
        c: Complex,
        planned_off: Callable[[str, int], bool] | None = None,
        start_ms: int = 0,
        *,
        confirm_by_state: bool = False,
    ):
        self.complex = c
        self.start_ms = start_ms
        self.confirm_by_state = confirm_by_state
        self._planned_off = planned_off or (lambda m, ts: False)
        self.latest = _Latest()
        self.specs: dict[AlarmKey, AlarmSpec] = {}
        self._dispatch: dict[str, _Dispatch] = {}
        self._pollable: list = []
        self._stale: list[StaleCheck] = []
        self._by_key: dict[AlarmKey, object] = {}
        self._compile()

    # ---- building -----------------------------------------------------------------

    def _d(self, sid: str) -> _Dispatch:
        d = self._dispatch.get(sid)
        if d is None:
            d = self._dispatch[sid] = _Dispatch()
        return d

    def _add(self, spec: AlarmSpec, check: object) -> None:
        self.specs[spec.key] = spec
        self._by_key[spec.key] = check
        self._pollable.append(check)

    def _compile(self) -> None:
        c, a = self.complex, self.complex.alarms
        sensors = c.sensors
        th, rates, stale = default_rules(c) if a.defaults else ([], [], [])
        for r in _merge(a.thresholds, th):
            info = sensors[r.sensor]
            chk = ThresholdCheck(_sensor_spec(info, r.type, r.severity), r, info.sensor.unit)
            self._add(chk.spec, chk)
            self._d(r.sensor).checks.append(chk)
        for r in _merge(a.rates, rates):
            info = sensors[r.sensor]
            rchk = RateCheck(_sensor_spec(info, r.type, r.severity), r, info.sensor.unit)
            self._add(rchk.spec, rchk)
            self._d(r.sensor).checks.append(rchk)
        self._compile_stale([*a.stale, *stale])
        self._compile_disasters()

    def _compile_stale(self, rules: list[StaleRule]) -> None:
        sensors = self.complex.sensors
        per_device: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
        for r in rules:
            chosen = set(r.sensors) | {s for s, i in sensors.items() if i.sensor.kind in r.kinds}
            if r.hazard:
                chosen |= {s for s, i in sensors.items() if i.hazard}
            for sid in chosen:
                info = sensors[sid]
                limit = round(r.factor * info.sensor.period_s * 1000)
                per_dev = per_device.setdefault((info.owner, info.device), {})
                old = per_dev.get(sid)
                # the first rule naming a sensor sets its limit; the most severe rule its severity
                per_dev[sid] = (
                    old[0] if old else limit,
                    _most_severe(old[1], r.severity) if old else r.severity,
                )
        for (owner, device), chosen_sensors in sorted(per_device.items()):
            some = sensors[next(iter(chosen_sensors))]
            severity = "warning"
            for _, sev in chosen_sensors.values():
                severity = _most_severe(severity, sev)
            spec = AlarmSpec(
                type="stale",
                source=device,
                source_kind="device",
                severity=severity,
                owner=owner,
                zones=(some.zone,) if some.zone else (),
                tenant=None if owner == PARK_OWNER else owner,
                factory=some.factory,
                machine=some.machine,
            )
            chk = StaleCheck(spec, sorted((s, lim) for s, (lim, _) in chosen_sensors.items()))
            self.specs[spec.key] = spec
            self._by_key[spec.key] = chk
            self._stale.append(chk)

    def _compile_disasters(self) -> None:
        c = self.complex
        dis = c.alarms.disasters
        by_zone: dict[str, list[SensorInfo]] = {}
        for info in c.sensors.values():
            if info.zone:
                by_zone.setdefault(info.zone, []).append(info)

        def zone_spec(zone: str, type_: str, severity: str) -> AlarmSpec:
            return AlarmSpec(
                type=type_,
                source=zone,
                source_kind="zone",
                severity=severity,
                owner=PARK_OWNER,
                zones=(zone,),
                disaster=True,
            )

        for zone in sorted(by_zone):
            infos = by_zone[zone]
            of = {k: [i for i in infos if i.sensor.kind == k] for k in ("smoke", "temperature", "gas", "water_level")}
            if dis.fire and of["smoke"]:
                temps = [i.sensor.id for i in of["temperature"] if i.hazard]
                if temps:
                    f = dis.fire
                    fc = FireCheck(
                        zone_spec(zone, "fire", f.severity),
                        [i.sensor.id for i in of["smoke"]],
                        temps,
                        f.smoke_above,
                        f.temperature_rise_c,
                        f.temperature_above_c,
                        f.window_s,
                        Debounce(f.on_delay_s, f.off_delay_s),
                        self.latest,
                    )
                    self._add(fc.spec, fc)
                    for i in of["smoke"]:
                        self._d(i.sensor.id).fire.append(fc)
                    for sid in temps:
                        self._d(sid).fire_temp.append(fc)
            if dis.gas_leak and of["gas"]:
                g = dis.gas_leak
                limits = {}
                for i in of["gas"]:
                    hi = _gas_limit(i, g.limit_ppm, g.limit_lel)
                    limits[i.sensor.id] = (hi, hi * (1 - g.deadband_share), i.sensor.unit)
                zc = ZoneLimitCheck(
                    zone_spec(zone, "gas_leak", g.severity),
                    limits,
                    Debounce(g.on_delay_s, g.off_delay_s),
                    self.latest,
                    "gas leak",
                )
                self._add(zc.spec, zc)
                for sid in limits:
                    self._d(sid).zone_limit.append(zc)
            if dis.flood and of["water_level"]:
                fl = dis.flood
                limits = {}
                for i in of["water_level"]:
                    hi = _flood_level(i, fl.level_cm, fl.level_share)
                    span = i.sensor.range[1] - i.sensor.range[0]
                    limits[i.sensor.id] = (hi, hi - fl.deadband_share * span, i.sensor.unit)
                zc = ZoneLimitCheck(
                    zone_spec(zone, "flood", fl.severity),
                    limits,
                    Debounce(fl.on_delay_s, fl.off_delay_s),
                    self.latest,
                    "flood",
                )
                self._add(zc.spec, zc)
                for sid in limits:
                    self._d(sid).zone_limit.append(zc)
            if dis.power_outage:
                self._compile_outage(zone, zone_spec(zone, "power_outage", dis.power_outage.severity))
        if dis.earthquake:
            q = dis.earthquake
            seis = [i for i in c.sensors.values() if i.sensor.kind == "seismic" and i.zone]
            if len({i.zone for i in seis}) >= q.min_zones:
                spec = AlarmSpec(
                    type="earthquake",
                    source=c.site.id,
                    source_kind="complex",
                    severity=q.severity,
                    owner=PARK_OWNER,
                    zones=tuple(sorted({i.zone for i in seis if i.zone})),
                    disaster=True,
                )
                eq = EarthquakeCheck(spec, q.pga_g, q.min_zones, q.window_s, Debounce(0, q.off_delay_s))
                self._add(spec, eq)
                for i in seis:
                    self._d(i.sensor.id).quake = (eq, i.zone or "", _g_scale(i.sensor.unit))

    def _compile_outage(self, zone: str, spec: AlarmSpec) -> None:
        rule = self.complex.alarms.disasters.power_outage
        assert rule is not None
        machines: dict[str, float] = {}
        power_sensor: dict[str, tuple[str, float]] = {}
        factories: dict[str, list[str]] = {}
        confirm: dict[str, int] = {}
        for f in self.complex.factories.values():
            if f.zone != zone:
                continue
            for ln in f.lines:
                for m in ln.machines:
                    ps = next((s for s in m.sensors if s.kind == "power"), None)
                    if ps is None:
                        continue
                    machines[m.id] = off_power_level(m.power_kw)
                    power_sensor[m.id] = (ps.id, 0.001 if ps.unit == "W" else 1.0)
                    factories.setdefault(f.id, []).append(m.id)
                    st = next((s for s in m.sensors if s.kind == "state"), None)
                    if st is not None and self.confirm_by_state:
                        confirm[m.id] = round((st.period_s + OUTAGE_CONFIRM_MARGIN_S) * 1000)
        need = max(rule.min_machines, math.ceil(rule.share * len(machines)))
        if len(machines) < need and not any(len(ms) >= 2 for ms in factories.values()):
            return  # too few metered machines to tell an outage from failures
        chk = PowerOutageCheck(
            spec, machines, need, rule.window_s, Debounce(0, rule.off_delay_s), self._planned_off, factories, confirm
        )
        self._add(spec, chk)
        for mid, (sid, scale) in power_sensor.items():
            self._d(sid).outage = (chk, mid, scale)

    # ---- running ------------------------------------------------------------------------

    @property
    def sensor_ids(self) -> frozenset[str]:
        """Sensors some rule reads."""
        return frozenset(self._dispatch)

    def on_reading(self, sid: str, ts: int, v: float, out: list[Transition]) -> None:
        """Apply one reading (newer than the previous of that sensor) and collect transitions."""
        d = self._dispatch.get(sid)
        if d is None:
            return
        self.latest.values[sid] = (ts, v)
        for chk in d.checks:
            t = chk.on_value(ts, v)
            if t is not None:
                out.append(t)
        for fc in d.fire_temp:
            fc.on_temperature(sid, ts, v)
        for fc in (*d.fire, *d.fire_temp):
            t = fc.evaluate(ts)
            if t is not None:
                out.append(t)
        for zc in d.zone_limit:
            t = zc.evaluate(ts)
            if t is not None:
                out.append(t)
        if d.quake is not None:
            eq, zone, scale = d.quake
            t = eq.on_value(zone, ts, v * scale)
            if t is not None:
                out.append(t)
        if d.outage is not None:
            oc, mid, scale = d.outage
            t = oc.on_power(mid, ts, v * scale)
            if t is not None:
                out.append(t)

    def poll(self, now: int, last_ts: Callable[[str], int | None], out: list[Transition]) -> None:
        """Advance timers to ``now``: delays, stale data, windows of composite rules."""
        for chk in self._pollable:
            t = chk.poll(now)
            if t is not None:
                out.append(t)
        for sc in self._stale:
            t = sc.evaluate(now, last_ts, self.start_ms)
            if t is not None:
                out.append(t)

    def seed_active(self, keys: Iterable[AlarmKey]) -> None:
        """Mark conditions active whose alarms are active (after a restart), so they can clear."""
        for key in keys:
            chk = self._by_key.get(key)
            deb = getattr(chk, "deb", None)
            if deb is not None:
                deb.active = True
                deb.pending_since = None


_RANK = {"critical": 0, "major": 1, "minor": 2, "warning": 3}


def _most_severe(a: str, b: str) -> str:
    return a if _RANK[a] <= _RANK[b] else b


def off_power_level(p: PowerDraw) -> float:
    """kW below which a machine draws no power: halfway from ``off`` to its lowest running draw."""
    off = float(p.off)
    running = [float(getattr(p, s)) for s in ("idle", "setup", "busy", "down")]
    above = [x for x in running if x > off]
    low = min(above) if above else off + 1.0
    return off + (low - off) / 2
