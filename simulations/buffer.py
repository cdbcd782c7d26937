"""Finite FIFO buffers between machines, with blocking and time-weighted levels.

A buffer feeds one station: one machine, or several identical machines in parallel
that take lots in the order they became idle. It hands work over without
scheduling an event when it can: ``pop``/``push`` succeed immediately or return
``None``/``False``, and only then does the caller wait on an event. That keeps a
lot's trip through a line to about one event per machine (its processing time).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from simulations.events import BUFFER_LEVEL, SimEvent, Sink
from simulations.job import Job

__all__ = ["Buffer", "SaturatedSource", "LineExit"]


class Buffer:
    """Work waiting in front of machine ``owner`` (capacity in lots; ``inf`` = unbounded)."""

    __slots__ = (
        "env",
        "owner",
        "line",
        "capacity",
        "items",
        "units",
        "_getters",
        "_putters",
        "_area",
        "_last",
        "_sink",
    )

    def __init__(
        self,
        env: simpy.Environment,
        owner: str,
        line: str,
        capacity: float,
        sink: Sink | None = None,
    ):
        if not capacity >= 1:
            raise ValueError(f'"capacity" must be >= 1 (got {capacity!r})')
        self.env = env
        self.owner = owner
        self.line = line
        self.capacity = capacity
        self.items: deque[Job] = deque()
        self.units = 0
        self._getters: deque[simpy.Event] = deque()
        self._putters: deque[tuple[simpy.Event, Job]] = deque()
        self._area = 0.0
        self._last = env.now
        self._sink = sink

    # ---- statistics -------------------------------------------------------------

    def _level(self, delta: int) -> None:
        now = self.env.now
        self._area += self.units * (now - self._last)
        self._last = now
        self.units += delta
        if self._sink is not None:
            self._sink(
                SimEvent(
                    now,
                    BUFFER_LEVEL,
                    self.owner,
                    {
                        "units": self.units,
                        "lots": len(self.items),
                        "capacity": None if math.isinf(self.capacity) else int(self.capacity),
                        "line": self.line,
                    },
                )
            )

    def unit_area(self) -> float:
        """Integral of units waiting over time since the last reset."""
        return self._area + self.units * (self.env.now - self._last)

    def reset_stats(self) -> None:
        self._area = 0.0
        self._last = self.env.now

    @property
    def is_full(self) -> bool:
        return len(self.items) >= self.capacity

    # ---- consumer side ---------------------------------------------------------------

    def pop(self) -> Job | None:
        """Take the oldest lot, or ``None`` if empty. Frees a blocked producer."""
        if not self.items:
            return None
        job = self.items.popleft()
        delta = -job.qty
        if self._putters:
            ev, nxt = self._putters.popleft()
            self.items.append(nxt)
            delta += nxt.qty
            ev.succeed()
        self._level(delta)
        return job

    def wait(self) -> simpy.Event:
        """An event that fires with the next lot pushed (call only when empty)."""
        ev = self.env.event()
        self._getters.append(ev)
        return ev

    # ---- producer side ------------------------------------------------------------

    def push(self, job: Job) -> bool:
        """Hand over ``job`` now if there is room (or a waiting consumer)."""
        if self._getters:
            self._getters.popleft().succeed(job)
            return True
        if len(self.items) < self.capacity:
            self.items.append(job)
            self._level(job.qty)
            return True
        return False

    def wait_put(self, job: Job) -> simpy.Event:
        """An event that fires once ``job`` has been accepted (call after ``push`` failed)."""
        ev = self.env.event()
        self._putters.append((ev, job))
        return ev

    def blocked_jobs(self) -> list[Job]:
        return [j for _, j in self._putters]


class SaturatedSource(Buffer):
    """An order pool that is never empty: the first machine of a saturated line."""

    __slots__ = ("_make",)

    def __init__(self, env: simpy.Environment, owner: str, line: str, make: Callable[[], Job]):
        super().__init__(env, owner, line, math.inf)
        self._make = make

    def pop(self) -> Job | None:
        if self.items:
            return super().pop()
        return self._make()


class LineExit:
    """The end of a line: accepts every lot and reports it complete."""

    __slots__ = ("_complete",)

    def __init__(self, complete: Callable[[Job], None]):
        self._complete = complete

    def push(self, job: Job) -> bool:
        self._complete(job)
        return True

    def wait_put(self, job: Job) -> simpy.Event:  # pragma: no cover - push never fails
        raise RuntimeError("a line exit never blocks")

    def blocked_jobs(self) -> list[Job]:
        return []
