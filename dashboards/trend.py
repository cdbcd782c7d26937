"""Trend figures: time ranges, aggregation windows that bound the points, and the figure.

Pure: takes windows already queried from the historian. Downsampling is server side
and min/max preserving: the historian aggregates each window (mean, min, max, count;
from its 1-minute and 1-hour rollups when the window is a whole number of minutes),
and the figure draws the mean inside a min-max band, so a spike is never averaged
away. The window width is chosen so a trace never carries more than
:data:`MAX_POINTS` points whatever the range, and :func:`bound_windows` enforces it
for any windows handed in. Traces longer than :data:`GL_MIN_POINTS` are drawn with
WebGL (``Scattergl``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import plotly.graph_objects as go

from dashboards.theme import TEMPLATE
from twin.historian import Window
from twin.model import MachineState, Sensor

__all__ = [
    "MAX_POINTS",
    "GL_MIN_POINTS",
    "RANGES",
    "DEFAULT_RANGE",
    "window_ms",
    "bound_windows",
    "site_zone",
    "local_ms",
    "axis_title",
    "trend_figure",
    "empty_figure",
]

#: Upper bound of points per trace: enough for a wall screen, cheap for the browser.
MAX_POINTS = 2000
#: From this many points per trace on, traces are WebGL. One SVG line of fewer points draws
#: in a few ms, while every WebGL context costs ~0.3-0.9 s to create where the browser has
#: no GPU (software rendering; docs/benchmarks.md) and browsers cap live contexts (~16).
#: So the default 15-min trend (at most 900 points) stays SVG; long ranges are WebGL.
GL_MIN_POINTS = 1000

#: Selectable trend ranges: key -> (label, length in ms). From 24 h on, the windows
#: are whole minutes, so the historian answers from its rollups, not raw readings.
RANGES: dict[str, tuple[str, int]] = {
    "15m": ("15 min", 15 * 60_000),
    "1h": ("1 h", 3_600_000),
    "24h": ("24 h", 86_400_000),
    "7d": ("7 d", 7 * 86_400_000),
    "30d": ("30 d", 30 * 86_400_000),
}
DEFAULT_RANGE = "15m"

# Window widths a human reads easily; the smallest that keeps a trace under MAX_POINTS wins.
_NICE_WINDOWS_MS = (
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be an integer > 0, got {value!r}")
    return value


def window_ms(range_ms: int, max_points: int = MAX_POINTS) -> int:
    """Aggregation window for a range: a nice width giving at most ``max_points`` windows.

    A range that does not start on a window boundary touches one window more than
    ``range / window``; that partial window is counted too.
    """
    range_ms = _positive_int("range_ms", range_ms)
    max_points = _positive_int("max_points", max_points)
    need = math.ceil(range_ms / max(1, max_points - 1)) if max_points > 1 else range_ms + 1
    for w in _NICE_WINDOWS_MS:
        if w >= need:
            return w
    return need  # ranges beyond ~5 years: not nice, but still bounded


def bound_windows(windows: Sequence[Window], max_points: int = MAX_POINTS) -> list[Window]:
    """At most ``max_points`` windows: runs of neighbours merged exactly when there are more.

    Merging keeps what the band shows: the count-weighted mean, the min of the mins,
    the max of the maxes and the last value, so a spike survives any reduction.
    """
    max_points = _positive_int("max_points", max_points)
    if len(windows) <= max_points:
        return list(windows)
    size = math.ceil(len(windows) / max_points)
    out = []
    for i in range(0, len(windows), size):
        run = windows[i : i + size]
        n = sum(w.count for w in run)
        mean = sum(w.mean * w.count for w in run) / n if n else run[0].mean
        out.append(
            Window(
                run[0].sensor_id,
                run[0].start_ms,
                mean,
                min(w.min for w in run),
                max(w.max for w in run),
                run[-1].last,
                n,
            )
        )
    return out


def site_zone(name: str) -> tzinfo:
    """The site's time zone for axis labels; UTC when the system lacks that zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local(ms: int, tz: tzinfo) -> str:
    # Plotly shows naive ISO strings as they are: convert to the site's wall clock first.
    return datetime.fromtimestamp(ms / 1000, tz).replace(tzinfo=None).isoformat(timespec="milliseconds")


def local_ms(ms: np.ndarray, tz: tzinfo) -> np.ndarray:
    """Epoch ms shifted by the site's UTC offset: a date axis shows them as its wall clock."""
    if not len(ms):
        return ms

    def offset(t: float) -> float:
        delta = datetime.fromtimestamp(t / 1000, UTC).astimezone(tz).utcoffset()
        return delta.total_seconds() * 1000 if delta is not None else 0.0

    first, last = offset(float(ms[0])), offset(float(ms[-1]))
    if first == last:  # no DST change in the range (always so in zones without DST)
        return ms + first
    return ms + np.array([offset(float(t)) for t in ms])


def axis_title(sensor: Sensor) -> str:
    """``power [kW]``: the quantity and its unit, from the config."""
    return f"{sensor.kind.replace('_', ' ')} [{sensor.unit}]"


def trend_figure(
    sensor: Sensor,
    windows: Sequence[Window],
    since_ms: int,
    until_ms: int,
    every_ms: int,
    tz: tzinfo = UTC,
    title: str = "",
) -> go.Figure:
    """Mean line with a min-max band, one point per window, x in the site's time zone.

    At most :data:`MAX_POINTS` points per trace (more windows are merged); WebGL
    traces from :data:`GL_MIN_POINTS` points on.
    """
    if not windows:
        return empty_figure(f"no data for {sensor.id} in this range", axis_title(sensor))
    if len(windows) > MAX_POINTS:
        merged = bound_windows(windows, MAX_POINTS)
        every_ms *= math.ceil(len(windows) / len(merged))
        windows = merged
    # Columns as numpy arrays: plotly validates and serialises them whole (base64 typed
    # arrays), where lists cost a Python call per element - most of a callback's time.
    cols = np.array([(w.start_ms, w.mean, w.min, w.max, w.count) for w in windows], dtype=np.float64)
    xs = local_ms(cols[:, 0] + every_ms // 2, tz)
    shape = "hv" if sensor.kind == "state" else "linear"
    # One trace type for all three: a fill "tonexty" only pairs traces of the same type.
    trace = go.Scattergl if len(windows) >= GL_MIN_POINTS else go.Scatter
    traces = []
    if every_ms > 1_000 or bool((cols[:, 4] > 1).any()):
        traces.append(
            trace(
                x=xs,
                y=cols[:, 3],
                name="max",
                mode="lines",
                line=dict(width=0, shape=shape),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        traces.append(
            trace(
                x=xs,
                y=cols[:, 2],
                name="min",
                mode="lines",
                line=dict(width=0, shape=shape),
                fill="tonexty",
                fillcolor="rgba(21, 101, 192, 0.18)",
                hoverinfo="skip",
                showlegend=False,
            )
        )
    traces.append(
        trace(
            x=xs,
            y=cols[:, 1],
            name="mean",
            mode="lines",
            line=dict(color="#1565c0", width=1.8, shape=shape),
            customdata=cols[:, 2:5],
            hovertemplate=(
                f"%{{x}}<br>mean %{{y:.4g}} {sensor.unit}<br>min %{{customdata[0]:.4g}}"
                f" · max %{{customdata[1]:.4g}}<br>%{{customdata[2]}} readings<extra></extra>"
            ),
            showlegend=False,
        )
    )
    yaxis: dict[str, object] = dict(title=dict(text=axis_title(sensor)), zeroline=False)
    if sensor.kind == "state":
        yaxis.update(tickvals=[s.code for s in MachineState], ticktext=[s.value for s in MachineState])
    layout = dict(
        title=dict(text=title, font=dict(size=14), x=0.01) if title else None,
        # b: the date ticks take two lines and the axis title one; r: half a tick label, for a
        # tick at the right edge. A margin too small is grown by the template's automargin
        # only after a first draw, by drawing it all again.
        margin=dict(l=60, r=36, t=40 if title else 16, b=70),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        hovermode="x unified",
        xaxis=dict(
            type="date",  # x holds epoch ms (shifted to the site's wall clock)
            title=dict(text=f"time ({getattr(tz, 'key', 'UTC')})"),
            showgrid=True,
            gridcolor="#eeeeee",
            range=[_local(since_ms, tz), _local(until_ms, tz)],
        ),
        yaxis=yaxis,
        # Keep zoom while refreshing, reset it when the sensor or range changes.
        uirevision=f"{sensor.id}:{until_ms - since_ms}",
    )
    # Built in one go: add_trace/update_layout re-walk the figure on every call.
    return go.Figure(data=traces, layout={**layout, "template": TEMPLATE})


def empty_figure(message: str, y_title: str = "") -> go.Figure:
    """A figure with no data and a message in the middle (never an error page)."""
    fig = go.Figure(layout={"template": TEMPLATE})
    fig.update_layout(
        margin=dict(l=60, r=16, t=16, b=48),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        xaxis=dict(visible=False),
        yaxis=dict(visible=bool(y_title), title=dict(text=y_title)),
        annotations=[
            dict(
                text=message,
                x=0.5,
                y=0.5,
                xref="paper",
                yref="paper",
                showarrow=False,
                font=dict(size=14, color="#5f6b7a"),
            )
        ],
    )
    return fig
