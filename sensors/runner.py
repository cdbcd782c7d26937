"""The fleet's main loop: pace the simulated clock, sample what is due, hand it to a sink.

Time is injected (``wall_ms``, ``monotonic``, ``wait``) so the loop runs the same
against the real clock and against a fake one in tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sensors.fleet import FleetSchedule, SimClock
from sensors.publisher import BatchSink
from sensors.signals import SignalSource
from twin.timespec import now_ms

__all__ = ["RunResult", "FleetRunner"]

log = logging.getLogger(__name__)

#: Batches handled per step before checking the clock, the stop flag and the duration again.
MAX_BATCHES_PER_STEP = 500
#: Longest sleep between steps, seconds (bounds the reaction to a stop request).
MAX_SLEEP_S = 0.25


@dataclass(slots=True)
class RunResult:
    """What a run did; ``readings``/``batches`` count what the sink accepted."""

    sim_start_ms: int
    sim_now_ms: int
    batches: int = 0
    readings: int = 0
    unsent_readings: int = 0
    stopped_by: str = ""
    flushed: bool = True


class FleetRunner:
    """Runs a schedule against a clock, sampling a source and feeding a sink."""

    def __init__(
        self,
        schedule: FleetSchedule,
        source: SignalSource,
        sink: BatchSink,
        clock: SimClock,
        *,
        wall_ms: Callable[[], int] = now_ms,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] | None = None,
        on_progress: Callable[[RunResult], None] | None = None,
    ):
        self.schedule = schedule
        self.source = source
        self.sink = sink
        self.clock = clock
        self._wall_ms = wall_ms
        self._monotonic = monotonic
        self._wait = wait
        self._on_progress = on_progress

    def run(
        self, stop: threading.Event, duration_s: float | None = None, flush_timeout: float = 30.0
    ) -> RunResult:
        """Publish until ``stop`` is set or ``duration_s`` wall seconds pass, then flush."""
        wait = self._wait or stop.wait
        result = RunResult(self.clock.sim_start_ms, self.clock.sim_start_ms)
        deadline = None if duration_s is None else self._monotonic() + duration_s

        def over() -> str:
            if stop.is_set():
                return "stop"
            if deadline is not None and self._monotonic() >= deadline:
                return "duration"
            return ""

        while not (why := over()):
            target = self.clock.sim_at(self._wall_ms())
            batches = self.schedule.pop_until(target, MAX_BATCHES_PER_STEP)
            for i, b in enumerate(batches):
                readings = self.source.sample(b.sensor_ids, b.ts_ms)
                while not self.sink.offer(b.owner, b.device, readings):
                    if why := over():  # the broker holds us up and we are asked to stop
                        result.unsent_readings += len(readings) + sum(
                            len(x.sensor_ids) for x in batches[i + 1 :]
                        )
                        break
                if why:
                    break
                result.batches += 1
                result.readings += len(readings)
                result.sim_now_ms = b.ts_ms
            if why:
                break
            self.sink.poll()
            if self._on_progress is not None:
                self._on_progress(result)
            if len(batches) >= MAX_BATCHES_PER_STEP:
                continue  # behind: no sleeping until caught up
            wall = self._wall_ms()
            sleep_s = (self.clock.wall_at(self.schedule.peek_ms()) - wall) / 1000
            if deadline is not None:
                sleep_s = min(sleep_s, deadline - self._monotonic())
            if sleep_s > 0:
                wait(min(sleep_s, MAX_SLEEP_S))
        result.stopped_by = why or "stop"
        if result.unsent_readings:
            log.warning(
                "stopping while the broker held us up: %s reading(s) never sent",
                result.unsent_readings,
            )
        result.flushed = self.sink.flush(flush_timeout)
        if self._on_progress is not None:
            self._on_progress(result)
        return result
