"""The tenant portal's downtime Pareto: the tenant's machine ``state`` windows -> causes -> figure.

Every function takes a tenant id already checked against the session; :func:`pareto_view`
also checks that the factory asked for belongs to that tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages.tenant.kpis import RANGES, tenant_factories
from dashboards.pareto import ParetoRow, pareto_rows, state_durations
from dashboards.theme import TEMPLATE
from dashboards.trend import empty_figure, window_ms
from twin.errors import HistorianError
from twin.model import Complex

__all__ = ["ALL_FACTORIES", "MAX_WINDOWS", "factory_options", "pareto_figure", "pareto_view", "state_sensors"]

log = logging.getLogger(__name__)

#: Picker value meaning every factory of the tenant.
ALL_FACTORIES = "all"
#: Windows per state sensor at most (nice widths: 15 s windows for 8 h, 30 min for 30 days).
MAX_WINDOWS = 2_880
_NOTHING = "no data for this selection"


def state_sensors(complex_: Complex, factory_ids: Sequence[str]) -> dict[str, float]:
    """``sensor id -> period (ms)`` of the machine ``state`` sensors of these factories."""
    wanted = set(factory_ids)
    return {
        sid: info.sensor.period_s * 1000.0
        for sid, info in complex_.sensors.items()
        if info.factory in wanted and info.machine is not None and info.sensor.kind == "state"
    }


def _every_ms(range_ms: int, periods: Mapping[str, float]) -> int:
    every = window_ms(range_ms, MAX_WINDOWS)
    slowest = max(periods.values())
    if every < 2 * slowest:  # at least two samples per window, so no window falls between samples
        every = window_ms(range_ms, max(2, int(range_ms // (2 * slowest))))
    return every


def factory_options(ctx: DashboardContext, tenant: str | None) -> list[dict[str, str]]:
    """Picker options: all factories of the (already checked) tenant, then each one."""
    if tenant is None:
        return []
    return [{"label": "all factories", "value": ALL_FACTORIES}] + [
        {"label": name, "value": fid} for fid, name in tenant_factories(ctx.complex, tenant)
    ]


def pareto_figure(rows: Sequence[ParetoRow]) -> go.Figure:
    """Bars of hours lost per cause, most first, and the cumulative share as a line (right axis).

    Built in one ``go.Figure`` call (``add_trace`` and ``update_layout`` validate again at
    each step: 12 ms -> 3 ms here, and the portal builds it on every first load)."""
    causes = [r.cause for r in rows]
    bars = go.Bar(
        x=causes,
        y=[r.hours for r in rows],
        name="hours lost",
        marker={"color": "#b54708"},
        text=[f"{r.hours:.1f} h ({r.share:.0%})" for r in rows],
        textposition="auto",
    )
    line = go.Scatter(
        x=causes,
        y=[r.cumulative * 100 for r in rows],
        name="cumulative %",
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#1f2d3d"},
    )
    layout = {
        # room for both axis titles and the legend below, so Plotly draws it once (kpis._MARGIN)
        "margin": {"l": 60, "r": 70, "t": 15, "b": 95},
        "yaxis": {"title": "hours lost"},
        "yaxis2": {
            "title": "cumulative %",
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "ticksuffix": "%",
            "tick0": 0,
            "dtick": 20,
            "showgrid": False,
        },
        "legend": {"orientation": "h", "y": -0.2},
        "template": TEMPLATE,
    }
    return go.Figure(data=[bars, line], layout=layout)


def pareto_view(
    ctx: DashboardContext, user: User | None, tenant: str | None, factory: object, range_key: object
) -> tuple[Any, str]:
    """Figure and status for ``tenant`` (None: not allowed) and ``factory`` (``all`` or one of its own)."""
    if tenant is None or not isinstance(range_key, str) or range_key not in RANGES:
        return empty_figure(_NOTHING), _NOTHING
    own = dict(tenant_factories(ctx.complex, tenant))
    if factory is None or factory == ALL_FACTORIES:
        chosen = list(own)
    elif isinstance(factory, str) and factory in own:
        chosen = [factory]
    else:  # another tenant's factory, or anything else a forged request sends
        return empty_figure(_NOTHING), _NOTHING
    periods = state_sensors(ctx.complex, chosen)
    if not periods:
        msg = "these factories have no machine state sensors"
        return empty_figure(msg), msg
    range_ms = RANGES[range_key][1]
    every = _every_ms(range_ms, periods)
    until = ctx.clock()
    try:
        windows = ctx.historian.windows(sorted(periods), until - range_ms, until, every)
    except HistorianError as exc:
        log.warning("downtime pareto: historian unavailable: %s", exc)
        return empty_figure("historian unavailable"), "historian unavailable"
    rows = pareto_rows(state_durations(windows, every, periods))
    if not rows:
        msg = "no downtime recorded in this range (or no machine states written yet)"
        return empty_figure(msg), msg
    total = sum(r.hours for r in rows)
    return pareto_figure(rows), f"{total:.1f} h of downtime on {len(periods)} machine(s); {every // 1000} s windows"
