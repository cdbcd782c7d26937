"""Layout of the factory view: header, KPI tiles, lines and machines, state timeline, sensor trend.

Which factory is shown comes from the URL (``?id=``) and is checked by every callback
against the session; the layout itself holds no factory data.
"""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages.factory import ids
from dashboards.pages.factory.view import DEFAULT_RANGE, RANGES
from dashboards.trend import empty_figure

__all__ = ["REFRESH_MS", "layout"]

#: Live refresh of the tiles, machine states, timeline and trend.
REFRESH_MS = 2_000

_GRAPH_CONFIG = {"displaylogo": False, "responsive": True}


def layout(ctx: DashboardContext, user: User | None = None) -> html.Div:
    return html.Div(
        className="page page-factory",
        children=[
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            html.Section(id=ids.HEADER, className="card full factory-head", children=html.H2("Factory")),
            html.Section(id=ids.TILES, className="kpi-tiles full"),
            html.Section(
                className="card",
                children=[html.H2("Lines and machines"), html.Div(id=ids.MACHINES)],
            ),
            html.Section(
                className="card",
                children=[
                    html.Div(
                        className="controls",
                        children=[
                            html.H2("Machine states", style={"flex": "1"}),
                            dcc.RadioItems(
                                id=ids.RANGE,
                                value=DEFAULT_RANGE,
                                inline=True,
                                className="ranges",
                                options=[{"label": label, "value": k} for k, (label, _) in RANGES.items()],
                                persistence=True,
                                persistence_type="session",
                            ),
                        ],
                    ),
                    dcc.Graph(
                        id=ids.TIMELINE, figure=empty_figure("loading…"), config=_GRAPH_CONFIG,
                        style={"height": "340px"},
                    ),
                    html.Div(id=ids.TIMELINE_STATUS, className="status"),
                ],
            ),
            html.Section(
                className="card full",
                children=[
                    html.H2("Sensor trend (same range as the timeline)"),
                    html.Div(
                        className="controls",
                        children=[
                            dcc.Dropdown(
                                id=ids.SENSOR, clearable=False, className="sensor-picker", maxHeight=420,
                                placeholder="Pick a sensor of this factory",
                            ),
                        ],
                    ),
                    dcc.Graph(
                        id=ids.TREND, figure=empty_figure("loading…"), config=_GRAPH_CONFIG, style={"height": "380px"}
                    ),
                    html.Div(id=ids.TREND_STATUS, className="status"),
                ],
            ),
        ],
    )
