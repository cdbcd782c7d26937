"""Downtime Pareto: time lost per cause from machine ``state`` windows, sorted, with cumulative %.

Pure: no I/O. The causes are what the ``state`` sensors report (``twin.model.MachineState``,
docs/kpis.md section 1): the stream cannot tell a failure from a disaster stop, or starved
from blocked, so the causes are the loss states themselves:

- ``down``: unplanned downtime (failure or disaster; ISO 22400 ADOT),
- ``setup``: changeover (AUST),
- ``idle``: waiting, starved or blocked (ADET).

``off`` is planned (outside shifts, breaks) and ``busy`` is production: neither is downtime.

Durations come from aggregated windows (the historian computes min, max, mean and count
per window, so a 30-day range never ships raw readings). A window whose min equals its
max was in that one state; a window holding two states is split exactly by its mean
(the share of samples in each, and the samples are evenly spaced); a window with three
or more states is split between its lowest and highest state by its mean (an
approximation; windows are kept short enough, 15 s for 8 h, that this is rare).
A window counts for at most ``count x period`` of time, so gaps in the data count as
nothing rather than as the last state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from twin.historian import Window
from twin.model import MachineState

__all__ = ["CAUSES", "ParetoRow", "add_window", "pareto_rows", "state_durations"]

#: Downtime causes: the state code a ``state`` sensor reports -> label shown.
CAUSES: dict[int, str] = {
    MachineState.DOWN.code: "down (failure or disaster)",
    MachineState.IDLE.code: "idle (starved or blocked)",
    MachineState.SETUP.code: "setup (changeover)",
}


@dataclass(frozen=True, slots=True)
class ParetoRow:
    cause: str
    hours: float
    share: float  # of all downtime, 0..1
    cumulative: float  # running share, 0..1


def add_window(out: dict[int, float], w: Window, every_ms: int, period_ms: float) -> None:
    """Add the time (ms) window ``w`` spent in each state code to ``out``."""
    if w.count <= 0 or not (w.min == w.min and w.max == w.max and w.mean == w.mean):  # empty or NaN
        return
    covered = min(float(every_ms), w.count * period_ms)
    lo, hi = round(w.min), round(w.max)
    if lo == hi:
        out[lo] = out.get(lo, 0.0) + covered
        return
    share_hi = min(1.0, max(0.0, (w.mean - lo) / (hi - lo)))
    out[hi] = out.get(hi, 0.0) + covered * share_hi
    out[lo] = out.get(lo, 0.0) + covered * (1.0 - share_hi)


def state_durations(windows: Iterable[Window], every_ms: int, period_ms: Mapping[str, float]) -> dict[int, float]:
    """Milliseconds per state code over all ``windows`` (of sensors listed in ``period_ms``)."""
    out: dict[int, float] = {}
    for w in windows:
        period = period_ms.get(w.sensor_id)
        if period is not None:
            add_window(out, w, every_ms, period)
    return out


def pareto_rows(durations_ms: Mapping[int, float]) -> list[ParetoRow]:
    """Downtime causes with time lost, most first, with their cumulative share; [] without downtime."""
    lost = [(CAUSES[code], ms / 3_600_000) for code, ms in durations_ms.items() if code in CAUSES and ms > 0]
    lost.sort(key=lambda item: (-item[1], item[0]))
    total = sum(h for _, h in lost)
    rows, running = [], 0.0
    for cause, hours in lost:
        running += hours
        rows.append(ParetoRow(cause, hours, hours / total, min(1.0, running / total)))
    return rows
