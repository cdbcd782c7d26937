"""Callbacks of the tenant portal.

The tenant shown is a browser value and may be forged: every callback asks the
server-side session who is asking (:func:`current_user`) and answers nothing for a
tenant that user may not see. A tenant user's picker lists its own tenant only.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import Dash, Input, Output, State, html, no_update

from dashboards.alarm_feed import AlarmsUnavailable
from dashboards.auth.session import current_user
from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages.tenant import ids
from dashboards.pages.tenant.downtime import ALL_FACTORIES, factory_options, pareto_view
from dashboards.pages.tenant.kpis import (
    RANGES,
    csv_text,
    energy_figure,
    factory_kpis,
    oee_figure,
    tenant_factories,
)
from dashboards.trend import empty_figure
from twin.errors import HistorianError

__all__ = [
    "allowed_tenant",
    "export",
    "pareto",
    "pareto_factories",
    "refresh",
    "register",
    "tenant_alarms",
    "tenant_options",
]

log = logging.getLogger(__name__)

_NOTHING = "no data for this selection"


def tenant_options(ctx: DashboardContext, user: User | None) -> tuple[list[dict[str, str]], str | None]:
    """Picker options (the tenants ``user`` may see) and the one selected first."""
    if user is None:
        return [], None
    options = [{"label": t.name, "value": t.id} for t in ctx.complex.tenants if user.may_see_tenant(t.id)]
    return options, (options[0]["value"] if options else None)


def allowed_tenant(ctx: DashboardContext, user: User | None, tenant_id: object) -> str | None:
    """``tenant_id`` when it names a configured tenant ``user`` may see, else None."""
    if user is None or not user.may_see_tenant(tenant_id):
        return None
    return tenant_id if any(t.id == tenant_id for t in ctx.complex.tenants) else None  # type: ignore[return-value]


def refresh(ctx: DashboardContext, user: User | None, tenant_id: object, range_key: object) -> tuple[Any, ...]:
    """Factories list, OEE figure, energy figure and status for the tenant, or nothing."""
    tenant = allowed_tenant(ctx, user, tenant_id)
    if tenant is None or range_key not in RANGES:
        return [], empty_figure(_NOTHING), empty_figure(_NOTHING), _NOTHING
    names = dict(tenant_factories(ctx.complex, tenant))
    factories = [html.Li(name, className="factory", id=f"tenant-factory-{fid}") for fid, name in names.items()]
    try:
        data = factory_kpis(ctx, tenant, range_key)  # type: ignore[arg-type]
    except HistorianError as exc:
        log.warning("tenant portal: historian unavailable: %s", exc)
        msg = "historian unavailable"
        return factories, empty_figure(msg), empty_figure(msg), msg
    return factories, oee_figure(ctx, names, data), energy_figure(ctx, names, data), ""


def tenant_alarms(ctx: DashboardContext, user: User | None, tenant_id: object) -> object:
    """The tenant's own open alarms (owner = the tenant), read-only; nothing for another tenant."""
    from dashboards.pages.alarms.callbacks import alarm_table

    tenant = allowed_tenant(ctx, user, tenant_id)
    if tenant is None:
        return html.P(_NOTHING, className="status")
    try:
        alarms = [a for a in ctx.alarms.open_alarms() if a.get("owner") == tenant]
    except AlarmsUnavailable as exc:
        return html.P(f"Alarms unavailable: {exc}", className="status")
    return alarm_table(ctx, alarms, actions=False)


def pareto_factories(ctx: DashboardContext, user: User | None, tenant_id: object) -> tuple[list[dict[str, str]], Any]:
    """Factory picker of the Pareto: the session may see the tenant, or nothing."""
    options = factory_options(ctx, allowed_tenant(ctx, user, tenant_id))
    return options, (ALL_FACTORIES if options else None)


def pareto(
    ctx: DashboardContext, user: User | None, tenant_id: object, factory: object, range_key: object
) -> tuple[Any, str]:
    """Downtime Pareto of the tenant's own factories; nothing for another tenant or its factories."""
    return pareto_view(ctx, user, allowed_tenant(ctx, user, tenant_id), factory, range_key)


def export(ctx: DashboardContext, user: User | None, tenant_id: object, range_key: object) -> dict[str, str] | None:
    """A ``dcc.Download`` payload with the tenant's KPI windows as CSV, or None."""
    tenant = allowed_tenant(ctx, user, tenant_id)
    if tenant is None or range_key not in RANGES:
        return None
    names = dict(tenant_factories(ctx.complex, tenant))
    try:
        data = factory_kpis(ctx, tenant, range_key)  # type: ignore[arg-type]
    except HistorianError as exc:
        log.warning("tenant export: historian unavailable: %s", exc)
        return None
    return {"content": csv_text(ctx, names, data), "filename": f"{tenant}-kpis-{range_key}.csv", "type": "text/csv"}


def register(app: Dash, ctx: DashboardContext) -> None:
    @app.callback(
        Output(ids.FACTORIES, "children"),
        Output(ids.OEE, "figure"),
        Output(ids.ENERGY, "figure"),
        Output(ids.STATUS, "children"),
        Input(ids.TENANT, "value"),
        Input(ids.RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
        prevent_initial_call=True,  # the layout comes filled for the session's user
    )
    def _refresh(tenant_id: object, range_key: object, _tick: object) -> tuple[Any, ...]:
        return refresh(ctx, current_user(), tenant_id, range_key)

    @app.callback(
        Output(ids.PARETO_FACTORY, "options"),
        Output(ids.PARETO_FACTORY, "value"),
        Input(ids.TENANT, "value"),
        prevent_initial_call=True,  # the layout comes filled for the session's user
    )
    def _pareto_factories(tenant_id: object) -> tuple[Any, ...]:
        return pareto_factories(ctx, current_user(), tenant_id)

    @app.callback(
        Output(ids.PARETO, "figure"),
        Output(ids.PARETO_STATUS, "children"),
        Input(ids.TENANT, "value"),
        Input(ids.RANGE, "value"),
        Input(ids.PARETO_FACTORY, "value"),
        Input(ids.PARETO_TICK, "n_intervals"),
        prevent_initial_call=True,  # the layout comes filled for the session's user
    )
    def _pareto(tenant_id: object, range_key: object, factory: object, _tick: object) -> tuple[Any, ...]:
        return pareto(ctx, current_user(), tenant_id, factory, range_key)

    @app.callback(
        Output(ids.ALARMS, "children"),
        Input(ids.TENANT, "value"),
        Input(ids.TICK, "n_intervals"),
        prevent_initial_call=True,  # the layout comes filled for the session's user
    )
    def _alarms(tenant_id: object, _tick: object) -> object:
        return tenant_alarms(ctx, current_user(), tenant_id)

    @app.callback(
        Output(ids.DOWNLOAD, "data"),
        Input(ids.EXPORT, "n_clicks"),
        State(ids.TENANT, "value"),
        State(ids.RANGE, "value"),
        prevent_initial_call=True,
    )
    def _export(_clicks: object, tenant_id: object, range_key: object) -> object:
        payload = export(ctx, current_user(), tenant_id, range_key)
        return payload if payload is not None else no_update
