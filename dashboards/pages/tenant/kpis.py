"""The tenant portal's data: a tenant's factory KPI series from the historian, figures and CSV.

Series ids are the live twin's ``kpi.shift.factory.{factory}.{kpi}`` (docs/live.md).
Every function takes a tenant id that was already checked against the session.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import plotly.graph_objects as go

from dashboards.context import DashboardContext
from dashboards.theme import TEMPLATE
from dashboards.trend import empty_figure, local_ms, window_ms
from twin.model import Complex

__all__ = [
    "BREAKDOWN",
    "DEFAULT_RANGE",
    "ENERGY_KPI",
    "RANGES",
    "Series",
    "csv_text",
    "energy_figure",
    "factory_kpis",
    "oee_figure",
    "series_id",
    "tenant_factories",
]

#: Selectable ranges: key -> (label, length in ms). KPIs are per shift, so the shortest is a shift.
RANGES: dict[str, tuple[str, int]] = {
    "8h": ("8 h", 8 * 3_600_000),
    "24h": ("24 h", 86_400_000),
    "7d": ("7 days", 7 * 86_400_000),
    "30d": ("30 days", 30 * 86_400_000),
}
DEFAULT_RANGE = "24h"

#: ISO 22400-2 OEE and its three factors, with the line style of each in the figure.
BREAKDOWN: dict[str, str] = {
    "oee": "solid",
    "availability": "dot",
    "performance": "dash",
    "quality": "dashdot",
}
ENERGY_KPI = "energy_per_good_unit_kwh"

#: A tenant's portal shows at most a few hundred points per trace.
_MAX_POINTS = 500

Series = dict[tuple[str, str], list[tuple[int, float]]]  # (factory, kpi) -> [(ms, mean)]


def series_id(factory_id: str, kpi: str) -> str:
    return f"kpi.shift.factory.{factory_id}.{kpi}"


def tenant_factories(complex: Complex, tenant_id: str) -> list[tuple[str, str]]:
    """``(factory id, name)`` of the tenant's factories; empty for an unknown tenant."""
    for tenant in complex.tenants:
        if tenant.id == tenant_id:
            return [(f.id, f.name) for f in tenant.factories]
    return []


def factory_kpis(ctx: DashboardContext, tenant_id: str, range_key: str) -> Series:
    """Windowed means of the tenant's factory KPIs over the range ending now."""
    range_ms = RANGES[range_key][1]
    until = ctx.clock()
    factories = [fid for fid, _ in tenant_factories(ctx.complex, tenant_id)]
    kpis = [*BREAKDOWN, ENERGY_KPI]
    by_id = {series_id(f, k): (f, k) for f in factories for k in kpis}
    out: Series = {key: [] for key in by_id.values()}
    if not by_id:
        return out
    for w in ctx.historian.windows(list(by_id), until - range_ms, until, window_ms(range_ms, _MAX_POINTS)):
        out[by_id[w.sensor_id]].append((w.start_ms, w.mean))
    return out


def _columns(points: Sequence[tuple[int, float]], ctx: DashboardContext) -> tuple[np.ndarray, np.ndarray]:
    """x (epoch ms on the site's wall clock, for a date axis) and y as numpy columns: plotly
    validates and sends them whole, where lists cost a Python call per element."""
    cols = np.array(points, dtype=np.float64).reshape(-1, 2)
    return local_ms(cols[:, 0], ctx.tz), cols[:, 1]


#: Margins with room for the axis titles, the ticks (half a label past the right edge) and a
#: legend below (up to 8 entries on a screen 1400 px wide or more), so that Plotly draws the
#: figure once. A margin too small is grown by the template's ``automargin``, but only after
#: a first draw, by drawing it all again.
_MARGIN = {"l": 70, "r": 36, "t": 10, "b": 150}
_LEGEND_BELOW = {"orientation": "h", "y": -0.2}


def _layout(y_axis: dict[str, object], margin: dict[str, int]) -> dict[str, object]:
    return dict(
        margin=margin,
        xaxis={"type": "date"},  # x holds epoch ms shifted to the site's wall clock
        yaxis=y_axis,
        legend=_LEGEND_BELOW,
        template=TEMPLATE,
    )


def oee_figure(ctx: DashboardContext, names: Mapping[str, str], data: Series) -> go.Figure:
    """OEE and its factors per factory, one colour per factory, one line style per factor."""
    if not any(data.get((f, k)) for f in names for k in BREAKDOWN):
        return empty_figure("no OEE written yet for these factories (is `twin live` running?)")
    traces = []
    for fid, name in names.items():
        for kpi, dash in BREAKDOWN.items():
            x, y = _columns(data.get((fid, kpi), []), ctx)
            traces.append(
                go.Scatter(
                    x=x,
                    y=y,
                    name=f"{name} · {kpi}",
                    legendgroup=fid,
                    mode="lines",
                    line={"dash": dash, "width": 3 if kpi == "oee" else 1.5},
                )
            )
    # Built in one go: add_trace/update_layout re-walk the figure on every call.
    return go.Figure(
        data=traces,
        layout=_layout({"title": "ratio", "range": [0, 1.05], "tickformat": ".0%"}, _MARGIN),
    )


def energy_figure(ctx: DashboardContext, names: Mapping[str, str], data: Series) -> go.Figure:
    if not any(data.get((f, ENERGY_KPI)) for f in names):
        return empty_figure("no energy per good unit written yet", "kWh/unit")
    traces = []
    for fid, name in names.items():
        x, y = _columns(data.get((fid, ENERGY_KPI), []), ctx)
        traces.append(go.Scatter(x=x, y=y, name=name, mode="lines"))
    return go.Figure(data=traces, layout=_layout({"title": "kWh per good unit"}, {**_MARGIN, "b": 100}))


def csv_text(ctx: DashboardContext, names: Mapping[str, str], data: Series) -> str:
    """One row per factory, KPI and window: ``time,factory_id,factory,kpi,value``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["time", "factory_id", "factory", "kpi", "value"])
    for (fid, kpi), points in sorted(data.items()):
        for ms, value in points:
            stamp = datetime.fromtimestamp(ms / 1000, ctx.tz).isoformat()
            writer.writerow([stamp, fid, names.get(fid, fid), kpi, repr(value)])
    return buf.getvalue()
