"""A starting state for the model: what every machine, buffer and truck is doing.

The live twin forks the present into the model with a :class:`ComplexState`:
machine states with the work and repair time left, the lots waiting in every
buffer, finished goods waiting for a truck, where the trucks are and which
factories are stopped by an ongoing disaster. ``build_model(..., state=s)``
starts from it; :meth:`simulations.model.ComplexModel.snapshot` captures one from
a running model, so a model can also be forked from itself.

Remaining times left as ``None`` are drawn fresh from their distributions when
the model starts (for exponential times this is exact: they are memoryless).
Validation happens twice: field values here, on construction; references to the
complex (unknown machine, over-full buffer, unknown product) in ``build_model``,
which raises :class:`simulations.errors.StateError` naming the entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twin.model import MachineState

__all__ = ["WorkItem", "MachineSnapshot", "ComplexState"]


def _check_time(name: str, v: float | None) -> None:
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise ValueError(f'"{name}" must be a finite number >= 0 (got {v!r})')


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A lot: ``quantity`` units of ``product`` (``None``: the factory's first product),
    released ``age_s`` seconds ago (its lead time so far)."""

    quantity: int = 1
    product: str | None = None
    age_s: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValueError(f'"quantity" must be an integer >= 1 (got {self.quantity!r})')
        _check_time("age_s", self.age_s)


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    """What one machine is doing.

    - ``IDLE``: waiting for work, or ``blocked=True`` holding a finished ``job``
      because the next buffer is full;
    - ``SETUP``: changing over to ``job``'s product, ``setup_left_s`` to go;
    - ``BUSY``: processing ``job``, ``work_left_s`` to go;
    - ``DOWN``: failed, ``repair_left_s`` to go, optionally with the interrupted
      ``job`` and its ``work_left_s``;
    - ``OFF``: the same as ``IDLE``; whether a machine works is the shift calendar's call.

    ``time_to_failure_s`` is the operating time left before the next failure;
    ``product`` the last product made (a different next product costs a setup).
    """

    state: MachineState = MachineState.IDLE
    job: WorkItem | None = None
    blocked: bool = False
    work_left_s: float | None = None
    setup_left_s: float | None = None
    repair_left_s: float | None = None
    time_to_failure_s: float | None = None
    product: str | None = None

    def __post_init__(self) -> None:
        try:
            state = MachineState(self.state)
        except ValueError:
            raise ValueError(f'"state" must be one of {[s.value for s in MachineState]} (got {self.state!r})') from None
        object.__setattr__(self, "state", state)
        for name in ("work_left_s", "setup_left_s", "repair_left_s", "time_to_failure_s"):
            _check_time(name, getattr(self, name))
        if self.job is not None and not isinstance(self.job, WorkItem):
            raise ValueError(f'"job" must be a WorkItem or None (got {type(self.job).__name__})')
        if state in (MachineState.BUSY, MachineState.SETUP) and self.job is None:
            raise ValueError(f"a {state.value} machine needs the job it works on")
        if self.blocked and (self.job is None or state not in (MachineState.IDLE, MachineState.OFF)):
            raise ValueError("blocked=True needs state idle and the finished job")
        if state in (MachineState.IDLE, MachineState.OFF) and self.job is not None and not self.blocked:
            raise ValueError("an idle machine holds a job only when blocked=True")
        if self.setup_left_s is not None and state is not MachineState.SETUP:
            raise ValueError("setup_left_s applies to a machine in setup only")
        if self.repair_left_s is not None and state is not MachineState.DOWN:
            raise ValueError("repair_left_s applies to a down machine only")
        if self.work_left_s is not None and (self.job is None or state not in (MachineState.BUSY, MachineState.DOWN)):
            raise ValueError("work_left_s applies to a busy machine, or a down one with a job")

    def resume_fields(self) -> dict[str, Any]:
        """The machine process's view of this snapshot (see ``MachineSim._resume``)."""
        out: dict[str, Any] = {"product": self.product, "ttf_left": self.time_to_failure_s}
        if self.blocked:
            out["blocked"] = True
        elif self.state is MachineState.DOWN:
            out["repair_left"] = self.repair_left_s  # None -> drawn in build_model
            out["work_left"] = self.work_left_s
        elif self.state is MachineState.SETUP:
            out["setup_left"] = self.setup_left_s
            out["work_left"] = None
        elif self.state is MachineState.BUSY:
            out["setup_left"] = 0.0
            out["work_left"] = self.work_left_s
        return out


def _frozen_map(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f'"{name}" must be a mapping (got {type(value).__name__})')
    for k in value:
        if not isinstance(k, str):
            raise ValueError(f'"{name}" keys must be ids (strings), got {k!r}')
    return dict(value)  # a copy; plain dicts so states pickle to workers


@dataclass(frozen=True)
class ComplexState:
    """The state of the whole complex at simulation time ``time_s``.

    ``time_s`` is seconds since 00:00 site time of day 0 (it places the state on
    the shift calendar); ``buffers`` maps a machine id to the lots waiting in front
    of it, oldest first (in front of a line's first machine: the line's order pool);
    ``outbound_units`` maps a factory to finished units waiting for a truck;
    ``truck_locations`` maps a truck to a factory id or the centre id;
    ``factory_stops`` maps a factory to the seconds it stays stopped by an ongoing disaster.
    """

    time_s: float = 0.0
    machines: Mapping[str, MachineSnapshot] = field(default_factory=dict)
    buffers: Mapping[str, tuple[WorkItem, ...]] = field(default_factory=dict)
    outbound_units: Mapping[str, float] = field(default_factory=dict)
    truck_locations: Mapping[str, str] = field(default_factory=dict)
    factory_stops: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_time("time_s", self.time_s)
        machines = _frozen_map(self.machines, "machines")
        for k, v in machines.items():
            if not isinstance(v, MachineSnapshot):
                raise ValueError(f"machines[{k!r}] must be a MachineSnapshot (got {type(v).__name__})")
        buffers = {}
        for k, items in _frozen_map(self.buffers, "buffers").items():
            items = tuple(items)
            for i, it in enumerate(items):
                if not isinstance(it, WorkItem):
                    raise ValueError(f"buffers[{k!r}][{i}] must be a WorkItem (got {type(it).__name__})")
            buffers[k] = items
        for k, v in _frozen_map(self.outbound_units, "outbound_units").items():
            _check_time(f"outbound_units[{k!r}]", v)
        for k, v in _frozen_map(self.factory_stops, "factory_stops").items():
            _check_time(f"factory_stops[{k!r}]", v)
        for k, v in _frozen_map(self.truck_locations, "truck_locations").items():
            if not isinstance(v, str):
                raise ValueError(f"truck_locations[{k!r}] must be a place id (got {v!r})")
        object.__setattr__(self, "machines", machines)
        object.__setattr__(self, "buffers", buffers)
        object.__setattr__(self, "outbound_units", _frozen_map(self.outbound_units, "outbound_units"))
        object.__setattr__(self, "truck_locations", _frozen_map(self.truck_locations, "truck_locations"))
        object.__setattr__(self, "factory_stops", _frozen_map(self.factory_stops, "factory_stops"))

    @property
    def wip_units(self) -> int:
        """Units in buffers and on machines."""
        n = sum(it.quantity for items in self.buffers.values() for it in items)
        return n + sum(m.job.quantity for m in self.machines.values() if m.job is not None)
