"""Whether a factory may work now: closed by its calendar (planned) or by disasters.

A machine asks the gate before each stretch of work and waits for it to open.
When the gate closes, machines in the middle of a stretch are interrupted; their
remaining work resumes when it reopens (preempt-resume). Time with the gate closed
for planned reasons is *off* (outside planned busy time); time closed by a
disaster inside planned time is unplanned downtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import simpy

__all__ = ["Gate", "GateMember"]


class GateMember(Protocol):
    def gate_changed(self, closing: bool) -> None: ...


class Gate:
    """Open/closed status of one factory (or the logistics centre)."""

    __slots__ = (
        "env",
        "name",
        "planned_closed",
        "unplanned",
        "members",
        "_opened",
        "_since",
        "_stats",
        "listeners",
    )

    def __init__(self, env: simpy.Environment, name: str):
        self.env = env
        self.name = name
        self.planned_closed = False
        self.unplanned = 0
        self.members: list[GateMember] = []
        self.listeners: list[Callable[[], None]] = []
        self._opened: simpy.Event | None = None
        self._since = env.now
        # seconds planned-open, and of those seconds stopped by a disaster
        self._stats = [0.0, 0.0]

    @property
    def is_open(self) -> bool:
        return not self.planned_closed and self.unplanned == 0

    def wait_open(self) -> simpy.Event:
        """An event that fires when the gate next opens (call only while closed)."""
        if self._opened is None:
            self._opened = self.env.event()
        return self._opened

    # ---- time accounting --------------------------------------------------------------

    def _account(self) -> None:
        now = self.env.now
        dt = now - self._since
        self._since = now
        if not self.planned_closed:
            self._stats[0] += dt
            if self.unplanned:
                self._stats[1] += dt

    def planned_open_s(self) -> float:
        self._account()
        return self._stats[0]

    def disaster_s(self) -> float:
        """Planned-working seconds lost to disasters since the last reset."""
        self._account()
        return self._stats[1]

    def reset_stats(self) -> None:
        self._account()
        self._stats = [0.0, 0.0]

    # ---- changes ---------------------------------------------------------------------

    def _change(self, mutate: Callable[[], None]) -> None:
        was_open = self.is_open
        self._account()
        mutate()
        now_open = self.is_open
        closing = was_open and not now_open
        for m in self.members:
            m.gate_changed(closing)
        if now_open and not was_open and self._opened is not None:
            ev, self._opened = self._opened, None
            ev.succeed()
        for fn in self.listeners:
            fn()

    def set_planned(self, closed: bool) -> None:
        if closed != self.planned_closed:
            self._change(lambda: setattr(self, "planned_closed", closed))

    def stop(self) -> None:
        """A disaster stops this factory (stops nest)."""

        def inc() -> None:
            self.unplanned += 1

        self._change(inc)

    def restart(self) -> None:
        if self.unplanned <= 0:
            raise RuntimeError(f"gate {self.name!r} restarted more often than stopped")

        def dec() -> None:
            self.unplanned -= 1

        self._change(dec)
