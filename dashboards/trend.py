"""Trend figures: time ranges, aggregation windows that bound the points, and the figure.

Pure: takes windows already queried from the historian. The window width is chosen
so a trace never carries more than :data:`MAX_POINTS` points whatever the range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import plotly.graph_objects as go

from twin.historian import Window
from twin.model import MachineState, Sensor

__all__ = [
    "MAX_POINTS",
    "RANGES",
    "DEFAULT_RANGE",
    "window_ms",
    "site_zone",
    "axis_title",
    "trend_figure",
    "empty_figure",
]

#: Upper bound of points per trace: enough for a wall screen, cheap for the browser.
MAX_POINTS = 2000

#: Selectable trend ranges: key -> (label, length in ms).
RANGES: dict[str, tuple[str, int]] = {
    "15m": ("15 min", 15 * 60_000),
    "1h": ("1 h", 3_600_000),
    "24h": ("24 h", 86_400_000),
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


def window_ms(range_ms: int, max_points: int = MAX_POINTS) -> int:
    """Aggregation window for a range: a nice width giving at most ``max_points`` windows."""
    if range_ms <= 0 or max_points <= 0:
        raise ValueError(f"range and max_points must be > 0, got {range_ms} and {max_points}")
    need = math.ceil(range_ms / max_points)
    for w in _NICE_WINDOWS_MS:
        if w >= need:
            return w
    return need  # ranges beyond ~5 years: not nice, but still bounded


def site_zone(name: str) -> tzinfo:
    """The site's time zone for axis labels; UTC when the system lacks that zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local(ms: int, tz: tzinfo) -> str:
    # Plotly shows naive ISO strings as they are: convert to the site's wall clock first.
    return (
        datetime.fromtimestamp(ms / 1000, tz)
        .replace(tzinfo=None)
        .isoformat(timespec="milliseconds")
    )


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
    """Mean line with a min-max band, one point per window, x in the site's time zone."""
    if not windows:
        return empty_figure(f"no data for {sensor.id} in this range", axis_title(sensor))
    xs = [_local(w.start_ms + every_ms // 2, tz) for w in windows]
    shape = "hv" if sensor.kind == "state" else "linear"
    fig = go.Figure()
    if every_ms > 1_000 or any(w.count > 1 for w in windows):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[w.max for w in windows],
                name="max",
                mode="lines",
                line=dict(width=0, shape=shape),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[w.min for w in windows],
                name="min",
                mode="lines",
                line=dict(width=0, shape=shape),
                fill="tonexty",
                fillcolor="rgba(21, 101, 192, 0.18)",
                hoverinfo="skip",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[w.mean for w in windows],
            name="mean",
            mode="lines",
            line=dict(color="#1565c0", width=1.8, shape=shape),
            customdata=[[w.min, w.max, w.count] for w in windows],
            hovertemplate=(
                f"%{{x}}<br>mean %{{y:.4g}} {sensor.unit}<br>min %{{customdata[0]:.4g}}"
                f" · max %{{customdata[1]:.4g}}<br>%{{customdata[2]}} readings<extra></extra>"
            ),
            showlegend=False,
        )
    )
    yaxis: dict[str, object] = dict(title=dict(text=axis_title(sensor)), zeroline=False)
    if sensor.kind == "state":
        yaxis.update(
            tickvals=[s.code for s in MachineState], ticktext=[s.value for s in MachineState]
        )
    fig.update_layout(
        title=dict(text=title, font=dict(size=14), x=0.01) if title else None,
        margin=dict(l=60, r=16, t=40 if title else 16, b=48),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        hovermode="x unified",
        xaxis=dict(
            title=dict(text=f"time ({getattr(tz, 'key', 'UTC')})"),
            showgrid=True,
            gridcolor="#eeeeee",
            range=[_local(since_ms, tz), _local(until_ms, tz)],
        ),
        yaxis=yaxis,
        # Keep zoom while refreshing, reset it when the sensor or range changes.
        uirevision=f"{sensor.id}:{until_ms - since_ms}",
    )
    return fig


def empty_figure(message: str, y_title: str = "") -> go.Figure:
    """A figure with no data and a message in the middle (never an error page)."""
    fig = go.Figure()
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
