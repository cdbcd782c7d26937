"""Layout of the tenant portal: tenant picker and range, factories, OEE breakdown, downtime Pareto, energy."""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages.tenant import ids
from dashboards.pages.tenant.callbacks import pareto, pareto_factories, refresh, tenant_alarms, tenant_options
from dashboards.pages.tenant.kpis import DEFAULT_RANGE, RANGES
from dashboards.trend import empty_figure

__all__ = ["PARETO_REFRESH_MS", "REFRESH_MS", "layout"]

#: Every 2 s (issue 7: live pages update every 1-2 s): the tenant's own alarms ride on this
#: tick too; the live twin writes KPIs every 10 s, so a new value shows within 2 s of it.
REFRESH_MS = 2_000
#: The Pareto sums a whole range of state windows; once a minute is fresh enough.
PARETO_REFRESH_MS = 60_000

_GRAPH_CONFIG = {"displaylogo": False, "responsive": True}


def layout(ctx: DashboardContext, user: User | None = None) -> html.Div:
    """The page for ``user`` (from the server-side session): the picker lists only the
    tenants the user may see, so a tenant user's page never names another tenant.

    With a user, the first tenant's factories, OEE and energy figures, the downtime Pareto
    with its factory picker and the open alarms come filled (the same functions the
    callbacks call, with the same checks), so the page draws its graphs once, without
    waiting for a callback; the callbacks then refresh them on the ticks and on every change.
    """
    tenants, first = tenant_options(ctx, user)
    if user is not None:
        factories, oee, energy, status = refresh(ctx, user, first, DEFAULT_RANGE)
        pareto_options, pareto_value = pareto_factories(ctx, user, first)
        pareto_fig, pareto_status = pareto(ctx, user, first, pareto_value, DEFAULT_RANGE)
        alarms = tenant_alarms(ctx, user, first)
    else:  # Dash's validation layout: the structure only
        factories, oee, energy, status = [], empty_figure("loading…"), empty_figure("loading…"), ""
        pareto_options, pareto_value = [], None
        pareto_fig, pareto_status, alarms = empty_figure("loading…"), "", None
    return html.Div(
        className="page page-tenant",
        children=[
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            dcc.Interval(id=ids.PARETO_TICK, interval=PARETO_REFRESH_MS),
            dcc.Download(id=ids.DOWNLOAD),
            html.Section(
                className="card",
                children=[
                    html.H2("Tenant portal"),
                    html.Div(
                        className="controls",
                        children=[
                            dcc.Dropdown(
                                id=ids.TENANT, options=tenants, value=first, clearable=False, className="tenant-picker"
                            ),
                            dcc.RadioItems(
                                id=ids.RANGE,
                                value=DEFAULT_RANGE,
                                inline=True,
                                className="ranges",
                                options=[{"label": label, "value": k} for k, (label, _) in RANGES.items()],
                            ),
                            html.Button("Export CSV", id=ids.EXPORT, n_clicks=0, className="button"),
                        ],
                    ),
                    html.Ul(id=ids.FACTORIES, className="factory-list", children=factories),
                    html.Div(id=ids.STATUS, className="status", children=status),
                ],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2("OEE = availability × performance × quality (per shift)"),
                    dcc.Graph(
                        id=ids.OEE, figure=oee, config=_GRAPH_CONFIG, style={"height": "420px"}
                    ),
                ],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2("Downtime Pareto by cause (machine states, selected range)"),
                    html.Div(
                        className="pareto-controls",
                        children=[
                            dcc.Dropdown(
                                id=ids.PARETO_FACTORY,
                                options=pareto_options,
                                value=pareto_value,
                                clearable=False,
                                className="pareto-factory",
                            ),
                            html.Div(id=ids.PARETO_STATUS, className="status", role="status", children=pareto_status),
                        ],
                    ),
                    dcc.Graph(
                        id=ids.PARETO, figure=pareto_fig, config=_GRAPH_CONFIG, style={"height": "360px"}
                    ),
                ],
            ),
            html.Section(
                className="card",
                children=[html.H2("Open alarms of this tenant"), html.Div(id=ids.ALARMS, children=alarms)],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2("Energy per good unit"),
                    dcc.Graph(
                        id=ids.ENERGY, figure=energy, config=_GRAPH_CONFIG, style={"height": "320px"}
                    ),
                ],
            ),
        ],
    )
