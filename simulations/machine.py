"""One machine as a SimPy process: setups, processing, failures, scrap, blocking.

The machine takes a lot from the buffer in front of it, sets up if the product
changes, processes every unit of the lot (the sum of one processing-time draw per
unit), scraps some units, and pushes the rest downstream, waiting while the next
buffer is full (blocking after service).

Failures are operation-dependent: the time to failure counts processing time only,
so a failure always interrupts work in progress; the interrupted lot resumes after
the repair. Planned off time and disasters pause work through the factory's
:class:`~simulations.gate.Gate` and the remaining work resumes when it reopens.

Every second of the machine's life falls in exactly one time category
(:data:`CATEGORIES`); the category maps to the :class:`twin.model.MachineState`
the machine reports and draws power for.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from simulations.distributions import Sampler
from simulations.events import MACHINE_COUNT, MACHINE_STATE, SimEvent, Sink
from twin.model import Machine, MachineState

if TYPE_CHECKING:
    from simulations.buffer import Buffer, LineExit
    from simulations.gate import Gate
    from simulations.job import Job

__all__ = [
    "OFF",
    "STARVED",
    "BLOCKED",
    "BUSY",
    "SETUP",
    "FAILURE",
    "DISASTER",
    "HELD",
    "CATEGORIES",
    "CATEGORY_STATE",
    "MachineSim",
]

OFF, STARVED, BLOCKED, BUSY, SETUP, FAILURE, DISASTER, HELD = range(8)
#: Time categories, by index. ``held`` is never reported: a held machine is off or stopped.
CATEGORIES = ("off", "starved", "blocked", "busy", "setup", "failure", "disaster")
#: The machine state reported for each time category.
CATEGORY_STATE = (
    MachineState.OFF,
    MachineState.IDLE,
    MachineState.IDLE,
    MachineState.BUSY,
    MachineState.SETUP,
    MachineState.DOWN,
    MachineState.DOWN,
)

#: Work shorter than this (seconds) counts as done: guards float residue after preemption.
EPS = 1e-9
_GEOMETRIC_BLOCK = 256


class MachineSim:
    """The simulated twin of one :class:`twin.model.Machine`."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: Machine,
        *,
        factory: str,
        line: str,
        inbuf: Buffer,
        outbuf: Buffer | LineExit,
        gate: Gate,
        processing: Sampler,
        time_to_failure: Sampler | None,
        time_to_repair: Sampler,
        setup: Sampler | None,
        scrap_rng: np.random.Generator,
        scrap_every: Sampler | None = None,
        on_scrap: Any = None,
        sink: Sink | None = None,
    ):
        self.env = env
        self.spec = spec
        self.id = spec.id
        self.factory = factory
        self.line = line
        self.inbuf = inbuf
        self.outbuf = outbuf
        self.gate = gate
        self._proc = processing
        self._ttf = time_to_failure
        self._ttr = time_to_repair
        self._setup = setup
        self._scrap_rng = scrap_rng
        self._scrap_every = scrap_every
        self._scrap_gaps: list[int] = []
        self._on_scrap = on_scrap
        self._sink = sink
        self._power = tuple(spec.power_kw.for_state(s) for s in CATEGORY_STATE)
        # counters since build (cumulative, as a good_count sensor would report)
        self.produced = 0
        self.good = 0
        self.scrap = 0
        self.failures = 0
        self.setups = 0
        self._base = (0, 0, 0, 0, 0)
        # time accounting
        self.times = [0.0] * len(CATEGORIES)
        self._cat = OFF if gate.planned_closed else (DISASTER if gate.unplanned else STARVED)
        self._activity = STARVED
        self._since = env.now
        # what the machine is doing, for snapshots
        self.job: Job | None = None
        self.blocked_job: Job | None = None
        self.product: str | None = None
        self._phase = 0  # 0, SETUP or BUSY
        self._left = 0.0
        self._seg_start = 0.0
        self._in_seg = False
        self._interruptible = False
        self._repair_end: float | None = None
        self.ttf_left = time_to_failure.draw() if time_to_failure is not None else math.inf
        self._to_scrap = self._next_scrap_gap() if self._scrap_enabled else math.inf
        gate.members.append(self)
        self.process: simpy.Process | None = None

    # ---- lifecycle --------------------------------------------------------------------

    def start(self, resume: dict[str, Any] | None = None) -> None:
        """Start the process; ``resume`` continues from a snapshot (:mod:`simulations.state`)."""
        if resume:
            # Report the resumed state from t0, not a moment of "starved" first.
            if resume.get("blocked"):
                act = BLOCKED
            elif resume.get("repair_left") is not None:
                act = FAILURE
            elif resume.get("job") is not None:
                act = SETUP if (resume.get("setup_left") or 0) > EPS else BUSY
            else:
                act = STARVED
            self._activity = act
            g = self.gate
            self._cat = OFF if g.planned_closed else (DISASTER if g.unplanned else act)
        if self._sink is not None:
            self._emit_state()  # consumers learn every machine's state at t0
        self.process = self.env.process(self._run(resume))

    # ---- time categories -------------------------------------------------------------

    def _set(self, activity: int) -> None:
        self._activity = activity
        g = self.gate
        cat = OFF if g.planned_closed else (DISASTER if g.unplanned else activity)
        if cat != self._cat:
            self._switch(cat)

    def _switch(self, cat: int) -> None:
        now = self.env.now
        self.times[self._cat] += now - self._since
        self._since = now
        self._cat = cat
        if self._sink is not None:
            self._emit_state()

    def _emit_state(self) -> None:
        cat = self._cat
        assert self._sink is not None
        self._sink(
            SimEvent(
                self.env.now,
                MACHINE_STATE,
                self.id,
                {
                    "state": CATEGORY_STATE[cat].value,
                    "reason": CATEGORIES[cat],
                    "power_kw": self._power[cat],
                    "factory": self.factory,
                    "line": self.line,
                },
            )
        )

    def gate_changed(self, closing: bool) -> None:
        """Called by the gate: pause work in progress, refresh the reported state."""
        if closing and self._interruptible:
            self._interruptible = False
            assert self.process is not None
            self.process.interrupt("gate")
        if self._activity == HELD and self.gate.is_open:
            return  # the process resumes at this instant and reports what it does
        self._set(self._activity)

    @property
    def category(self) -> str:
        return CATEGORIES[self._cat]

    @property
    def state(self) -> MachineState:
        """What a ``state`` sensor on this machine reads now."""
        return CATEGORY_STATE[self._cat]

    @property
    def power_kw(self) -> float:
        return self._power[self._cat]

    def category_times(self) -> list[float]:
        """Seconds per category since the last reset, up to now."""
        out = list(self.times)
        out[self._cat] += self.env.now - self._since
        return out

    def counters(self) -> tuple[int, int, int, int, int]:
        """(produced, good, scrap, failures, setups) since the last reset."""
        b = self._base
        return (
            self.produced - b[0],
            self.good - b[1],
            self.scrap - b[2],
            self.failures - b[3],
            self.setups - b[4],
        )

    def energy_kwh(self) -> float:
        return sum(t * p for t, p in zip(self.category_times(), self._power, strict=True)) / 3600.0

    def reset_stats(self) -> None:
        self.times = [0.0] * len(CATEGORIES)
        self._since = self.env.now
        self._base = (self.produced, self.good, self.scrap, self.failures, self.setups)

    # ---- scrap ---------------------------------------------------------------------

    @property
    def _scrap_enabled(self) -> bool:
        return self._scrap_every is not None or self.spec.scrap_rate > 0

    def _next_scrap_gap(self) -> float:
        if self._scrap_every is not None:
            return max(1, round(self._scrap_every.draw()))
        if not self._scrap_gaps:
            self._scrap_gaps = self._scrap_rng.geometric(self.spec.scrap_rate, _GEOMETRIC_BLOCK).tolist()
            self._scrap_gaps.reverse()
        return self._scrap_gaps.pop()

    def _scrap_count(self, qty: int) -> int:
        """Units of a lot of ``qty`` that are scrapped (Bernoulli per unit, via gaps)."""
        c = self._to_scrap
        if c > qty:
            self._to_scrap = c - qty
            return 0
        n = 0
        while c <= qty:
            n += 1
            c += self._next_scrap_gap()
        self._to_scrap = c - qty
        return n

    # ---- the process ------------------------------------------------------------------

    def _run(self, resume: dict[str, Any] | None) -> Generator[simpy.Event, Any, None]:
        if resume:
            yield from self._resume(resume)
        inbuf = self.inbuf
        while True:
            job = inbuf.pop()
            if job is None:
                self._set(STARVED)
                job = yield inbuf.wait()
            yield from self._process(job, None, None)

    def _resume(self, r: dict[str, Any]) -> Generator[simpy.Event, Any, None]:
        self.product = r.get("product")
        if r.get("ttf_left") is not None and self._ttf is not None:
            self.ttf_left = r["ttf_left"]
        job = r.get("job")
        if r.get("blocked"):
            assert job is not None  # MachineSnapshot guarantees it
            yield from self._push(job)
            return
        if r.get("repair_left") is not None:
            yield from self._repair(r["repair_left"])
            if job is not None:
                yield from self._process(job, 0.0, r.get("work_left"))
            return
        if job is not None:
            yield from self._process(job, r.get("setup_left"), r.get("work_left"))

    def _process(
        self, job: Job, setup_left: float | None, work_left: float | None
    ) -> Generator[simpy.Event, Any, None]:
        self.job = job
        if setup_left is None:
            setup_left = 0.0
            if self._setup is not None and self.product is not None and job.product != self.product:
                setup_left = self._setup.draw()
        if setup_left > EPS:
            self.setups += 1
            yield from self._work(setup_left, SETUP)
        self.product = job.product
        if work_left is None:
            work_left = self._proc.draw_sum(job.qty) * job.work_factor
        yield from self._work(work_left, BUSY)
        # The lot is done: count, scrap, pass on.
        qty = job.qty
        scrap = self._scrap_count(qty) if self._scrap_enabled else 0
        good = qty - scrap
        self.produced += qty
        self.good += good
        self.scrap += scrap
        self.job = None
        if self._sink is not None:
            self._sink(
                SimEvent(
                    self.env.now,
                    MACHINE_COUNT,
                    self.id,
                    {
                        "produced": self.produced,
                        "good": self.good,
                        "scrap": self.scrap,
                        "lot": qty,
                        "product": job.product,
                        "factory": self.factory,
                        "line": self.line,
                    },
                )
            )
        if scrap:
            job.qty = good
            self._on_scrap(job, scrap)
        if good > 0:
            yield from self._push(job)

    def _push(self, job: Job) -> Generator[simpy.Event, Any, None]:
        if not self.outbuf.push(job):
            self.blocked_job = job
            self._set(BLOCKED)
            yield self.outbuf.wait_put(job)
            self.blocked_job = None

    def _work(self, left: float, phase: int) -> Generator[simpy.Event, Any, None]:
        """Spend ``left`` seconds of setup or processing, through failures and gate closures."""
        env = self.env
        gate = self.gate
        failing = phase == BUSY and self._ttf is not None
        self._phase = phase
        self._left = left
        while left > EPS:
            while not gate.is_open:
                self._set(HELD)
                yield gate.wait_open()
            seg = left
            fail = False
            if failing and self.ttf_left < seg:
                seg = self.ttf_left
                fail = True
            self._set(phase)
            self._seg_start = env.now
            self._in_seg = True
            self._interruptible = True
            try:
                yield env.timeout(seg)
            except simpy.Interrupt:
                done = env.now - self._seg_start
                self._in_seg = False
                left -= done
                self._left = left
                if failing:
                    self.ttf_left -= done
                continue
            self._interruptible = False
            self._in_seg = False
            left -= seg
            self._left = left
            if failing:
                self.ttf_left -= seg
            if fail:
                yield from self._repair(self._ttr.draw())
        self._phase = 0

    def _repair(self, duration: float) -> Generator[simpy.Event, Any, None]:
        self.failures += 1
        self._set(FAILURE)
        self._repair_end = self.env.now + duration
        yield self.env.timeout(duration)
        self._repair_end = None
        self.ttf_left = self._ttf.draw() if self._ttf is not None else math.inf

    # ---- snapshot --------------------------------------------------------------------

    def snapshot_fields(self) -> dict[str, Any]:
        """What the machine is doing now, for :class:`simulations.state.MachineSnapshot`."""
        now = self.env.now
        progress = (now - self._seg_start) if self._in_seg else 0.0
        out: dict[str, Any] = {"product": self.product, "job": None, "blocked": False}
        if self.blocked_job is not None:
            out.update(job=self.blocked_job, blocked=True, state=MachineState.IDLE)
            return out
        if self._repair_end is not None:
            out.update(state=MachineState.DOWN, repair_left=self._repair_end - now)
            if self.job is not None:
                out.update(job=self.job, work_left=self._left)
            return out
        if self.job is not None:
            left = max(self._left - progress, 0.0)
            if self._phase == SETUP:
                out.update(job=self.job, state=MachineState.SETUP, setup_left=left)
            else:
                out.update(job=self.job, state=MachineState.BUSY, work_left=left)
        else:
            out["state"] = MachineState.IDLE
        ttf = self.ttf_left
        if self._in_seg and self._phase == BUSY:
            ttf -= progress
        out["ttf_left"] = ttf
        return out
