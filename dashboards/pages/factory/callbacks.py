"""Callbacks of the factory view.

Each callback is a plain function of the context, the session user and its browser
inputs (tested directly); :func:`register` wires them, with the user always from
:func:`~dashboards.auth.session.current_user`. The factory id comes from the URL and the
sensor from a picker: both are checked (:func:`allowed_factory`, the factory's own sensor
list) before anything is read, and anything else answers an empty result, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from dashboards.alarm_feed import AlarmsUnavailable
from dashboards.auth.session import current_user
from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.freshness import sensor_freshness
from dashboards.pages.factory import ids
from dashboards.pages.factory.timeline import (
    SILENCE_PERIODS,
    state_segments,
    timeline_figure,
    timeline_window_ms,
)
from dashboards.pages.factory.view import (
    RANGES,
    MachineRow,
    allowed_factory,
    factory_id_from_search,
    factory_kpi_ids,
    factory_sensor_ids,
    factory_tiles,
    machine_rows,
    visible_factories,
)
from dashboards.pages.overview.tiles import tile_components
from dashboards.shell import URL
from dashboards.trend import axis_title, empty_figure, trend_figure, window_ms
from twin.errors import HistorianError
from twin.model import Factory

__all__ = ["register", "refresh_factory", "sensor_choices", "refresh_timeline", "refresh_trend"]

log = logging.getLogger(__name__)

NOTHING = "no data for this selection"
Href = Callable[[str], str]


def _factory(ctx: DashboardContext, user: User | None, search: object) -> Factory | None:
    return allowed_factory(ctx.complex, user, factory_id_from_search(search))


def _clock(ctx: DashboardContext, ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, ctx.tz).strftime("%H:%M:%S")


def _choices(ctx: DashboardContext, user: User | None, href: Href) -> html.Ul:
    return html.Ul(
        className="factory-choices",
        children=[
            html.Li(dcc.Link(f.name or f.id, href=href(f"/factory?id={quote(f.id)}"), className="nav-link"))
            for f in visible_factories(ctx.complex, user)
        ],
    )


def _header(ctx: DashboardContext, f: Factory, href: Href) -> list[Any]:
    tenant = ctx.complex.factory_tenant[f.id]
    tenant_name = next((t.name for t in ctx.complex.tenants if t.id == tenant), tenant)
    zone = next((z.name or z.id for z in ctx.complex.zones if z.id == f.zone), f.zone)
    n_machines = sum(len(ln.machines) for ln in f.lines)
    return [
        html.H2(f.name or f.id, id="factory-name"),
        html.Span(f"{f.id} · {tenant_name} · zone {zone} · {len(f.lines)} lines, {n_machines} machines"),
        dcc.Link("← Overview", href=href("/"), className="button back-link"),
    ]


def _machine_table(ctx: DashboardContext, rows: list[MachineRow], line_names: dict[str, str]) -> html.Table:
    body: list[Any] = []
    line = None
    for r in rows:
        if r.line != line:
            line = r.line
            body.append(html.Tr(html.Td(line_names.get(line, line), colSpan=5), className="line-row"))
        body.append(
            html.Tr(
                id=f"factory-machine-{r.machine}",
                className="machine-row",
                children=[
                    html.Td(r.name),
                    html.Td(html.Span(r.state, className=f"state-badge state-{r.state}"), title=r.why),
                    html.Td(f"{r.power_kw:.3g} kW" if r.power_kw is not None else "–"),
                    html.Td(f"{100 * r.oee:.1f} %" if r.oee is not None else "no data"),
                    html.Td(_clock(ctx, r.last_ms) if r.last_ms is not None else "never"),
                ],
            )
        )
    head = html.Tr([html.Th(h) for h in ("Machine", "State", "Power", "OEE (shift)", "Last reading")])
    return html.Table([html.Thead(head), html.Tbody(body)], className="machine-table")


def refresh_factory(
    ctx: DashboardContext, user: User | None, search: object, href: Href = lambda p: p
) -> tuple[Any, Any, Any]:
    """Header, KPI tiles and the machine table of the factory in ``search``, if ``user`` may see it."""
    f = _factory(ctx, user, search)
    if f is None:
        asked = factory_id_from_search(search)
        title = "Choose a factory" if asked is None else "Factory not found or not available"
        return [html.H2(title, id="factory-name"), _choices(ctx, user, href)], [], html.P(NOTHING, className="status")
    now = ctx.clock()
    try:
        latest = ctx.historian.latest([*factory_sensor_ids(ctx.complex, f.id), *factory_kpi_ids(f)])
        h_problem = None
    except HistorianError as exc:
        log.warning("factory view: historian unavailable: %s", exc)
        latest, h_problem = None, "historian unavailable"
    try:
        alarms: list[dict[str, Any]] | None = ctx.alarms.open_alarms()
        a_problem = None
    except AlarmsUnavailable as exc:
        alarms, a_problem = None, f"alarms unavailable: {exc}"
    tiles = factory_tiles(
        ctx.complex, f, latest=latest, alarms=alarms, now_ms=now, clock=lambda ms: _clock(ctx, ms),
        historian_problem=h_problem, alarms_problem=a_problem,
    )
    rows = machine_rows(f, latest or {}, now)
    lines = {ln.id: ln.name or f"Line {ln.id}" for ln in f.lines}
    return _header(ctx, f, href), tile_components(tiles, prefix="factory"), _machine_table(ctx, rows, lines)


def sensor_choices(ctx: DashboardContext, user: User | None, search: object) -> tuple[list[dict[str, Any]], str | None]:
    """The factory's sensors for the picker (none for a factory ``user`` may not see)."""
    f = _factory(ctx, user, search)
    if f is None:
        return [], None
    sids = factory_sensor_ids(ctx.complex, f.id)
    options = [{"label": ctx.site.sensor_label(sid), "value": sid} for sid in sids]
    first = next((sid for sid in sids if ctx.complex.sensors[sid].sensor.kind == "power"), sids[0] if sids else None)
    return options, first


def _duration(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def _range(range_key: object) -> tuple[str, int] | None:
    return RANGES.get(range_key) if isinstance(range_key, str) else None


def refresh_timeline(
    ctx: DashboardContext, user: User | None, search: object, range_key: object
) -> tuple[go.Figure, str]:
    """Each machine's state over the range, from its ``state`` sensor, aggregated by the historian."""
    f = _factory(ctx, user, search)
    rng = _range(range_key)
    if f is None or rng is None:
        return empty_figure(NOTHING), ""
    label, range_ms = rng
    machines = [m for ln in f.lines for m in ln.machines]
    state_sensors = {m.id: next((s for s in m.sensors if s.kind == "state"), None) for m in machines}
    with_sensor = [m for m in machines if state_sensors[m.id] is not None]
    if not with_sensor:
        return empty_figure("no machine of this factory has a state sensor"), ""
    every = timeline_window_ms(range_ms, len(with_sensor))
    now = ctx.clock()
    since, until = now - range_ms, now + 1
    try:
        windows = ctx.historian.windows([state_sensors[m.id].id for m in with_sensor], since, until, every)  # type: ignore[union-attr]
    except HistorianError as exc:
        log.warning("factory timeline: historian unavailable: %s", exc)
        return empty_figure("historian unavailable, retrying"), ""
    by_sensor: dict[str, list[Any]] = {}
    for w in windows:
        by_sensor.setdefault(w.sensor_id, []).append(w)
    rows = {}
    for m in with_sensor:
        s = state_sensors[m.id]
        assert s is not None
        rows[m.name or m.id] = state_segments(by_sensor.get(s.id, []), every, int(s.period_s * 1000), until)
    bars = sum(len(v) for v in rows.values())
    missing = len(machines) - len(with_sensor)
    status = f"{bars} segments ({_duration(every)} windows) over {label}"
    status += f"; blank: no state reading for {SILENCE_PERIODS} periods"
    if missing:
        status += f"; {missing} machine(s) without a state sensor not shown"
    return timeline_figure(rows, since, until, ctx.tz), status


def refresh_trend(
    ctx: DashboardContext, user: User | None, search: object, sensor_id: object, range_key: object
) -> tuple[go.Figure, str]:
    """One of the factory's sensors over the range, at most ~2,000 points (historian windows)."""
    f = _factory(ctx, user, search)
    rng = _range(range_key)
    if f is None or rng is None or not isinstance(sensor_id, str):
        return empty_figure(NOTHING), ""
    info = ctx.site.sensor(sensor_id)
    if info is None or info.factory != f.id:  # a sensor of another factory (or none): nothing
        return empty_figure(NOTHING), ""
    label, range_ms = rng
    sensor = info.sensor
    every = window_ms(range_ms)
    now = ctx.clock()
    since, until = now - range_ms, now + 1
    try:
        windows = ctx.historian.windows([sensor.id], since, until, every)
        latest = ctx.historian.latest([sensor.id]).get(sensor.id)
    except HistorianError as exc:
        log.warning("factory trend: historian unavailable: %s", exc)
        return empty_figure("historian unavailable, retrying", axis_title(sensor)), ""
    title = f"{sensor.name or sensor.id} · {info.machine or info.device}"
    fig = trend_figure(sensor, windows, since, until, every, ctx.tz, title=title)
    status = f"{len(windows)} points ({_duration(every)} windows) over {label}"
    if latest is not None:
        state = sensor_freshness(sensor, latest, now)
        status = f"last {latest.value:.4g} {sensor.unit} at {_clock(ctx, latest.ts_ms)} ({state.label}) · {status}"
    else:
        status = f"no reading yet · {status}"
    return fig, status


def register(app: Dash, ctx: DashboardContext) -> None:
    href = app.get_relative_path

    @app.callback(
        Output(ids.HEADER, "children"),
        Output(ids.TILES, "children"),
        Output(ids.MACHINES, "children"),
        Input(URL, "search"),
        Input(ids.TICK, "n_intervals"),
    )
    def _refresh(search: object, _tick: object) -> tuple[Any, Any, Any]:
        return refresh_factory(ctx, current_user(), search, href)

    @app.callback(Output(ids.SENSOR, "options"), Output(ids.SENSOR, "value"), Input(URL, "search"))
    def _sensors(search: object) -> tuple[list[dict[str, Any]], str | None]:
        return sensor_choices(ctx, current_user(), search)

    @app.callback(
        Output(ids.TIMELINE, "figure"),
        Output(ids.TIMELINE_STATUS, "children"),
        Input(URL, "search"),
        Input(ids.RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
    )
    def _timeline(search: object, range_key: object, _tick: object) -> tuple[go.Figure, str]:
        return refresh_timeline(ctx, current_user(), search, range_key)

    @app.callback(
        Output(ids.TREND, "figure"),
        Output(ids.TREND_STATUS, "children"),
        Input(URL, "search"),
        Input(ids.SENSOR, "value"),
        Input(ids.RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
    )
    def _trend(search: object, sensor_id: object, range_key: object, _tick: object) -> tuple[go.Figure, str]:
        return refresh_trend(ctx, current_user(), search, sensor_id, range_key)
