"""Trucks moving material and finished goods between factories and the logistics centre.

A transport request (``inbound``: material from the centre to a factory;
``outbound``: finished goods from a factory to the centre) goes to the truck pool
that serves its tenant. The dispatching policy decides the pools: ``dedicated``
keeps trucks assigned to a tenant for that tenant and pools the rest for everyone
else; ``shared`` pools every truck. The idle truck nearest to the pickup takes the
request (first in the fleet list on ties); a waiting request goes to the next truck
that becomes free. At the centre, loading and unloading need a dock place; the
wait for one is the dock waiting time. Travel times come from the road network.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from simulations.events import (
    DOCK_OCCUPANCY,
    SHIPMENT_DELIVERED,
    TRUCK_ARRIVE,
    TRUCK_MOVE,
    SimEvent,
    Sink,
)
from simulations.gate import Gate
from simulations.roads import RoadNetwork

__all__ = ["TransportRequest", "TruckPool", "TruckSim", "LogisticsSim"]


@dataclass(slots=True, eq=False)
class TransportRequest:
    """Move ``packs`` transport units from ``origin`` to ``destination`` by ``due``."""

    id: int
    kind: str
    origin: str
    destination: str
    packs: int
    tenant: str
    created: float
    due: float
    on_delivered: Callable[[], None] | None = None


class TruckPool:
    """Trucks serving one set of tenants, with their queue of requests."""

    def __init__(self, env: simpy.Environment, name: str, network: RoadNetwork):
        self.env = env
        self.name = name
        self.network = network
        self.trucks: list[TruckSim] = []
        self.queue: deque[TransportRequest] = deque()
        self._idle: list[tuple[TruckSim, simpy.Event]] = []

    @property
    def min_capacity(self) -> int:
        return min(t.capacity for t in self.trucks)

    def submit(self, req: TransportRequest, blocked: frozenset[str]) -> None:
        if self._idle:
            best_i, best_d = 0, math.inf
            for i, (truck, _) in enumerate(self._idle):
                d = self.network.distance(truck.location, req.origin, blocked)
                if d < best_d:
                    best_i, best_d = i, d
            _, ev = self._idle.pop(best_i)
            ev.succeed(req)
        else:
            self.queue.append(req)

    def next_for(self, truck: TruckSim) -> TransportRequest | simpy.Event:
        """The oldest waiting request, or an event the truck waits on while idle."""
        if self.queue:
            return self.queue.popleft()
        ev = self.env.event()
        self._idle.append((truck, ev))
        return ev


class TruckSim:
    """One truck (or AGV): a process that serves requests from its pool."""

    def __init__(
        self,
        env: simpy.Environment,
        truck_id: str,
        capacity: int,
        speed_kmh: float,
        home: str,
        logistics: LogisticsSim,
        pool: TruckPool,
    ):
        if capacity < 1:
            raise ValueError(f'"capacity" must be >= 1 (got {capacity!r})')
        if not speed_kmh > 0:
            raise ValueError(f'"speed_kmh" must be > 0 (got {speed_kmh!r})')
        self.env = env
        self.id = truck_id
        self.capacity = capacity
        self.speed_ms = speed_kmh / 3.6
        self.location = home
        self.logistics = logistics
        self.pool = pool
        self.load = 0
        self.request: TransportRequest | None = None
        self.busy_s = 0.0
        self._busy_since: float | None = None
        self.trips = 0

    def start(self) -> None:
        self.env.process(self._run())

    def busy_time(self) -> float:
        extra = self.env.now - self._busy_since if self._busy_since is not None else 0.0
        return self.busy_s + extra

    def reset_stats(self) -> None:
        self.busy_s = 0.0
        if self._busy_since is not None:
            self._busy_since = self.env.now
        self.trips = 0

    def _run(self) -> Generator[simpy.Event, Any, None]:
        lg = self.logistics
        while True:
            got = self.pool.next_for(self)
            req = got if isinstance(got, TransportRequest) else (yield got)
            self.request = req
            self._busy_since = self.env.now
            yield from self._drive(req.origin, req.id)
            yield from self._stop(req.origin, req.packs)
            self.load = req.packs
            yield from self._drive(req.destination, req.id)
            yield from self._stop(req.destination, req.packs)
            self.load = 0
            self.request = None
            self.busy_s += self.env.now - self._busy_since
            self._busy_since = None
            self.trips += 1
            lg.delivered(req)

    def _drive(self, dest: str, req_id: int) -> Generator[simpy.Event, Any, None]:
        lg, env = self.logistics, self.env
        while True:
            d = lg.network.distance(self.location, dest, lg.blocked)
            if not math.isinf(d):
                break
            yield lg.roads_changed()
        if d <= 0:
            self.location = dest
            return
        dt = d / self.speed_ms
        if lg.sink is not None:
            lg.sink(
                SimEvent(
                    env.now,
                    TRUCK_MOVE,
                    self.id,
                    {
                        "origin": self.location,
                        "destination": dest,
                        "distance_m": d,
                        "eta": env.now + dt,
                        "load": self.load,
                        "request": req_id,
                    },
                )
            )
        yield env.timeout(dt)
        self.location = dest
        if lg.sink is not None:
            lg.sink(SimEvent(env.now, TRUCK_ARRIVE, self.id, {"location": dest, "load": self.load}))

    def _stop(self, place: str, packs: int) -> Generator[simpy.Event, Any, None]:
        lg, env = self.logistics, self.env
        handling = lg.handling_fixed_s + lg.handling_per_pack_s * packs
        if place != lg.centre_id:
            yield env.timeout(handling)
            return
        t0 = env.now
        req = lg.docks.request()
        yield req
        while not lg.centre_gate.is_open:
            yield lg.centre_gate.wait_open()
        lg.dock_wait(env.now - t0)
        lg.dock_changed()
        yield env.timeout(handling)
        lg.docks.release(req)
        lg.dock_changed()


class LogisticsSim:
    """The logistics of the complex: pools, trucks, docks, roads and their statistics."""

    def __init__(
        self,
        env: simpy.Environment,
        centre_id: str,
        dock_capacity: int,
        network: RoadNetwork,
        centre_gate: Gate,
        handling_fixed_s: float,
        handling_per_pack_s: float,
        sink: Sink | None = None,
    ):
        if dock_capacity < 1:
            raise ValueError(f'"dock_capacity" must be >= 1 (got {dock_capacity!r})')
        self.env = env
        self.centre_id = centre_id
        self.network = network
        self.centre_gate = centre_gate
        self.docks = simpy.Resource(env, capacity=dock_capacity)
        self.handling_fixed_s = handling_fixed_s
        self.handling_per_pack_s = handling_per_pack_s
        self.sink = sink
        self.trucks: list[TruckSim] = []
        self.pools: dict[str, TruckPool] = {}
        self.tenant_pool: dict[str, TruckPool] = {}
        self._blocked_count: dict[str, int] = {}
        self.blocked: frozenset[str] = frozenset()
        self._roads_event: simpy.Event | None = None
        self._next_id = 0
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.requests = 0
        self.delivered_n = 0
        self.on_time_n = 0
        self.delivery_time_s = 0.0
        self.dock_wait_s = 0.0
        self.dock_waits = 0
        self.by_tenant: dict[str, list[int]] = {}  # tenant -> [delivered, on time]

    # ---- wiring ------------------------------------------------------------------------

    def add_pool(self, name: str) -> TruckPool:
        pool = TruckPool(self.env, name, self.network)
        self.pools[name] = pool
        return pool

    def add_truck(self, truck: TruckSim) -> None:
        self.trucks.append(truck)
        truck.pool.trucks.append(truck)

    def start(self) -> None:
        for t in self.trucks:
            t.start()

    def min_capacity(self, tenant: str) -> int:
        return self.tenant_pool[tenant].min_capacity

    # ---- requests -----------------------------------------------------------------------

    def request(
        self,
        kind: str,
        origin: str,
        destination: str,
        packs: int,
        tenant: str,
        due_in_s: float,
        on_delivered: Callable[[], None] | None,
    ) -> None:
        """Ask for ``packs`` to be moved; split into truck loads, delivered callback on the last."""
        pool = self.tenant_pool[tenant]
        chunk = pool.min_capacity
        now = self.env.now
        while packs > 0:
            n = min(chunk, packs)
            packs -= n
            self._next_id += 1
            self.requests += 1
            req = TransportRequest(
                self._next_id,
                kind,
                origin,
                destination,
                n,
                tenant,
                now,
                now + due_in_s,
                on_delivered if packs == 0 else None,
            )
            pool.submit(req, self.blocked)

    def delivered(self, req: TransportRequest) -> None:
        now = self.env.now
        on_time = now <= req.due
        self.delivered_n += 1
        self.on_time_n += on_time
        self.delivery_time_s += now - req.created
        t = self.by_tenant.setdefault(req.tenant, [0, 0])
        t[0] += 1
        t[1] += on_time
        if self.sink is not None:
            self.sink(
                SimEvent(
                    now,
                    SHIPMENT_DELIVERED,
                    str(req.id),
                    {
                        "kind": req.kind,
                        "origin": req.origin,
                        "destination": req.destination,
                        "packs": req.packs,
                        "on_time": on_time,
                        "tenant": req.tenant,
                    },
                )
            )
        if req.on_delivered is not None:
            req.on_delivered()

    def dock_wait(self, seconds: float) -> None:
        self.dock_wait_s += seconds
        self.dock_waits += 1

    def dock_changed(self) -> None:
        if self.sink is not None:
            self.sink(
                SimEvent(
                    self.env.now,
                    DOCK_OCCUPANCY,
                    self.centre_id,
                    {
                        "occupied": self.docks.count,
                        "capacity": self.docks.capacity,
                    },
                )
            )

    # ---- roads -------------------------------------------------------------------------

    def block_roads(self, zones: Sequence[str]) -> None:
        for z in zones:
            self._blocked_count[z] = self._blocked_count.get(z, 0) + 1
        self._roads_update()

    def unblock_roads(self, zones: Sequence[str]) -> None:
        for z in zones:
            self._blocked_count[z] -= 1
        self._roads_update()

    def _roads_update(self) -> None:
        self.blocked = frozenset(z for z, n in self._blocked_count.items() if n > 0)
        if self._roads_event is not None:
            ev, self._roads_event = self._roads_event, None
            ev.succeed()

    def roads_changed(self) -> simpy.Event:
        if self._roads_event is None:
            self._roads_event = self.env.event()
        return self._roads_event

    # ---- statistics -------------------------------------------------------------------

    def reset_stats(self) -> None:
        self._reset_counters()
        for t in self.trucks:
            t.reset_stats()

    def waiting_requests(self) -> int:
        return sum(len(p.queue) for p in self.pools.values())
