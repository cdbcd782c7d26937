"""Stochastic machine-state process: off / setup / idle / busy / down over simulated time.

Pure and exact: the history is a sequence of segments generated lazily, event by
event, from the machine's own random stream. The state at a time ``t`` therefore
depends only on the seed and the time the process was anchored, never on how
often or by which sensor it is sampled.

Rules:
- Off outside shifts; a changeover (setup, if the machine has ``setup_time_s``)
  at the start of every shift, including back-to-back shifts.
- In a shift the machine alternates busy runs and short idle gaps (starved or
  blocked); night shifts run at lower utilisation.
- Failures come after an exponential time to failure with mean ``mtbf_h``,
  counted in busy time only (wear happens while working); repairs last an
  exponential time with mean ``mttr_h`` and continue through shift ends.
- Vibration and heat follow the state through first-order lags (fast and slow),
  so they rise and decay smoothly instead of jumping.
- Parts complete every cycle while busy (ideal cycle time slowed by a per-run
  performance factor); each part is scrap with probability ``scrap_rate``,
  decided by a hash of the part number, so counters are exact and monotonic.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from sensors.randomness import unit_hash
from sensors.shifts import ShiftCalendar, ShiftSlot
from twin.model import Machine, MachineState

__all__ = ["MachineSegment", "MachineProcess"]

# ---- tunables ---------------------------------------------------------------

#: Time constant of vibration / speed / pressure following the state (seconds).
FAST_TAU_S = 15.0
#: Time constant of machine temperature following the state (seconds).
HEAT_TAU_S = 900.0
#: Relative vibration level each state settles at (busy = 1).
FAST_TARGET = {
    MachineState.OFF: 0.0,
    MachineState.IDLE: 0.25,
    MachineState.BUSY: 1.0,
    MachineState.SETUP: 0.4,
    MachineState.DOWN: 0.0,
}
#: Relative heat each state settles at (busy = 1; down keeps a little residual heat).
HEAT_TARGET = {
    MachineState.OFF: 0.0,
    MachineState.IDLE: 0.35,
    MachineState.BUSY: 1.0,
    MachineState.SETUP: 0.5,
    MachineState.DOWN: 0.1,
}
#: Mean idle gap between busy runs (starved / blocked), seconds.
IDLE_GAP_MEAN_S = 240.0
#: Share of in-shift time a working machine is busy, day and night shifts.
DAY_UTILISATION = 0.85
NIGHT_UTILISATION = 0.70
#: A busy run's cycle time is the ideal one times a factor drawn from this range.
SLOWDOWN_RANGE = (1.0, 1.15)
#: Shortest repair (nobody fixes a machine in seconds), and the restart idle after one.
MIN_REPAIR_S = 60.0
RESTART_IDLE_MEAN_S = 120.0
#: Segments kept for look-ups slightly in the past (sensors of one tick share a time).
HISTORY_SEGMENTS = 256


@dataclass(frozen=True, slots=True)
class MachineSegment:
    """The machine in one state over [start_ms, end_ms), with the levels at its start."""

    start_ms: int
    end_ms: int
    state: MachineState
    power_kw: float
    fast0: float
    heat0: float
    energy0_kwh: float
    parts0: int
    cycle_ms: int  # 0 unless busy

    def fast_level(self, ts_ms: int) -> float:
        target = FAST_TARGET[self.state]
        return target + (self.fast0 - target) * math.exp(
            -(ts_ms - self.start_ms) / (FAST_TAU_S * 1000)
        )

    def heat_level(self, ts_ms: int) -> float:
        target = HEAT_TARGET[self.state]
        return target + (self.heat0 - target) * math.exp(
            -(ts_ms - self.start_ms) / (HEAT_TAU_S * 1000)
        )

    def energy_kwh(self, ts_ms: int) -> float:
        return self.energy0_kwh + self.power_kw * (ts_ms - self.start_ms) / 3_600_000

    def parts(self, ts_ms: int) -> int:
        if not self.cycle_ms:
            return self.parts0
        return self.parts0 + (ts_ms - self.start_ms) // self.cycle_ms


class MachineProcess:
    """The state history of one machine, extended lazily as time is asked for."""

    def __init__(
        self, machine: Machine, calendar: ShiftCalendar, rng: random.Random, scrap_key: int
    ):
        self.machine = machine
        self._cal = calendar
        self._rng = rng
        self._scrap_key = scrap_key
        self._mtbf_ms = machine.mtbf_h * 3_600_000
        self._mttr_ms = machine.mttr_h * 3_600_000
        self._setup_ms = round(machine.setup_time_s * 1000)
        self._history: deque[MachineSegment] = deque(maxlen=HISTORY_SEGMENTS)
        self._slot: ShiftSlot | None = None
        self._ttf_ms = 0.0  # busy time left until the next failure
        self._repair_end_ms = 0
        self._cause = ""
        self._scrap_cache = (0, 0)  # (parts, scrap among them)

    # ---- public look-ups ------------------------------------------------------

    def segment_at(self, ts_ms: int) -> MachineSegment:
        """The segment covering ``ts_ms`` (the oldest kept one if ``ts_ms`` is older)."""
        h = self._history
        if not h:
            self._anchor(ts_ms)
        while h[-1].end_ms <= ts_ms:
            self._advance()
        for seg in reversed(h):
            if seg.start_ms <= ts_ms:
                return seg
        return h[0]

    def state_at(self, ts_ms: int) -> MachineState:
        return self.segment_at(ts_ms).state

    def parts_at(self, ts_ms: int) -> int:
        """Parts completed since the process was anchored (good + scrap)."""
        return self.segment_at(ts_ms).parts(ts_ms)

    def scrap_at(self, ts_ms: int) -> int:
        return self._scrap_among(self.parts_at(ts_ms))

    def good_at(self, ts_ms: int) -> int:
        parts = self.parts_at(ts_ms)
        return parts - self._scrap_among(parts)

    def energy_kwh_at(self, ts_ms: int) -> float:
        return self.segment_at(ts_ms).energy_kwh(ts_ms)

    # ---- scrap: part n is scrap iff its hash says so ------------------------------

    def _scrap_among(self, parts: int) -> int:
        n, s = self._scrap_cache
        rate = self.machine.scrap_rate
        key = self._scrap_key
        while n < parts:
            s += unit_hash(key, n) < rate
            n += 1
        while n > parts:
            n -= 1
            s -= unit_hash(key, n) < rate
        self._scrap_cache = (n, s)
        return s

    # ---- the process ------------------------------------------------------------------

    def _utilisation(self) -> float:
        return NIGHT_UTILISATION if self._slot is not None and self._slot.night else DAY_UTILISATION

    def _exp_ms(self, mean_ms: float) -> int:
        return max(1, round(self._rng.expovariate(1.0 / mean_ms)))

    def _anchor(self, t: int) -> None:
        """Start the history at ``t`` in a state drawn from the long-run mix."""
        rng = self._rng
        self._ttf_ms = self._exp_ms(self._mtbf_ms)
        self._slot = self._cal.shift_at(t)
        p_down = self._mttr_ms / (self._mtbf_ms + self._mttr_ms)
        if rng.random() < p_down:
            self._repair_end_ms = t + self._exp_ms(self._mttr_ms)
            state = MachineState.DOWN
        elif self._slot is None:
            state = MachineState.OFF
        else:
            state = MachineState.BUSY if rng.random() < self._utilisation() else MachineState.IDLE
        # Start "warm": the levels have settled at their targets, as after a while in that state.
        self._enter(state, t, FAST_TARGET[state], HEAT_TARGET[state], 0.0, 0)

    def _advance(self) -> None:
        last = self._history[-1]
        t = last.end_ms
        fast, heat = last.fast_level(t), last.heat_level(t)
        energy, parts = last.energy_kwh(t), last.parts(t)
        if last.state is MachineState.BUSY:
            self._ttf_ms -= t - last.start_ms
        cause = self._cause
        if cause == "fail":
            self._repair_end_ms = t + max(round(MIN_REPAIR_S * 1000), self._exp_ms(self._mttr_ms))
            self._ttf_ms = self._exp_ms(self._mtbf_ms)
            nxt = MachineState.DOWN
        else:
            slot = self._cal.shift_at(t)
            if slot is None:
                nxt = MachineState.OFF
                self._slot = None
            elif self._slot is None or (slot.index, slot.start_ms) != (
                self._slot.index,
                self._slot.start_ms,
            ):
                self._slot = slot  # a shift starts: changeover
                nxt = MachineState.SETUP if self._setup_ms else MachineState.BUSY
            elif cause == "repaired":
                nxt = MachineState.IDLE  # restart after the repair
            elif cause in ("run_done",):
                nxt = MachineState.IDLE
            elif cause in ("idle_done", "setup_done"):
                nxt = MachineState.BUSY
            else:  # a boundary of an overlapping shift: carry on as before
                nxt = last.state if last.state is not MachineState.OFF else MachineState.BUSY
        self._enter(nxt, t, fast, heat, energy, parts, after_repair=cause == "repaired")

    def _enter(
        self,
        state: MachineState,
        t: int,
        fast: float,
        heat: float,
        energy: float,
        parts: int,
        *,
        after_repair: bool = False,
    ) -> None:
        rng = self._rng
        cycle_ms = 0
        if state is MachineState.DOWN:
            end, cause = self._repair_end_ms, "repaired"
        else:
            boundary = self._cal.next_change_ms(t)
            if state is MachineState.OFF:
                end, cause = boundary, "shift"
            elif state is MachineState.SETUP:
                end, cause = t + self._setup_ms, "setup_done"
            elif state is MachineState.IDLE:
                mean = RESTART_IDLE_MEAN_S if after_repair else IDLE_GAP_MEAN_S
                end, cause = t + self._exp_ms(mean * 1000), "idle_done"
            else:  # BUSY
                u = self._utilisation()
                end, cause = t + self._exp_ms(IDLE_GAP_MEAN_S * 1000 * u / (1 - u)), "run_done"
                fail_at = t + max(1, round(self._ttf_ms))
                if fail_at < end:
                    end, cause = fail_at, "fail"
                slowdown = rng.uniform(*SLOWDOWN_RANGE)
                cycle_ms = max(1, round(self.machine.ideal_cycle_time_s * 1000 * slowdown))
            if boundary < end:
                end, cause = boundary, "shift"
        self._cause = cause
        self._history.append(
            MachineSegment(
                start_ms=t,
                end_ms=max(end, t + 1),
                state=state,
                power_kw=self.machine.power_kw.for_state(state),
                fast0=fast,
                heat0=heat,
                energy0_kwh=energy,
                parts0=parts,
                cycle_ms=cycle_ms,
            )
        )
