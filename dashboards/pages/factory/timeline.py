"""Machine state timeline: segments of constant state from the historian's windows, and the figure.

Pure. The historian aggregates each machine's ``state`` sensor into windows (server
side); a window's state is the state at its end (its ``last`` value), so the timeline's
resolution is the window width, chosen so the whole figure carries at most
:data:`~dashboards.trend.MAX_POINTS` bars. Consecutive windows in one state merge into
one segment; a silence longer than the machine's silence limit leaves a gap (no data),
never a guessed state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import plotly.graph_objects as go

from dashboards.theme import TEMPLATE
from dashboards.trend import MAX_POINTS, empty_figure, window_ms
from twin.historian import Window
from twin.model import MachineState

__all__ = [
    "SILENCE_PERIODS",
    "STATE_COLOURS",
    "UNKNOWN",
    "Segment",
    "state_name",
    "state_segments",
    "timeline_window_ms",
    "timeline_figure",
]

#: A machine's state is unknown once this many periods of its state sensor pass silently
#: (the live twin's silence limit, docs/live.md).
SILENCE_PERIODS = 3
UNKNOWN = "unknown"

#: Colour per state; every bar also carries the state's name and a fill pattern, and the
#: legend names them, so the timeline is readable without colour.
STATE_COLOURS: dict[str, str] = {
    MachineState.BUSY.value: "#2e9e44",
    MachineState.IDLE.value: "#f0e6a8",
    MachineState.SETUP.value: "#8ab4f8",
    MachineState.DOWN.value: "#b42318",
    MachineState.OFF.value: "#d0d5dd",
    UNKNOWN: "#ffffff",
}
_PATTERNS = {"busy": "", "idle": ".", "setup": "/", "down": "x", "off": "-", UNKNOWN: "+"}


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start_ms, end_ms)`` in one state."""

    state: str
    start_ms: int
    end_ms: int


def state_name(code: object) -> str:
    """The state a sensor value encodes (``2.0`` -> ``busy``), ``unknown`` for anything else."""
    if not isinstance(code, int | float) or isinstance(code, bool) or not math.isfinite(code):
        return UNKNOWN
    n = round(code)
    if n != code:
        return UNKNOWN
    try:
        return MachineState.from_code(n).value
    except KeyError:
        return UNKNOWN


def state_segments(
    windows: Sequence[Window], every_ms: int, period_ms: int, until_ms: int | None = None
) -> list[Segment]:
    """Segments of one sensor's windows (any order), merged while the state stays the same.

    Two windows are contiguous when the second starts within the silence limit
    (``SILENCE_PERIODS`` x ``period_ms``, at least one window) of the first; a segment
    then runs to the next window's start. Otherwise the segment ends one window (or one
    period, if longer) after its last window: a gap follows.
    """
    if every_ms <= 0 or period_ms <= 0:
        raise ValueError(f"every_ms and period_ms must be > 0, got {every_ms} and {period_ms}")
    allowance = max(every_ms, SILENCE_PERIODS * period_ms)
    out: list[Segment] = []
    ordered = sorted(windows, key=lambda w: w.start_ms)
    for i, w in enumerate(ordered):
        state = state_name(w.last)
        nxt = ordered[i + 1].start_ms if i + 1 < len(ordered) else None
        if nxt is not None and nxt - w.start_ms <= allowance:
            end = nxt
        else:
            end = w.start_ms + max(every_ms, period_ms)
        if until_ms is not None:
            end = min(end, until_ms)
        if end <= w.start_ms:
            continue
        if out and out[-1].state == state and out[-1].end_ms == w.start_ms:
            out[-1] = Segment(state, out[-1].start_ms, end)
        else:
            out.append(Segment(state, w.start_ms, end))
    return out


def timeline_window_ms(range_ms: int, machines: int) -> int:
    """A window that keeps every machine's bars together under ``MAX_POINTS``."""
    return window_ms(range_ms, max(1, MAX_POINTS // max(1, machines)))


def _local(ms: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _short(iso: str) -> str:
    return iso[5:19].replace("T", " ")  # "11-27 14:05:00"


def timeline_figure(
    rows: Mapping[str, Sequence[Segment]],
    since_ms: int,
    until_ms: int,
    tz: tzinfo = UTC,
    message: str = "no machine state recorded in this range",
) -> go.Figure:
    """One row per machine (``rows``: label -> segments, top to bottom), one trace per state."""
    if not any(rows.values()):
        return empty_figure(message)
    labels = list(rows)
    # Plain dicts, built without Plotly's per-property validation (the figure is ours and
    # fixed in shape; validating thousands of bars took most of the callback's time).
    traces = []
    for state, colour in STATE_COLOURS.items():
        segs = [(label, s) for label in labels for s in rows[label] if s.state == state]
        if not segs:
            continue
        starts = [_local(s.start_ms, tz) for _, s in segs]
        traces.append(
            dict(
                type="bar",
                orientation="h",
                name=state,
                y=[label for label, _ in segs],
                base=starts,
                x=[s.end_ms - s.start_ms for _, s in segs],
                text=[state] * len(segs),
                textposition="inside",
                insidetextanchor="middle",
                textfont=dict(color="#ffffff" if state in ("busy", "down") else "#1f2933"),
                marker=dict(
                    color=colour,
                    line=dict(color="#1f2933", width=0.5),
                    pattern=dict(shape=_PATTERNS[state], fgcolor="#1f2933", fgopacity=0.35, size=6),
                ),
                customdata=[[_short(a), _short(_local(s.end_ms, tz))] for a, (_, s) in zip(starts, segs, strict=True)],
                hovertemplate="%{y}: <b>" + state + "</b> %{customdata[0]} - %{customdata[1]}<extra></extra>",
            )
        )
    layout = dict(
        barmode="overlay",
        bargap=0.25,
        margin=dict(l=140, r=16, t=16, b=80),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        uniformtext=dict(minsize=8, mode="hide"),
        legend=dict(orientation="h", y=-0.3, yanchor="top", title=dict(text="state: ")),
        xaxis=dict(
            type="date",
            range=[_local(since_ms, tz), _local(until_ms, tz)],
            title=dict(text=f"time ({getattr(tz, 'key', 'UTC')})"),
            gridcolor="#eeeeee",
        ),
        yaxis=dict(categoryorder="array", categoryarray=labels[::-1], autorange=True),
        uirevision=f"timeline:{until_ms - since_ms}",
        template=TEMPLATE,
    )
    return go.Figure(data=traces, layout=layout, _validate=False)
