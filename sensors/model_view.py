"""What the sensors can know about the simulated complex, learnt from the model's events (pure).

The SimPy model (:mod:`simulations`) hands every change to a sink as a
:class:`~simulations.events.SimEvent`; :class:`ModelView` is that sink on the sensor
side. It keeps, per machine, the current state as a
:class:`~sensors.machines.MachineSegment` (so vibration and temperature follow the
state through the same first-order lags as the synthetic fleet, and energy is the
exact integral of power), the cumulative good and scrap counters; per truck, the
leg it is driving or the place it stands at; the dock occupancy of the logistics
centre; and the disasters, which it passes on to a :class:`~sensors.hazards.HazardField`.

It reads events only, never the model's internals, so what the fleet publishes is
exactly what the model reported. Times are converted to epoch milliseconds by the
injected ``to_ms``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sensors.hazards import HazardField
from sensors.machines import FAST_TARGET, HEAT_TARGET, MachineSegment
from twin.model import Complex, MachineState

__all__ = ["MachineTrack", "TruckTrack", "ModelView", "standing"]

#: Segments are open-ended until the next state change.
_OPEN_MS = 2**62

_Pt = tuple[float, float]


class MachineTrack:
    """One machine as its events describe it."""

    __slots__ = ("id", "factory", "segment", "model_power_kw", "good", "scrap", "produced")

    def __init__(self, machine_id: str, factory: str):
        self.id = machine_id
        self.factory = factory
        self.segment: MachineSegment | None = None
        self.model_power_kw = 0.0
        self.good = 0
        self.scrap = 0
        self.produced = 0

    def enter(self, state: MachineState, power_kw: float, ts_ms: int) -> None:
        """A new segment from ``ts_ms``; levels carry over from the previous one."""
        seg = self.segment
        if seg is None:  # start warm, as after a while in that state
            fast, heat, energy = FAST_TARGET[state], HEAT_TARGET[state], 0.0
        else:
            ts_ms = max(ts_ms, seg.start_ms)
            fast, heat, energy = seg.fast_level(ts_ms), seg.heat_level(ts_ms), seg.energy_kwh(ts_ms)
        self.segment = MachineSegment(ts_ms, _OPEN_MS, state, power_kw, fast, heat, energy, 0, 0)

    @property
    def state(self) -> MachineState:
        return self.segment.state if self.segment is not None else MachineState.OFF


@dataclass(slots=True)
class TruckTrack:
    """Where a truck is: driving ``path`` over [start_ms, end_ms], or standing at ``path[0]``."""

    path: tuple[_Pt, ...]
    cum: tuple[float, ...]
    start_ms: int
    end_ms: int
    load: float
    driving: bool = False

    def position(self, ts_ms: int) -> _Pt:
        if not self.driving or len(self.path) == 1 or self.cum[-1] <= 0:
            return self.path[-1] if self.driving and ts_ms >= self.end_ms else self.path[0]
        span = max(1, self.end_ms - self.start_ms)
        along = min(1.0, max(0.0, (ts_ms - self.start_ms) / span)) * self.cum[-1]
        i = min(len(self.path) - 2, max(0, bisect_right(self.cum, along) - 1))
        seg = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg == 0 else (along - self.cum[i]) / seg
        a, b = self.path[i], self.path[i + 1]
        return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))

    def speed_kmh(self, ts_ms: int) -> float:
        if not self.driving or not (self.start_ms <= ts_ms < self.end_ms):
            return 0.0
        return self.cum[-1] / max(1e-3, (self.end_ms - self.start_ms) / 1000) * 3.6


def standing(point: _Pt, ts_ms: int = 0, load: float = 0.0) -> TruckTrack:
    """A truck standing at ``point``."""
    return _track([point], ts_ms, ts_ms, load, False)


def _track(path: Sequence[_Pt], start_ms: int, end_ms: int, load: float, driving: bool) -> TruckTrack:
    pts = tuple(path)
    cum = [0.0]
    for a, b in zip(pts, pts[1:], strict=False):
        cum.append(cum[-1] + math.dist(a, b))
    return TruckTrack(pts, tuple(cum), start_ms, end_ms, load, driving)


class ModelView:
    """The sensor-side state of the simulated complex, fed by the model's events."""

    def __init__(
        self,
        complex_: Complex,
        to_ms: Callable[[float], int],
        hazards: HazardField,
        *,
        places: dict[str, _Pt] | None = None,
        route: Callable[[str, str], Sequence[_Pt]] | None = None,
        truck_homes: dict[str, str] | None = None,
        on_disaster: Callable[[int, dict[str, object]], None] | None = None,
    ):
        self.complex = complex_
        self.to_ms = to_ms
        self.hazards = hazards
        self.machines = {
            m.id: MachineTrack(m.id, f.id) for f in complex_.factories.values() for ln in f.lines for m in ln.machines
        }
        self._factory_machines: dict[str, list[MachineTrack]] = {}
        for t in self.machines.values():
            self._factory_machines.setdefault(t.factory, []).append(t)
        self._places = places or {}
        self._route = route
        self.trucks: dict[str, TruckTrack] = {}
        for tid, home in (truck_homes or {}).items():
            if home in self._places:
                self.trucks[tid] = standing(self._places[home])
        self.dock_occupied = 0
        self.events = 0
        self._on_disaster = on_disaster

    def set_roads(self, places: dict[str, _Pt], route: Callable[[str, str], Sequence[_Pt]] | None) -> None:
        """Where places are and how trucks drive between them (from the model's road network)."""
        self._places = dict(places)
        self._route = route

    # ---- the sink -----------------------------------------------------------------------------

    def __call__(self, e: object) -> None:
        kind = getattr(e, "kind", None)
        source = getattr(e, "source", "")
        data: Mapping[str, Any] = getattr(e, "data", {})
        ts = self.to_ms(getattr(e, "time", 0.0))
        self.events += 1
        if kind == "machine.state":
            t = self.machines.get(source)
            if t is not None:
                t.model_power_kw = float(data["power_kw"])
                self._enter(t, MachineState(data["state"]), ts)
        elif kind == "machine.count":
            t = self.machines.get(source)
            if t is not None:
                t.good, t.scrap, t.produced = (
                    int(data["good"]),
                    int(data["scrap"]),
                    int(data["produced"]),
                )
        elif kind == "truck.move":
            self._truck_move(source, data, ts)
        elif kind == "truck.arrive":
            place = self._places.get(data.get("location", ""))
            if place is not None:
                self.trucks[source] = standing(place, ts, float(data.get("load", 0)))
        elif kind == "dock.occupancy":
            self.dock_occupied = int(data["occupied"])
        elif kind == "disaster":
            self._disaster(data, ts)

    def _enter(self, t: MachineTrack, state: MachineState, ts: int) -> None:
        power = 0.0 if self.hazards.power_cut(t.factory, ts) else t.model_power_kw
        t.enter(state, power, ts)

    def _truck_move(self, truck: str, data: Mapping[str, Any], ts: int) -> None:
        origin, dest = str(data["origin"]), str(data["destination"])
        eta_ms = self.to_ms(float(data["eta"]))
        path: Sequence[_Pt] = self._route(origin, dest) if self._route is not None else ()
        if not path:
            path = [p for p in (self._places.get(origin), self._places.get(dest)) if p is not None]
        if not path:
            return
        self.trucks[truck] = _track(path, ts, eta_ms, float(data.get("load", 0)), True)

    def _disaster(self, data: Mapping[str, Any], ts: int) -> None:
        phase = data.get("phase")
        did = str(data.get("id"))
        kind = str(data.get("kind"))
        facs: tuple[str, ...] = tuple(data.get("factories") or ())
        if phase == "start":
            self.hazards.start(did, kind, tuple(data.get("zones") or ()), facs, ts)
        elif phase == "contained":
            self.hazards.contain(did, ts)
        if kind == "power_outage" and phase in ("start", "contained"):
            for f in facs:
                for t in self._factory_machines.get(f, ()):
                    self._enter(t, t.state, ts)  # power off / back on from now
        if self._on_disaster is not None:
            self._on_disaster(ts, dict(data))

    # ---- look-ups -------------------------------------------------------------------------------

    def factory_machines(self, factory_id: str) -> list[MachineTrack]:
        return self._factory_machines.get(factory_id, [])
