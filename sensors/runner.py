"""The fleet's main loop: pace the simulated clock, sample what is due, hand it to a sink.

The loop works in wall-clock ticks (``tick_s``, 50 ms by default). Each tick it
takes every batch due up to the simulated "now", samples them in time order and
sends one message per device holding all of that device's readings of the tick.
At real time a device has at most one due time per tick, so a message is one
sample of the device; faster than real time a message carries several, which
keeps the message rate (the costly part of MQTT) bounded by devices x ticks.

Time is injected (``wall_ms``, ``monotonic``, ``wait``) so the loop runs the same
against the real clock and against a fake one in tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sensors.fleet import DueBatch, FleetSchedule, SimClock
from sensors.publisher import BatchSink
from sensors.signals import SignalSource
from twin.codec import Reading
from twin.timespec import now_ms

__all__ = ["RunResult", "FleetRunner", "device_messages"]

log = logging.getLogger(__name__)

#: Due batches handled per tick before checking the clock, the stop flag and the duration again.
MAX_BATCHES_PER_STEP = 2000
#: Shortest wall time between ticks, seconds.
TICK_S = 0.05
#: Longest sleep between ticks, seconds (bounds the reaction to a stop request).
MAX_SLEEP_S = 0.25
#: Readings per message at most (the codec allows 10,000 and 256 KiB; stay far below).
MAX_READINGS_PER_MESSAGE = 500


@dataclass(slots=True)
class RunResult:
    """What a run did; ``messages``/``readings`` count what the sink accepted."""

    sim_start_ms: int
    sim_now_ms: int
    messages: int = 0
    readings: int = 0
    unsent_readings: int = 0
    stopped_by: str = ""
    flushed: bool = True


def device_messages(
    batches: list[DueBatch], source: SignalSource
) -> list[tuple[str, str, list[Reading]]]:
    """Sample ``batches`` in time order; one message per device (split past the size cap)."""
    per_device: dict[tuple[str, str], list[Reading]] = {}
    for b in batches:
        per_device.setdefault((b.owner, b.device), []).extend(source.sample(b.sensor_ids, b.ts_ms))
    out = []
    for (owner, device), readings in per_device.items():
        for i in range(0, len(readings), MAX_READINGS_PER_MESSAGE):
            out.append((owner, device, readings[i : i + MAX_READINGS_PER_MESSAGE]))
    return out


class FleetRunner:
    """Runs a schedule against a clock, sampling a source and feeding a sink."""

    def __init__(
        self,
        schedule: FleetSchedule,
        source: SignalSource,
        sink: BatchSink,
        clock: SimClock,
        *,
        tick_s: float = TICK_S,
        wall_ms: Callable[[], int] = now_ms,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] | None = None,
        on_progress: Callable[[RunResult], None] | None = None,
    ):
        if not tick_s > 0:
            raise ValueError(f'"tick_s" must be > 0, got {tick_s}')
        self.schedule = schedule
        self.source = source
        self.sink = sink
        self.clock = clock
        self.tick_ms = round(tick_s * 1000)
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
            tick_wall = self._wall_ms()
            batches = self.schedule.pop_until(self.clock.sim_at(tick_wall), MAX_BATCHES_PER_STEP)
            messages = device_messages(batches, self.source)
            for i, (owner, device, readings) in enumerate(messages):
                while not self.sink.offer(owner, device, readings):
                    if why := over():  # the broker holds us up and we are asked to stop
                        result.unsent_readings += sum(len(m[2]) for m in messages[i:])
                        break
                if why:
                    break
                result.messages += 1
                result.readings += len(readings)
            if why:
                break
            if batches:
                result.sim_now_ms = batches[-1].ts_ms
            self.sink.poll()
            if self._on_progress is not None:
                self._on_progress(result)
            if len(batches) >= MAX_BATCHES_PER_STEP:
                continue  # behind: no sleeping until caught up
            wake = max(self.clock.wall_at(self.schedule.peek_ms()), tick_wall + self.tick_ms)
            sleep_s = (wake - self._wall_ms()) / 1000
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
