"""Disasters: fire, gas leak, flood, earthquake, power outage, and the response to them.

A disaster stops its target factories (and the logistics centre when its zone is
hit), may block the roads of the zones it hits, and calls an emergency team when
the kind needs one. Its timeline::

    onset -> (wait for a free team, team travels: response time) -> hazard lasts
    ``duration`` -> roads reopen -> restart time -> factories run again
    -> recovered, once each factory's work in progress is back to its level at
       onset (plus one lot): the backlog built up during the stop has been cleared.

Scheduled disasters start at a given time; random ones follow a Poisson process
with the given yearly rate. :meth:`DisasterManager.inject` starts one now (the
live twin's ``twin inject``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from simulations.distributions import Sampler, exponential
from simulations.events import DISASTER, SimEvent, Sink
from simulations.gate import Gate
from simulations.settings import DisasterSpec
from simulations.streams import RandomStreams

if TYPE_CHECKING:
    from simulations.factory import FactorySim
    from simulations.logistics import LogisticsSim

__all__ = ["DisasterRecord", "DisasterManager", "RECOVERY_CHECK_S", "YEAR_S"]

#: How often a recovering factory's backlog is compared with its level at onset.
RECOVERY_CHECK_S = 600.0
YEAR_S = 365.0 * 86400.0


@dataclass(slots=True)
class DisasterRecord:
    """What one disaster did (times in simulation seconds)."""

    id: str
    kind: str
    onset: float
    factories: tuple[str, ...]
    zones: tuple[str, ...]
    restarted: float | None = None
    recovered: float | None = None
    #: response + duration + restart drawn at onset; the stop's length once a team is free
    stop_plan: float = 0.0
    #: when production restarts, known once a team is on its way (or none is needed)
    restart_at: float | None = None
    onset_wip: dict[str, int] = field(default_factory=dict)


class DisasterManager:
    """Starts disasters and runs their response; keeps a record of each."""

    def __init__(
        self,
        env: simpy.Environment,
        specs: Sequence[DisasterSpec],
        factories: Mapping[str, FactorySim],
        zone_of_factory: Mapping[str, str],
        all_zones: Sequence[str],
        centre_gate: Gate | None,
        centre_zone: str | None,
        logistics: LogisticsSim | None,
        teams: int,
        response: Sampler,
        restart: Sampler,
        streams: RandomStreams,
        sink: Sink | None = None,
    ):
        self.env = env
        self.specs = tuple(specs)
        self.factories = factories
        self.zone_of_factory = dict(zone_of_factory)
        self.all_zones = tuple(all_zones)
        self.centre_gate = centre_gate
        self.centre_zone = centre_zone
        self.logistics = logistics
        self.team = simpy.Resource(env, capacity=teams)
        self._response = response
        self._restart = restart
        self._streams = streams
        self._sink = sink
        self.records: list[DisasterRecord] = []
        self._injected = 0
        self._samplers: list[tuple[Sampler, Sampler | None]] = []
        for i, spec in enumerate(self.specs):
            dur = spec.duration_distribution.sampler(streams.rng(f"disaster.{i}.{spec.label}.duration"))
            gaps = None
            if spec.rate_per_year is not None:
                mean = YEAR_S / spec.rate_per_year
                gaps = Sampler(exponential(mean), streams.rng(f"disaster.{i}.{spec.label}.arrivals"))
            self._samplers.append((dur, gaps))

    def start(self) -> None:
        now = self.env.now
        for spec, (dur, gaps) in zip(self.specs, self._samplers, strict=True):
            at = spec.scheduled_at_s
            if at is not None:
                if at >= now:  # a forecast started later skips disasters already past
                    self.env.process(self._scheduled(spec, at, dur))
            else:
                assert gaps is not None
                self.env.process(self._random(spec, dur, gaps))

    def inject(self, spec: DisasterSpec) -> DisasterRecord:
        """Start ``spec`` now, whatever its schedule says."""
        self._injected += 1
        dur = spec.duration_distribution.sampler(self._streams.rng(f"disaster.injected.{self._injected}"))
        rec = self._onset(spec)
        self.env.process(self._respond(spec, rec, dur))
        return rec

    # ---- processes ---------------------------------------------------------------------

    def _scheduled(self, spec: DisasterSpec, at: float, dur: Sampler) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at - self.env.now)
        rec = self._onset(spec)
        yield from self._respond(spec, rec, dur)

    def _random(self, spec: DisasterSpec, dur: Sampler, gaps: Sampler) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(gaps.draw())
            rec = self._onset(spec)
            self.env.process(self._respond(spec, rec, dur))

    def targets(self, spec: DisasterSpec) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """(factories, zones, centre hit?) of a disaster."""
        if spec.factories:
            facs = tuple(spec.factories)
            zones = tuple(dict.fromkeys(self.zone_of_factory[f] for f in facs))
            return facs, zones, False
        zones = tuple(spec.zones) or self.all_zones
        facs = tuple(f for f, z in self.zone_of_factory.items() if z in zones)
        return facs, zones, self.centre_zone is not None and self.centre_zone in zones

    def _onset(self, spec: DisasterSpec) -> DisasterRecord:
        facs, zones, centre = self.targets(spec)
        rec = DisasterRecord(f"{spec.label}#{len(self.records) + 1}", spec.kind, self.env.now, facs, zones)
        rec.onset_wip = {f: self.factories[f].wip_now() for f in facs}
        self.records.append(rec)
        for f in facs:
            self.factories[f].gate.stop()
        if centre and self.centre_gate is not None:
            self.centre_gate.stop()
        if spec.effective_blocks_roads and self.logistics is not None:
            self.logistics.block_roads(zones)
        self._emit(rec, "start")
        return rec

    def _respond(self, spec: DisasterSpec, rec: DisasterRecord, dur: Sampler) -> Generator[simpy.Event, Any, None]:
        env = self.env
        _, _, centre = self.targets(spec)
        response = self._response.draw() if spec.effective_response else 0.0
        duration = dur.draw()
        restart = self._restart.draw()
        rec.stop_plan = response + duration + restart
        if spec.effective_response:
            with self.team.request() as req:
                yield req
                rec.restart_at = env.now + rec.stop_plan
                yield env.timeout(response)
                self._emit(rec, "response")
                yield env.timeout(duration)
        else:
            rec.restart_at = env.now + rec.stop_plan
            yield env.timeout(duration)
        self._emit(rec, "contained")
        if spec.effective_blocks_roads and self.logistics is not None:
            self.logistics.unblock_roads(rec.zones)
        yield env.timeout(restart)
        for f in rec.factories:
            self.factories[f].gate.restart()
        if centre and self.centre_gate is not None:
            self.centre_gate.restart()
        rec.restarted = env.now
        self._emit(rec, "restarted")
        while not self._recovered(rec):
            yield env.timeout(RECOVERY_CHECK_S)
        rec.recovered = env.now
        self._emit(rec, "recovered")

    def _recovered(self, rec: DisasterRecord) -> bool:
        for f, level in rec.onset_wip.items():
            fac = self.factories[f]
            if not fac.gate.is_open and fac.gate.unplanned:
                return False  # stopped again by another disaster
            if fac.wip_now() > level + fac.typical_lot:
                return False
        return True

    def _emit(self, rec: DisasterRecord, phase: str) -> None:
        if self._sink is not None:
            self._sink(
                SimEvent(
                    self.env.now,
                    DISASTER,
                    rec.id,
                    {
                        "phase": phase,
                        "kind": rec.kind,
                        "zones": list(rec.zones),
                        "factories": list(rec.factories),
                        "id": rec.id,
                    },
                )
            )

    def active(self) -> list[DisasterRecord]:
        return [r for r in self.records if r.restarted is None]
