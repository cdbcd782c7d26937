"""Drive the live twin's pure core from the model-driven sensor fleet on a simulated clock.

No broker and no wall clock: :class:`FleetDrive` asks :class:`~sensors.model_source.ModelSource`
for the readings the fleet would publish (its :class:`~sensors.fleet.FleetSchedule`, or a
coarser hand-made schedule), feeds them to :class:`~twin.live.twin.LiveTwin` with
``now_ms`` = the reading time, and ticks the twin's timers as the service does (every 0.5 s
of simulated time while readings flow).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from sensors.fleet import STAGGER_MAX_MS, FleetSchedule, period_ms
from sensors.injection import InjectCommand
from sensors.model_source import ModelSource
from sensors.randomness import derive_seed, unit_hash
from simulations.settings import ModelSettings
from twin.alarms.records import AlarmEvent
from twin.live.twin import LiveTwin
from twin.model import Complex

S = 1000
MIN = 60 * S
HOUR = 60 * MIN
#: 2026-11-26 00:00 in Asia/Seoul (both shipped configs' time zone): simulation second 0.
MIDNIGHT = 1_795_618_800_000
#: The live service ticks its timers this often (twin.live.service); so does the drive.
TICK_MS = 500
#: Gaps between readings longer than this get one tick instead of one per TICK_MS.
MAX_TICKED_GAP_MS = 10 * S
RAISING = frozenset({"raised", "reactivated"})
DISASTER_TYPES = frozenset({"fire", "gas_leak", "flood", "earthquake", "power_outage"})


class FleetDrive:
    """A model-driven fleet and a live twin fed from it, both on one simulated clock."""

    def __init__(
        self,
        c: Complex,
        start_ms: int,
        settings: ModelSettings | None = None,
        *,
        seed: int = 0,
        source: ModelSource | None = None,
    ):
        self.complex = c
        self.start_ms = start_ms
        self.src = source or ModelSource(c, start_ms, settings, seed=seed)
        self.twin = LiveTwin(c, start_ms=start_ms)
        self.schedule = FleetSchedule(c, start_ms, seed=seed)
        self.seed = seed
        self.events: list[AlarmEvent] = []
        self.readings = 0
        self.now_ms = start_ms
        self._next_tick = start_ms + TICK_MS

    def _step(self, ts: int, sensor_ids: Iterable[str]) -> None:
        if ts - self._next_tick > MAX_TICKED_GAP_MS:
            # a coarse schedule: one tick just before the readings is enough, since a delay
            # completed by a tick is stamped when it ran out, not when the tick noticed
            self._next_tick = ts - 1
        while self._next_tick < ts:  # timers run between readings, as on the service's clock
            self.events += self.twin.tick(self._next_tick)
            self._next_tick += TICK_MS
        readings = self.src.sample(tuple(sensor_ids), ts)
        self.readings += len(readings)
        self.events += self.twin.feed(readings, ts)
        self.now_ms = ts

    def run_fleet(self, until_ms: int, only: frozenset[str] | None = None) -> None:
        """Publish what the fleet's schedule has due up to ``until_ms``.

        ``only``: just these sensors, at the same due times (periods and device phases) as
        the fleet's own schedule, without popping every other sensor's due times too.
        """
        if only is not None:
            self.run_batches(native_batches(self.complex, only, self.now_ms + 1, until_ms, self.start_ms, self.seed))
            self.finish(until_ms)
            return
        while True:
            batches = self.schedule.pop_until(until_ms, 2000)
            if not batches:
                break
            for b in batches:
                self._step(b.ts_ms, b.sensor_ids)
        self.finish(until_ms)

    def run_batches(self, batches: Iterable[tuple[int, list[str]]]) -> None:
        """Publish hand-scheduled batches (time order)."""
        for ts, ids in batches:
            self._step(ts, ids)

    def finish(self, until_ms: int) -> None:
        """Run the twin's timers up to ``until_ms``."""
        if until_ms - self._next_tick > MAX_TICKED_GAP_MS:
            self._next_tick = until_ms
        while self._next_tick <= until_ms:
            self.events += self.twin.tick(self._next_tick)
            self._next_tick += TICK_MS
        self.now_ms = max(self.now_ms, until_ms)

    def inject(self, kind: str, *, zones: tuple[str, ...] = (), factories: tuple[str, ...] = ()) -> int:
        """Start a disaster at the next sample, as `twin inject` does; returns the injection time."""
        got = []
        self.src.request(InjectCommand(f"t-{kind}", kind, zones, factories), got.append)
        self.src.advance(self.now_ms)  # the fleet applies pending commands at its next sample
        assert got and got[0].ok, got
        return got[0].ts_ms

    def raised(self, type_: str) -> list[AlarmEvent]:
        """The events that raised an alarm of ``type_`` (in order)."""
        return [e for e in self.events if e.alarm.type == type_ and e.kind in RAISING]

    def disaster_raises(self) -> list[AlarmEvent]:
        """Every event that raised or re-raised a disaster alarm."""
        return [e for e in self.events if e.alarm.type in DISASTER_TYPES and e.kind in RAISING]


def coarse_day(
    c: Complex,
    start_ms: int,
    end_ms: int,
    groups: list[tuple[frozenset[str], int]],
    native_windows: list[tuple[int, int]],
    native: frozenset[str],
    seed: int = 0,
) -> Iterator[tuple[int, list[str]]]:
    """Batches for a long run: each group of sensors every ``step_ms``, plus ``native`` sensors
    at their own periods (with the fleet's per-device phases) inside ``native_windows``."""
    due: dict[int, list[str]] = {}
    for ids, step in groups:
        for t in range(start_ms, end_ms + 1, step):
            due.setdefault(t, []).extend(sorted(ids))
    for w0, w1 in native_windows:
        for t, ids in native_batches(c, native, w0, w1, w0, seed):
            due.setdefault(t, []).extend(ids)
    for t in sorted(due):
        yield t, list(dict.fromkeys(due[t]))


def _phase_ms(c: Complex, device: tuple[str, str], seed: int) -> int:
    """The fleet's phase of a device (as FleetSchedule staggers it)."""
    shortest = min(period_ms(c.sensors[s].sensor.period_s) for s in c.devices[device])
    spread = min(shortest, STAGGER_MAX_MS)
    return int(unit_hash(derive_seed(seed, "phase", *device), 0) * spread)


def native_batches(
    c: Complex, sensor_ids: Iterable[str], from_ms: int, until_ms: int, origin_ms: int, seed: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """Due times in [from_ms, until_ms] of some sensors at their own periods, phased like the
    fleet's schedule started at ``origin_ms``; one batch per due time, in time order."""
    heap: list[tuple[int, int, str, int]] = []
    for i, sid in enumerate(sorted(sensor_ids)):
        info = c.sensors[sid]
        p = period_ms(info.sensor.period_s)
        t = origin_ms + _phase_ms(c, (info.owner, info.device), seed) % p
        if t < from_ms:
            t += -(-(from_ms - t) // p) * p
        heapq.heappush(heap, (t, i, sid, p))
    while heap and heap[0][0] <= until_ms:
        t = heap[0][0]
        ids = []
        while heap and heap[0][0] == t:
            _, i, sid, p = heapq.heappop(heap)
            ids.append(sid)
            heapq.heappush(heap, (t + p, i, sid, p))
        yield t, ids
