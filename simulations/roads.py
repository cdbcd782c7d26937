"""Travel distances on the site's road network (pure geometry, no simulation).

Roads are polylines in metres. Crossing roads are joined where they intersect;
every place (factory, logistics centre) is joined to the nearest point of any
road by a straight driveway. A road segment belongs to the zone that contains its
midpoint, so a disaster that blocks the roads of a zone removes those segments
and trucks take the shortest remaining way, or wait if there is none.
Without roads, places are joined by straight lines.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RoadNetwork", "Point", "ZoneArea"]

Point = tuple[float, float]


@dataclass(frozen=True)
class ZoneArea:
    """A zone's rectangle (x, y = south-west corner)."""

    id: str
    x: float
    y: float
    w: float
    h: float

    def contains(self, p: Point) -> bool:
        return self.x <= p[0] <= self.x + self.w and self.y <= p[1] <= self.y + self.h


def _key(p: Point) -> tuple[float, float]:
    return (round(p[0], 6), round(p[1], 6))


def _project(p: Point, a: Point, b: Point) -> tuple[float, Point]:
    """Parameter t in [0, 1] and the nearest point to ``p`` on segment ab."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    L2 = dx * dx + dy * dy
    if L2 == 0:
        return 0.0, a
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / L2
    t = min(1.0, max(0.0, t))
    return t, (a[0] + t * dx, a[1] + t * dy)


def _intersect(a: Point, b: Point, c: Point, d: Point) -> tuple[float, float] | None:
    """Parameters (t on ab, u on cd) of the crossing of two segments, if they cross."""
    r = (b[0] - a[0], b[1] - a[1])
    s = (d[0] - c[0], d[1] - c[1])
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-12:
        return None  # parallel or collinear: joined only through shared vertices
    qp = (c[0] - a[0], c[1] - a[1])
    t = (qp[0] * s[1] - qp[1] * s[0]) / den
    u = (qp[0] * r[1] - qp[1] * r[0]) / den
    if -1e-9 <= t <= 1 + 1e-9 and -1e-9 <= u <= 1 + 1e-9:
        return min(1.0, max(0.0, t)), min(1.0, max(0.0, u))
    return None


class RoadNetwork:
    """Shortest road distances between named places, with zones' roads blockable."""

    def __init__(
        self,
        roads: Sequence[Sequence[Point]],
        places: Mapping[str, Point],
        zones: Sequence[ZoneArea] = (),
    ):
        self.places = dict(places)
        self.zones = list(zones)
        self._place_zone = {name: self.zone_of(p) for name, p in self.places.items()}
        segs: list[tuple[Point, Point]] = []
        for road in roads:
            pts = [(float(p[0]), float(p[1])) for p in road]
            segs.extend((pts[i], pts[i + 1]) for i in range(len(pts) - 1) if pts[i] != pts[i + 1])
        self._has_roads = bool(segs)
        # node key -> point; adjacency: node -> list of (node, length, zone)
        self._pts: dict[tuple[float, float], Point] = {}
        self._adj: dict[tuple[float, float], list[tuple[tuple[float, float], float, str | None]]] = {}
        if not segs:
            return
        cuts: list[list[tuple[float, Point]]] = [[(0.0, a), (1.0, b)] for a, b in segs]
        for i in range(len(segs)):
            for j in range(i + 1, len(segs)):
                hit = _intersect(*segs[i], *segs[j])
                if hit is None:
                    continue
                t, u = hit
                a, b = segs[i]
                p = (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
                cuts[i].append((t, p))
                cuts[j].append((u, p))
        self._entry: dict[str, tuple[float, float]] = {}
        for name, p in self.places.items():
            best: tuple[float, int, float, Point] | None = None
            for i, (a, b) in enumerate(segs):
                t, q = _project(p, a, b)
                dist = math.dist(p, q)
                if best is None or dist < best[0]:
                    best = (dist, i, t, q)
            assert best is not None
            dist, i, t, q = best
            cuts[i].append((t, q))
            self._link(p, q, self.zone_of(p))
            self._entry[name] = _key(p)
        for pieces in cuts:
            pieces.sort()
            for (_, p), (_, q) in zip(pieces, pieces[1:], strict=False):
                if _key(p) != _key(q):
                    mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
                    self._link(p, q, self.zone_of(mid))
        self._cache: dict[tuple[frozenset[str], str], tuple[dict, dict]] = {}

    def zone_of(self, p: Point) -> str | None:
        for z in self.zones:
            if z.contains(p):
                return z.id
        return None

    def _link(self, p: Point, q: Point, zone: str | None) -> None:
        kp, kq = _key(p), _key(q)
        if kp == kq:
            return
        self._pts.setdefault(kp, p)
        self._pts.setdefault(kq, q)
        length = math.dist(p, q)
        self._adj.setdefault(kp, []).append((kq, length, zone))
        self._adj.setdefault(kq, []).append((kp, length, zone))

    def _dijkstra(self, src: str, blocked: frozenset[str]) -> tuple[dict, dict]:
        key = (blocked, src)
        got = self._cache.get(key)
        if got is not None:
            return got
        start = self._entry[src]
        dist = {start: 0.0}
        prev: dict = {}
        heap = [(0.0, start)]
        while heap:
            d, n = heapq.heappop(heap)
            if d > dist.get(n, math.inf):
                continue
            for m, length, zone in self._adj.get(n, ()):
                if zone is not None and zone in blocked:
                    continue
                nd = d + length
                if nd < dist.get(m, math.inf):
                    dist[m] = nd
                    prev[m] = n
                    heapq.heappush(heap, (nd, m))
        self._cache[key] = (dist, prev)
        return dist, prev

    def _check(self, *names: str) -> None:
        for n in names:
            if n not in self.places:
                raise KeyError(f"unknown place {n!r}")

    def distance(self, a: str, b: str, blocked: frozenset[str] = frozenset()) -> float:
        """Metres by road from place ``a`` to ``b`` (``inf`` if every way is blocked)."""
        self._check(a, b)
        if a == b:
            return 0.0
        if not self._has_roads:
            if self._place_zone[a] in blocked or self._place_zone[b] in blocked:
                return math.inf
            return math.dist(self.places[a], self.places[b])
        dist, _ = self._dijkstra(a, blocked)
        return dist.get(self._entry[b], math.inf)

    def path(self, a: str, b: str, blocked: frozenset[str] = frozenset()) -> list[Point]:
        """The polyline a truck follows from ``a`` to ``b`` (empty if unreachable)."""
        self._check(a, b)
        if a == b:
            return [self.places[a]]
        if not self._has_roads:
            if math.isinf(self.distance(a, b, blocked)):
                return []
            return [self.places[a], self.places[b]]
        dist, prev = self._dijkstra(a, blocked)
        end = self._entry[b]
        if end not in dist:
            return []
        out = [self._pts[end]]
        n = end
        while n != self._entry[a]:
            n = prev[n]
            out.append(self._pts[n])
        out.reverse()
        return out
