"""Current state of the assets, inferred from their signals (pure: time passed in).

A machine's state comes from its ``state`` sensor while that sensor is fresh, else
from its power draw (nearest of the ``off``, ``idle`` and ``busy`` draws of its
``power_kw``: setup and down cannot be told apart from those by power alone), else
it is unknown. A sensor is *stale* when its newest reading is older than
``stale_factor`` x its ``period_s``; one never heard is stale once the live twin has
been running that long.
"""

from __future__ import annotations

from collections.abc import Callable

from twin.model import Machine, MachineState, Sensor

__all__ = ["stale_limit_ms", "power_levels", "classify_power", "MachineTracker", "Interval"]

#: Longest span of one state reported as one interval (energy is averaged over it).
COALESCE_MS = 10_000

#: (machine, t0, t1, state, power_kw): time the machine spent in one state.
Interval = Callable[[str, int, int, MachineState, float], None]
#: (machine, ts, good increment, scrap increment).
Count = Callable[[str, int, float, float], None]


def stale_limit_ms(sensor: Sensor, factor: float) -> int:
    return round(sensor.period_s * factor * 1000)


def power_levels(m: Machine) -> list[tuple[float, MachineState]]:
    """(kW, state) of the states power can tell apart, ascending."""
    p = m.power_kw
    return sorted({(p.off, MachineState.OFF), (p.idle, MachineState.IDLE), (p.busy, MachineState.BUSY)})


def classify_power(levels: list[tuple[float, MachineState]], kw: float) -> MachineState:
    """The state whose nominal draw is nearest to ``kw``."""
    best = levels[0]
    for lv in levels[1:]:
        if abs(kw - lv[0]) < abs(kw - best[0]):
            best = lv
    return best[1]


class MachineTracker:
    """One machine: its latest signals, inferred state and the time it spends in each state.

    ``on_interval`` receives ``[t0, t1)`` spans of a known state (for KPIs); gaps longer
    than the machine's silence limit are not reported (nobody knows what happened).
    ``on_count`` receives counter increments; a counter that goes down was reset (the
    device restarted at 0), so its new value is the increment.
    """

    __slots__ = (
        "id",
        "line",
        "factory",
        "machine",
        "state_sensor",
        "power_sensor",
        "power_scale",
        "good_sensor",
        "scrap_sensor",
        "levels",
        "limits",
        "max_gap_ms",
        "sensor_state",
        "sensor_ts",
        "sensor_since",
        "power_state",
        "power_since",
        "power_kw",
        "power_ts",
        "good",
        "scrap",
        "last_ts",
        "cursor",
        "on_interval",
        "on_count",
        "sensor_ids",
        "_pending",
    )

    def __init__(
        self,
        machine: Machine,
        line: str,
        factory: str,
        stale_factor: float,
        on_interval: Interval | None = None,
        on_count: Count | None = None,
    ):
        self.id = machine.id
        self.machine = machine
        self.line = line
        self.factory = factory
        by_kind: dict[str, Sensor] = {}
        for s in machine.sensors:
            by_kind.setdefault(s.kind, s)
        st, pw = by_kind.get("state"), by_kind.get("power")
        self.state_sensor = st.id if st else None
        self.power_sensor = pw.id if pw else None
        self.power_scale = 0.001 if pw is not None and pw.unit == "W" else 1.0
        self.good_sensor = by_kind["good_count"].id if "good_count" in by_kind else None
        self.scrap_sensor = by_kind["scrap_count"].id if "scrap_count" in by_kind else None
        self.sensor_ids = tuple(s.id for s in machine.sensors)
        self.levels = power_levels(machine)
        self.limits = {s.id: stale_limit_ms(s, stale_factor) for s in machine.sensors}
        self.max_gap_ms = max([self.limits[x] for x in (self.state_sensor, self.power_sensor) if x] or [0])
        self.sensor_state: MachineState | None = None
        self.sensor_ts: int | None = None
        self.sensor_since: int | None = None
        self.power_state: MachineState | None = None
        self.power_since: int | None = None
        self.power_kw: float | None = None
        self.power_ts: int | None = None
        self.good: float | None = None
        self.scrap: float | None = None
        self.last_ts: int | None = None
        self.cursor: int | None = None
        self.on_interval = on_interval
        self.on_count = on_count
        self._pending: tuple[int, int, MachineState, float] | None = None  # t0, t1, state, kW x ms

    # ---- inference ----------------------------------------------------------------------

    def _fresh(self, sid: str | None, ts: int | None, at: int) -> bool:
        return sid is not None and ts is not None and at - ts <= self.limits[sid]

    def state_at(self, at: int) -> tuple[MachineState | None, int | None, str]:
        """(state, since, source) as known at time ``at``; source is state_sensor, power or none."""
        if self._fresh(self.state_sensor, self.sensor_ts, at):
            return self.sensor_state, self.sensor_since, "state_sensor"
        if self._fresh(self.power_sensor, self.power_ts, at):
            return self.power_state, self.power_since, "power"
        return None, None, "none"

    def power_at(self, at: int) -> float | None:
        return self.power_kw if self._fresh(self.power_sensor, self.power_ts, at) else None

    def planned_off(self, at: int) -> bool | None:
        """True/False if the state sensor is fresh and says so; None when it cannot tell."""
        if self._fresh(self.state_sensor, self.sensor_ts, at):
            return self.sensor_state is MachineState.OFF
        return None

    def stale(self, at: int, last_ts: Callable[[str], int | None], start_ms: int) -> bool:
        """Every sensor of the machine silent past its limit (never heard: since ``start_ms``)."""
        for sid in self.sensor_ids:
            ts = last_ts(sid)
            if at - (start_ms if ts is None else ts) <= self.limits[sid]:
                return False
        return True

    # ---- readings -------------------------------------------------------------------------

    def _advance(self, ts: int) -> None:
        """Report the time since the cursor in the state known at the cursor."""
        c = self.cursor
        self.cursor = ts
        if c is None or ts <= c or self.on_interval is None:
            if c is not None and ts < c:
                self.cursor = c
            return
        if ts - c > self.max_gap_ms:
            return  # silent too long: the gap is unobserved, not a state
        state, _, _ = self.state_at(c)
        if state is None:
            return
        kw = self.power_at(c)
        if kw is None:
            kw = self.machine.power_kw.for_state(state)
        # coalesce contiguous spans of one state (a fast stream sends many tiny ones)
        p = self._pending
        if p is not None and p[1] == c and p[2] is state and ts - p[0] <= COALESCE_MS:
            self._pending = (p[0], ts, state, p[3] + kw * (ts - c))
            return
        self.flush()
        self._pending = (c, ts, state, kw * (ts - c))

    def flush(self) -> None:
        """Report the coalesced span (call before reading KPIs)."""
        p = self._pending
        if p is not None and self.on_interval is not None:
            self._pending = None
            t0, t1, state, kw_ms = p
            self.on_interval(self.id, t0, t1, state, kw_ms / (t1 - t0))

    def on_reading(self, sid: str, ts: int, v: float) -> None:
        """A reading of one of the machine's sensors, newer than that sensor's previous one."""
        self._advance(ts)
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        if sid == self.state_sensor:
            try:
                st = MachineState.from_code(v)
            except KeyError:
                return  # in range but not a code (3.5): keep the last known state
            if st is not self.sensor_state or not self._fresh(sid, self.sensor_ts, ts):
                self.sensor_since = ts
            self.sensor_state, self.sensor_ts = st, ts
        elif sid == self.power_sensor:
            kw = v * self.power_scale
            st = classify_power(self.levels, kw)
            if st is not self.power_state or not self._fresh(sid, self.power_ts, ts):
                self.power_since = ts
            self.power_state, self.power_kw, self.power_ts = st, kw, ts
        elif sid == self.good_sensor:
            self.good = self._count(self.good, v, ts, good=True)
        elif sid == self.scrap_sensor:
            self.scrap = self._count(self.scrap, v, ts, good=False)

    def _count(self, prev: float | None, v: float, ts: int, *, good: bool) -> float:
        if prev is not None and self.on_count is not None:
            inc = v - prev if v >= prev else v  # a decrease is a reset to 0 and counting again
            if inc > 0:
                self.on_count(self.id, ts, inc if good else 0.0, 0.0 if good else inc)
        return v
