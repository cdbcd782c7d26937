"""Which sensors are due when (pure): the fleet's schedule and its simulated clock.

:class:`FleetSchedule` emits, in time order, one :class:`DueBatch` per device and
due time, so one MQTT message carries all readings a device takes at once.
Devices are staggered: each gets a phase in [0, its shortest period), at most
5 s, derived from its id, so 300 sensors do not all fire in the same millisecond, while the
sensors of one device stay aligned and share batches.

:class:`SimClock` maps wall-clock time to simulated time: ``speed`` times faster
than real time from a start in the past until it catches up with the wall
clock, then real time. Simulated time is never ahead of the wall clock, so no
reading is stamped in the future.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from sensors.randomness import derive_seed, unit_hash
from twin.model import Complex

__all__ = ["DueBatch", "FleetSchedule", "SimClock", "period_ms"]

#: Devices start within this long of the schedule's start (their phase), whatever their period,
#: so every sensor has spoken a few seconds after a launch.
STAGGER_MAX_MS = 5000


def period_ms(period_s: float) -> int:
    """A sample period in whole milliseconds (at least 1)."""
    return max(1, round(period_s * 1000))


@dataclass(frozen=True, slots=True)
class DueBatch:
    """The sensors of one device due at ``ts_ms``: one MQTT message."""

    ts_ms: int
    owner: str
    device: str
    sensor_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Group:
    """Sensors of one device sharing a period: they always fall due together."""

    device_order: int
    period_ms: int
    sensor_ids: tuple[str, ...]


class FleetSchedule:
    """Due times of every sensor of a complex, from ``start_ms`` on."""

    def __init__(self, complex_: Complex, start_ms: int, *, stagger: bool = True, seed: int = 0):
        if start_ms < 0:
            raise ValueError(f'"start_ms" must be >= 0, got {start_ms}')
        self.start_ms = start_ms
        groups: list[_Group] = []
        self._devices: list[tuple[str, str]] = []
        self._heap: list[tuple[int, int]] = []
        for order, ((owner, device), sids) in enumerate(complex_.devices.items()):
            by_period: dict[int, list[str]] = {}
            for sid in sids:
                by_period.setdefault(period_ms(complex_.sensors[sid].sensor.period_s), []).append(
                    sid
                )
            shortest = min(by_period)
            spread = min(shortest, STAGGER_MAX_MS)
            key = derive_seed(seed, "phase", owner, device)
            phase = int(unit_hash(key, 0) * spread) if stagger else 0
            self._devices.append((owner, device))
            for p, ids in sorted(by_period.items()):
                heapq.heappush(self._heap, (start_ms + phase % p, len(groups)))
                groups.append(_Group(order, p, tuple(ids)))
        self._groups = groups

    def peek_ms(self) -> int:
        """When the next batch falls due."""
        return self._heap[0][0]

    def pop_until(self, until_ms: int, max_batches: int | None = None) -> list[DueBatch]:
        """Every batch due at or before ``until_ms``, in time order (then device order).

        ``max_batches`` bounds the work of one call (a clock far behind catches up
        over several calls); a due time is never split between calls.
        """
        heap = self._heap
        groups = self._groups
        out: list[DueBatch] = []
        while heap and heap[0][0] <= until_ms:
            if max_batches is not None and len(out) >= max_batches:
                break
            ts = heap[0][0]
            by_device: dict[int, list[str]] = {}
            while heap and heap[0][0] == ts:
                _, gi = heapq.heappop(heap)
                g = groups[gi]
                by_device.setdefault(g.device_order, []).extend(g.sensor_ids)
                heapq.heappush(heap, (ts + g.period_ms, gi))
            for order in sorted(by_device):
                owner, device = self._devices[order]
                out.append(DueBatch(ts, owner, device, tuple(by_device[order])))
        return out


@dataclass(frozen=True, slots=True)
class SimClock:
    """Simulated time as a function of wall time: ``speed`` x faster until caught up.

    ``sim_at(wall) = min(sim_start + speed * (wall - wall_start), wall)``.
    """

    sim_start_ms: int
    wall_start_ms: int
    speed: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f'"speed" must be a positive finite number, got {self.speed}')
        if self.sim_start_ms > self.wall_start_ms:
            raise ValueError(
                f"simulated start {self.sim_start_ms} is after the wall clock "
                f"{self.wall_start_ms}: readings would be stamped in the future"
            )

    def sim_at(self, wall_ms: int) -> int:
        """Simulated time at wall time ``wall_ms`` (never ahead of it)."""
        fast = self.sim_start_ms + math.floor(self.speed * (wall_ms - self.wall_start_ms))
        return min(fast, wall_ms)

    def wall_at(self, sim_ms: int) -> int:
        """The first wall time at which the simulated clock reaches ``sim_ms``."""
        fast = self.wall_start_ms + math.ceil((sim_ms - self.sim_start_ms) / self.speed)
        return max(fast, sim_ms)

    def caught_up(self, wall_ms: int) -> bool:
        """True once simulated time runs with the wall clock."""
        return self.sim_at(wall_ms) >= wall_ms
