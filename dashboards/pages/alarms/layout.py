"""Layout of the alarm console: critical banner, comment and shelve inputs, the alarm table."""

from __future__ import annotations

from dash import dcc, html

from dashboards.context import DashboardContext
from dashboards.pages.alarms import ids

__all__ = ["REFRESH_MS", "SHELVE_OPTIONS", "layout"]

#: The live twin republishes open alarms on every change; 1 s keeps the console within seconds.
REFRESH_MS = 1_000

#: Shelve durations offered (seconds).
SHELVE_OPTIONS = {"15 min": 900, "1 h": 3600, "8 h": 28_800}


def layout(ctx: DashboardContext) -> html.Div:
    return html.Div(
        className="page page-alarms",
        children=[
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            dcc.Store(id=ids.DIGEST),
            html.Div(id=ids.BANNER, role="alert"),
            html.Section(
                className="card",
                children=[
                    html.H2("Open alarms (most severe, then newest first)"),
                    html.Div(
                        className="controls",
                        children=[
                            dcc.Input(
                                id=ids.COMMENT,
                                placeholder="comment / shelve reason",
                                maxLength=1000,
                                className="alarm-comment",
                                debounce=False,
                            ),
                            dcc.Dropdown(
                                id=ids.SHELVE_FOR,
                                options=[{"label": k, "value": v} for k, v in SHELVE_OPTIONS.items()],
                                value=3600,
                                clearable=False,
                                className="shelve-for",
                            ),
                        ],
                    ),
                    html.Div(id=ids.STATUS, className="status", role="status"),
                    html.Div(id=ids.TABLE),
                ],
            ),
        ],
    )
