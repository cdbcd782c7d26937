"""A serial line: an order pool, stations, finite buffers between them, an exit.

A station is one machine, or several machines working in parallel from the same
buffer (a machine added with ``parallel_to`` in the scenario settings).

The line keeps the statistics a process engineer checks with Little's law: units
in the line over time (WIP), units leaving it (good or scrapped) and the time each
spent inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from simulations.buffer import Buffer, LineExit, SaturatedSource
from simulations.events import ORDER_COMPLETED, SimEvent, Sink
from simulations.job import Job
from simulations.machine import MachineSim

__all__ = ["LineSim"]


class LineSim:
    """Stations in series; lots flow from ``pool`` through ``machines`` to the exit."""

    def __init__(
        self,
        env: simpy.Environment,
        line_id: str,
        factory: str,
        first_machine: str,
        on_complete: Callable[[Job], None],
        saturate: Callable[[], Job] | None = None,
        sink: Sink | None = None,
    ):
        self.env = env
        self.id = line_id
        self.factory = factory
        self._on_complete = on_complete
        self._sink = sink
        self.pool: Buffer = (
            SaturatedSource(env, first_machine, line_id, self._saturated(saturate))
            if saturate is not None
            else Buffer(env, first_machine, line_id, math.inf, sink)
        )
        self.buffers: list[Buffer] = []  # buffers[i] is in front of station i + 1
        self.machines: list[MachineSim] = []
        self.stations: list[list[MachineSim]] = []
        self.inbuf_of: dict[str, Buffer] = {}
        self.exit = LineExit(self._complete)
        # statistics (reset at the end of the warm-up)
        self.wip = 0
        self._wip_area = 0.0
        self._wip_last = env.now
        self.released_units = 0
        self.completed_lots = 0
        self.good_units = 0
        self.good_unit_time = 0.0  # sum over good units of (exit - entered)
        self.departed_units = 0  # good + scrapped
        self.departed_unit_time = 0.0

    def _saturated(self, make: Callable[[], Job]) -> Callable[[], Job]:
        def release() -> Job:
            job = make()
            job.entered = self.env.now
            self._wip(job.qty)
            self.released_units += job.qty
            return job

        return release

    # ---- flow ------------------------------------------------------------------------

    def release(self, job: Job) -> None:
        """Put an order's lot into the line's pool."""
        job.entered = self.env.now
        self._wip(job.qty)
        self.released_units += job.qty
        self.pool.push(job)

    def on_scrap(self, job: Job, units: int) -> None:
        """``units`` of ``job`` were scrapped at a machine."""
        self._wip(-units)
        self.departed_units += units
        self.departed_unit_time += units * (self.env.now - job.entered)

    def _complete(self, job: Job) -> None:
        now = self.env.now
        q = job.qty
        self._wip(-q)
        self.completed_lots += 1
        self.good_units += q
        self.good_unit_time += q * (now - job.entered)
        self.departed_units += q
        self.departed_unit_time += q * (now - job.entered)
        if self._sink is not None:
            self._sink(
                SimEvent(
                    now,
                    ORDER_COMPLETED,
                    self.factory,
                    {
                        "order": job.id,
                        "product": job.product,
                        "good": q,
                        "lead_time_s": now - job.created,
                        "line": self.id,
                    },
                )
            )
        self._on_complete(job)

    # ---- statistics --------------------------------------------------------------------

    def _wip(self, delta: int) -> None:
        now = self.env.now
        self._wip_area += self.wip * (now - self._wip_last)
        self._wip_last = now
        self.wip += delta

    def wip_area(self) -> float:
        return self._wip_area + self.wip * (self.env.now - self._wip_last)

    def reset_stats(self) -> None:
        self._wip_area = 0.0
        self._wip_last = self.env.now
        self.released_units = 0
        self.completed_lots = 0
        self.good_units = 0
        self.good_unit_time = 0.0
        self.departed_units = 0
        self.departed_unit_time = 0.0
        self.pool.reset_stats()
        for b in self.buffers:
            b.reset_stats()
        for m in self.machines:
            m.reset_stats()

    def queue_before(self, station: int) -> Buffer:
        """The buffer in front of station ``station`` (0: the order pool)."""
        return self.pool if station == 0 else self.buffers[station - 1]
