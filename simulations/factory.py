"""A factory: order release, routing to lines, shift calendar, outbound goods.

Orders arrive with a configurable inter-arrival distribution counted in working
time (no releases while the factory is planned off), carry a product type and a
lot size, wait for material when the scenario says so, and go to the line with the
fewest units in it. Finished goods wait at the factory until a truck takes them to
the logistics centre.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from simulations.calendar import WorkCalendar
from simulations.distributions import Sampler
from simulations.events import ORDER_RELEASED, SimEvent, Sink
from simulations.gate import Gate
from simulations.job import Job
from simulations.line import LineSim

if TYPE_CHECKING:
    from simulations.logistics import LogisticsSim

__all__ = ["ProductMix", "FactorySim"]


class ProductMix:
    """Product types of a factory with their shares, lot sizes and work factors."""

    def __init__(
        self,
        ids: Sequence[str],
        weights: Sequence[float],
        lot_sizes: Sequence[Sampler],
        work_factors: Sequence[float],
        chooser: Sampler,
    ):
        if not ids:
            raise ValueError("a factory needs at least one product")
        total = float(sum(weights))
        acc, cum = 0.0, []
        for w in weights:
            acc += w / total
            cum.append(acc)
        cum[-1] = 1.0
        self.ids = tuple(ids)
        self._cum = cum
        self._lots = list(lot_sizes)
        self._factors = tuple(work_factors)
        self._chooser = chooser

    def pick(self) -> tuple[str, int, float]:
        """(product, lot size, work factor) of the next order."""
        i = 0
        if len(self.ids) > 1:
            i = bisect.bisect_right(self._cum, self._chooser.draw())
            i = min(i, len(self.ids) - 1)
        qty = max(1, round(self._lots[i].draw()))
        return self.ids[i], qty, self._factors[i]


class FactorySim:
    """The simulated twin of one factory of the complex."""

    def __init__(
        self,
        env: simpy.Environment,
        factory_id: str,
        tenant: str,
        zone: str,
        gate: Gate,
        calendar: WorkCalendar,
        mix: ProductMix,
        interarrival: Sampler | None,
        materials: bool,
        pack_size: int,
        shipment_size: int | None,
        max_wait_s: float,
        due_s: float,
        sink: Sink | None = None,
    ):
        self.env = env
        self.id = factory_id
        self.tenant = tenant
        self.zone = zone
        self.gate = gate
        self.calendar = calendar
        self.mix = mix
        self._interarrival = interarrival
        self.materials = materials
        self.pack_size = pack_size
        self.shipment_size = shipment_size
        self.max_wait_s = max_wait_s
        self.due_s = due_s
        self._sink = sink
        #: mean lot size: the tolerance when judging recovery after a disaster
        self.typical_lot = 1
        self.lines: list[LineSim] = []
        self.logistics: LogisticsSim | None = None
        self._next_id = 0
        # statistics
        self.orders = 0
        self.awaiting = 0  # units of orders waiting for material
        self._await_area = 0.0
        self._await_last = env.now
        self.good_units = 0
        self.lead_unit_time = 0.0  # sum over good units of (exit - order created)
        self.outbound_units = 0.0  # finished units not yet shipped
        self.shipped_packs = 0

    # ---- orders -----------------------------------------------------------------------

    def new_job(self) -> Job:
        product, qty, factor = self.mix.pick()
        self._next_id += 1
        return Job(self._next_id, product, qty, factor, self.env.now)

    def start(self, with_arrivals: bool) -> None:
        env = self.env
        self.gate.set_planned(not self.calendar.is_working(env.now))
        if not self.calendar.is_always:
            env.process(self._calendar())
        if with_arrivals and self._interarrival is not None:
            env.process(self._arrivals())
        if self.logistics is not None:
            env.process(self._ship_timer())

    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        env, cal = self.env, self.calendar
        while True:
            t = cal.next_change(env.now)
            yield env.timeout(t - env.now)
            self.gate.set_planned(not cal.is_working(env.now))

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, cal, ia = self.env, self.calendar, self._interarrival
        assert ia is not None
        while True:
            t = cal.advance(env.now, ia.draw())
            yield env.timeout(t - env.now)
            self.accept(self.new_job())

    def accept(self, job: Job) -> None:
        """A new order: fetch its material or release it to a line."""
        self.orders += 1
        if self._sink is not None:
            self._sink(
                SimEvent(
                    self.env.now,
                    ORDER_RELEASED,
                    self.id,
                    {
                        "order": job.id,
                        "product": job.product,
                        "quantity": job.qty,
                    },
                )
            )
        if self.materials and self.logistics is not None:
            self._awaiting(job.qty)
            packs = -(-job.qty // self.pack_size)
            self.logistics.request(
                "inbound",
                self.logistics.centre_id,
                self.id,
                packs,
                self.tenant,
                self.due_s,
                self._material_arrived(job),
            )
        else:
            self.route(job)

    def _material_arrived(self, job: Job) -> Callable[[], None]:
        def done() -> None:
            self._awaiting(-job.qty)
            self.route(job)

        return done

    def route(self, job: Job) -> None:
        """Send a lot to the line with the fewest units in it (first on ties)."""
        lines = self.lines
        best = lines[0]
        if len(lines) > 1:
            for ln in lines[1:]:
                if ln.wip < best.wip:
                    best = ln
        best.release(job)

    # ---- output -----------------------------------------------------------------------

    def on_output(self, job: Job) -> None:
        """A lot left one of the lines."""
        q = job.qty
        self.good_units += q
        self.lead_unit_time += q * (self.env.now - job.created)
        if self.logistics is not None:
            self.outbound_units += q
            size = self.shipment_size or self.logistics.min_capacity(self.tenant)
            while self.outbound_units // self.pack_size >= size:
                self._ship(size)

    def _ship(self, packs: int) -> None:
        assert self.logistics is not None
        self.outbound_units -= packs * self.pack_size
        self.shipped_packs += packs
        self.logistics.request("outbound", self.id, self.logistics.centre_id, packs, self.tenant, self.due_s, None)

    def _ship_timer(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(self.max_wait_s)
            packs = int(self.outbound_units // self.pack_size)
            if packs > 0:
                self._ship(packs)

    # ---- statistics -------------------------------------------------------------------

    def _awaiting(self, delta: int) -> None:
        now = self.env.now
        self._await_area += self.awaiting * (now - self._await_last)
        self._await_last = now
        self.awaiting += delta

    def wip_now(self) -> int:
        """Units of released orders not yet finished (waiting for material or in lines)."""
        return self.awaiting + sum(ln.wip for ln in self.lines)

    def wip_area(self) -> float:
        aw = self._await_area + self.awaiting * (self.env.now - self._await_last)
        return aw + sum(ln.wip_area() for ln in self.lines)

    def reset_stats(self) -> None:
        self._await_area = 0.0
        self._await_last = self.env.now
        self.orders = 0
        self.good_units = 0
        self.lead_unit_time = 0.0
        self.shipped_packs = 0
        self.gate.reset_stats()
        for ln in self.lines:
            ln.reset_stats()
