"""Trucks driving the site's roads between the logistics centre and the factories (pure).

The road network is built from ``logistics.roads`` (polylines): roads are split
where they cross, and every place (the centre, each factory) is joined to the
nearest point of a road by a short driveway. A truck's day, generated lazily
and exactly from its own random stream like a machine's:

    stopped at home (loading)  -> drive to a destination (shortest path)
    -> stopped there (unload / load)  -> drive back -> stopped at home (unloading) -> ...

A truck based at the centre serves the factories (only its tenant's if it is
dedicated, ``tenant:``); a truck based at a factory shuttles to the centre.
Trucks work during shifts and park at home outside them. Dock occupancy is the
number of trucks stopped at the centre, capped by the docks' total capacity.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sensors.shifts import ShiftCalendar
from twin.model import Complex, Position, Truck

__all__ = ["RoadNetwork", "TruckActivity", "TruckLeg", "TruckProcess", "Fleet"]

# ---- tunables ---------------------------------------------------------------

#: Minutes at a dock of the centre per visit (loading / unloading), uniform range.
DOCK_MINUTES = (15.0, 40.0)
#: Minutes at a factory per visit, uniform range.
FACTORY_MINUTES = (10.0, 30.0)
#: Trucks drive at this share of their top speed (traffic, turns), uniform range.
SPEED_SHARE = (0.7, 1.0)
#: Share of capacity loaded at the centre / at the factory, uniform range.
LOAD_SHARE = (0.4, 1.0)
#: Legs kept for look-ups slightly in the past.
HISTORY_LEGS = 64

_Pt = tuple[float, float]


def _key(p: _Pt) -> _Pt:
    return (round(p[0], 3), round(p[1], 3))


def _dist(a: _Pt, b: _Pt) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _project(p: _Pt, a: _Pt, b: _Pt) -> tuple[float, _Pt]:
    """Parameter in [0, 1] and point of the projection of ``p`` on segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    den = dx * dx + dy * dy
    if den == 0:
        return 0.0, a
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / den))
    return t, (a[0] + t * dx, a[1] + t * dy)


def _crossing(a: _Pt, b: _Pt, c: _Pt, d: _Pt) -> tuple[float, float] | None:
    """Parameters (s on a-b, u on c-d) where two segments meet, or None."""
    r = (b[0] - a[0], b[1] - a[1])
    q = (d[0] - c[0], d[1] - c[1])
    den = r[0] * q[1] - r[1] * q[0]
    if abs(den) < 1e-12:
        return None  # parallel (collinear overlaps share endpoints, which split anyway)
    w = (c[0] - a[0], c[1] - a[1])
    s = (w[0] * q[1] - w[1] * q[0]) / den
    u = (w[0] * r[1] - w[1] * r[0]) / den
    eps = 1e-9
    if -eps <= s <= 1 + eps and -eps <= u <= 1 + eps:
        return min(1.0, max(0.0, s)), min(1.0, max(0.0, u))
    return None


class RoadNetwork:
    """A graph of road pieces; :meth:`route` gives the driven polyline between two places."""

    def __init__(self, roads: tuple[tuple[Position, ...], ...], places: dict[str, Position]):
        segs: list[tuple[_Pt, _Pt]] = []
        for road in roads:
            pts = [(p.x, p.y) for p in road]
            segs.extend((pts[i], pts[i + 1]) for i in range(len(pts) - 1) if pts[i] != pts[i + 1])
        splits: list[list[float]] = [[0.0, 1.0] for _ in segs]
        for i in range(len(segs)):
            for j in range(i + 1, len(segs)):
                hit = _crossing(*segs[i], *segs[j])
                if hit is not None:
                    splits[i].append(hit[0])
                    splits[j].append(hit[1])
        self._places: dict[
            str, tuple[_Pt, _Pt | None]
        ] = {}  # place -> (its point, its road access)
        for name, pos in places.items():
            p = (pos.x, pos.y)
            best: tuple[float, int, float, _Pt] | None = None
            for i, (a, b) in enumerate(segs):
                t, q = _project(p, a, b)
                d = _dist(p, q)
                if best is None or d < best[0]:
                    best = (d, i, t, q)
            if best is None:
                self._places[name] = (p, None)
            else:
                splits[best[1]].append(best[2])
                self._places[name] = (p, _key(best[3]))
        self._adj: dict[_Pt, list[tuple[_Pt, float]]] = {}
        for (a, b), ts in zip(segs, splits, strict=True):
            pts = [
                _key((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))) for t in sorted(set(ts))
            ]
            for u, v in zip(pts, pts[1:], strict=False):
                if u != v:
                    d = _dist(u, v)
                    self._adj.setdefault(u, []).append((v, d))
                    self._adj.setdefault(v, []).append((u, d))
        self._routes: dict[tuple[str, str], tuple[_Pt, ...]] = {}

    def _shortest(self, src: _Pt, dst: _Pt) -> list[_Pt] | None:
        dist = {src: 0.0}
        prev: dict[_Pt, _Pt] = {}
        heap = [(0.0, src)]
        while heap:
            d, u = heapq.heappop(heap)
            if u == dst:
                path = [u]
                while u in prev:
                    u = prev[u]
                    path.append(u)
                return path[::-1]
            if d > dist.get(u, math.inf):
                continue
            for v, w in self._adj.get(u, ()):
                nd = d + w
                if nd < dist.get(v, math.inf):
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        return None

    def place_point(self, name: str) -> _Pt:
        return self._places[name][0]

    def route(self, a: str, b: str) -> tuple[_Pt, ...]:
        """Polyline from place ``a`` to place ``b``: driveway, roads, driveway."""
        got = self._routes.get((a, b))
        if got is None:
            (pa, ra), (pb, rb) = self._places[a], self._places[b]
            middle = self._shortest(ra, rb) if ra is not None and rb is not None else None
            pts = [pa, *(middle or []), pb]  # no road between them: straight across the site
            dedup = [pts[0]]
            for p in pts[1:]:
                if p != dedup[-1]:
                    dedup.append(p)
            got = tuple(dedup)
            self._routes[(a, b)] = got
        return got


class TruckActivity(StrEnum):
    PARKED = "parked"  # at home outside shifts
    STOPPED = "stopped"  # loading or unloading at a place (a dock when the place is the centre)
    DRIVING = "driving"


@dataclass(frozen=True, slots=True)
class TruckLeg:
    """One leg of a truck's day over [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    activity: TruckActivity
    place: str | None  # where it stands (None while driving)
    path: tuple[_Pt, ...]  # one point unless driving
    cum: tuple[float, ...]  # cumulative distance along path
    load0: float
    load1: float
    speed_kmh: float  # while driving

    def position(self, ts_ms: int) -> _Pt:
        if len(self.path) == 1:
            return self.path[0]
        frac = min(1.0, max(0.0, (ts_ms - self.start_ms) / (self.end_ms - self.start_ms)))
        along = frac * self.cum[-1]
        i = min(len(self.path) - 2, max(0, bisect_right(self.cum, along) - 1))
        seg = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg == 0 else (along - self.cum[i]) / seg
        a, b = self.path[i], self.path[i + 1]
        return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))

    def load(self, ts_ms: int) -> float:
        frac = min(1.0, max(0.0, (ts_ms - self.start_ms) / (self.end_ms - self.start_ms)))
        return self.load0 + frac * (self.load1 - self.load0)


def _leg(
    start: int,
    end: int,
    act: TruckActivity,
    place: str | None,
    path: tuple[_Pt, ...],
    load0: float,
    load1: float,
    speed: float = 0.0,
) -> TruckLeg:
    cum = [0.0]
    for a, b in zip(path, path[1:], strict=False):
        cum.append(cum[-1] + _dist(a, b))
    return TruckLeg(start, max(end, start + 1), act, place, path, tuple(cum), load0, load1, speed)


class TruckProcess:
    """The legs of one truck, extended lazily as time is asked for.

    The truck shuttles between its ``home`` and one of ``destinations`` at a time.
    """

    def __init__(
        self,
        truck: Truck,
        home: str,
        destinations: tuple[str, ...],
        roads: RoadNetwork,
        calendar: ShiftCalendar,
        rng: random.Random,
        centre: str | None,
    ):
        self.truck = truck
        self.home = home
        self._dests = tuple(d for d in destinations if d != home)
        self._roads = roads
        self._cal = calendar
        self._rng = rng
        self._centre = centre
        self._legs: deque[TruckLeg] = deque(maxlen=HISTORY_LEGS)
        self._plan: list[tuple[str, str]] = []  # what comes after the current leg

    def leg_at(self, ts_ms: int) -> TruckLeg:
        legs = self._legs
        if not legs:
            self._anchor(ts_ms)
        while legs[-1].end_ms <= ts_ms:
            self._advance()
        for leg in reversed(legs):
            if leg.start_ms <= ts_ms:
                return leg
        return legs[0]

    def position_at(self, ts_ms: int) -> _Pt:
        return self.leg_at(ts_ms).position(ts_ms)

    def speed_kmh_at(self, ts_ms: int) -> float:
        leg = self.leg_at(ts_ms)
        return leg.speed_kmh if leg.activity is TruckActivity.DRIVING else 0.0

    def load_at(self, ts_ms: int) -> float:
        return self.leg_at(ts_ms).load(ts_ms)

    # ---- the process ------------------------------------------------------------------

    def _stop_ms(self, place: str, upper_only: bool = False) -> int:
        lo, hi = DOCK_MINUTES if place == self._centre else FACTORY_MINUTES
        return round(self._rng.uniform(0.0 if upper_only else lo, hi) * 60_000)

    def _stop(self, t: int, place: str, load: float, dur_ms: int) -> TruckLeg:
        point = (self._roads.place_point(place),)
        return _leg(t, t + dur_ms, TruckActivity.STOPPED, place, point, load, self._cargo())

    def _cargo(self) -> float:
        return self.truck.capacity * self._rng.uniform(*LOAD_SHARE)

    def _drive(self, t: int, a: str, b: str, load: float) -> TruckLeg:
        path = self._roads.route(a, b)
        speed = self.truck.speed_kmh * self._rng.uniform(*SPEED_SHARE)
        length = _leg(t, t + 1, TruckActivity.DRIVING, None, path, load, load).cum[-1]
        dur = round(length / (speed / 3.6) * 1000)
        return _leg(t, t + dur, TruckActivity.DRIVING, None, path, load, load, speed)

    def _anchor(self, t: int) -> None:
        # Somewhere in a stop at home, so the trucks do not all leave together.
        self._legs.append(self._stop(t, self.home, 0.0, self._stop_ms(self.home, upper_only=True)))
        self._plan = [("out", "")]

    def _advance(self) -> None:
        last = self._legs[-1]
        t = last.end_ms
        step, dest = self._plan.pop(0) if self._plan else ("out", "")
        load = last.load1
        if step == "out":
            if self._cal.shift_at(t) is None or not self._dests:
                point = (self._roads.place_point(self.home),)
                leg = _leg(
                    t,
                    self._cal.next_change_ms(t),
                    TruckActivity.PARKED,
                    self.home,
                    point,
                    load,
                    load,
                )
                self._plan = [("stop", self.home)]
            else:
                dest = self._dests[self._rng.randrange(len(self._dests))]
                leg = self._drive(t, self.home, dest, load)
                self._plan = [("stop", dest), ("back", dest), ("stop", self.home)]
        elif step == "back":
            leg = self._drive(t, dest, self.home, load)
        else:  # stop: unload what came, load for the next trip
            leg = self._stop(t, dest, load, self._stop_ms(dest))
            if dest == self.home:
                self._plan = [("out", "")]
        self._legs.append(leg)


class Fleet:
    """Every truck of the complex and the centre's docks."""

    def __init__(
        self,
        complex_: Complex,
        calendar: ShiftCalendar,
        rng_for_truck: Callable[[str], random.Random],
    ):
        lg = complex_.logistics
        self.trucks: dict[str, TruckProcess] = {}
        self.dock_capacity = 0
        self.centre: str | None = None
        if lg is None:
            return
        self.centre = lg.centre.id
        places = {lg.centre.id: lg.centre.position}
        places.update({f.id: f.position for f in complex_.factories.values()})
        self.roads = RoadNetwork(lg.roads, places)
        self.dock_capacity = sum(d.capacity for d in lg.centre.docks)
        tenant_factories = {t.id: tuple(f.id for f in t.factories) for t in complex_.tenants}
        all_factories = tuple(complex_.factories)
        for tr in lg.trucks:
            if tr.home != self.centre:
                dests: tuple[str, ...] = (self.centre,)  # a factory's own truck shuttles to the hub
            elif tr.tenant:
                dests = tenant_factories.get(tr.tenant, ())
            else:
                dests = all_factories
            self.trucks[tr.id] = TruckProcess(
                tr, tr.home, dests, self.roads, calendar, rng_for_truck(tr.id), self.centre
            )

    def docked_at(self, ts_ms: int) -> int:
        """Trucks at a dock of the centre at ``ts_ms`` (capped by the docks' capacity)."""
        n = 0
        for p in self.trucks.values():
            leg = p.leg_at(ts_ms)
            n += leg.activity is TruckActivity.STOPPED and leg.place == self.centre
        return min(n, self.dock_capacity)
