"""Callbacks of the overview page.

Each callback is a plain function of the context and its inputs (tested directly);
:func:`register` wires them to the app. Inputs come from the browser and may be
forged (callbacks are plain HTTP endpoints): every value is checked against the
config, and an unknown sensor yields an empty figure with a message, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx

from dashboards.context import DashboardContext
from dashboards.freshness import Freshness, freshness_by_asset, sensor_freshness
from dashboards.kpi_tiles import Tile, complex_tiles
from dashboards.pages.overview import ids
from dashboards.pages.overview.live import LiveRead, read_live
from dashboards.pages.overview.tiles import tile_components
from dashboards.pickers import sensor_options
from dashboards.site import AssetKind
from dashboards.sitemap import (
    FRESHNESS_COLOURS,
    hazard_marks,
    sensor_alarms,
    site_map_figure,
    truck_marks,
    zone_alarms,
)
from dashboards.trend import DEFAULT_RANGE, RANGES, axis_title, empty_figure, trend_figure, window_ms
from twin.errors import HistorianError

__all__ = [
    "Selection",
    "register",
    "select",
    "initial_selection",
    "restores_nothing",
    "refresh_map",
    "refresh_tiles",
    "refresh_trend",
    "factory_link",
]

log = logging.getLogger(__name__)

Selection = dict[str, str | None]  # {"sensor": id | None, "asset": id | None}

#: Longest piece of a client-sent value echoed back in a message.
_ECHO_CHARS = 40


def _echo(value: object) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return escape(text[:_ECHO_CHARS] + ("…" if len(text) > _ECHO_CHARS else ""))


def clean_selection(ctx: DashboardContext, stored: object) -> Selection:
    """The stored selection with anything the config does not know replaced by None."""
    data = stored if isinstance(stored, dict) else {}
    sensor = data.get("sensor")
    asset = data.get("asset")
    return {
        "sensor": sensor if ctx.site.sensor(sensor) is not None else None,
        "asset": asset if ctx.site.asset(asset) is not None else None,
    }


def _clicked(click_data: object) -> object:
    """The customdata of the clicked point (any client value), or None."""
    if not isinstance(click_data, dict):
        return None
    points = click_data.get("points")
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return None
    custom = points[0].get("customdata")
    if isinstance(custom, list) and custom:
        custom = custom[0]
    return custom


def clicked_asset(ctx: DashboardContext, click_data: object) -> str | None:
    """The asset id a map click names, or None (roads, hostile or malformed data)."""
    custom = _clicked(click_data)
    return custom if ctx.site.asset(custom) is not None else None  # type: ignore[return-value]


def clicked_sensor(ctx: DashboardContext, click_data: object) -> str | None:
    """The sensor id a click on a hazard detector or a truck names, or None."""
    custom = _clicked(click_data)
    return custom if ctx.site.sensor(custom) is not None else None  # type: ignore[return-value]


# ---- selection ---------------------------------------------------------------------


def select(
    ctx: DashboardContext, triggered: object, click_data: object, picked: object, stored: object
) -> tuple[Selection, list[dict[str, object]], str | None]:
    """New selection, picker options and picker value after a click, a pick or a reset.

    ``triggered`` is the id of the component that fired (None on page load).
    """
    sel = clean_selection(ctx, stored)
    if triggered == ids.SITEMAP:
        asset_id = clicked_asset(ctx, click_data)
        if asset_id is not None:
            sel["asset"] = asset_id
            own = ctx.site.assets[asset_id].sensor_ids
            if sel["sensor"] not in own:
                sel["sensor"] = own[0] if own else None
        elif (sensor_id := clicked_sensor(ctx, click_data)) is not None:
            sel["sensor"] = sensor_id  # a hazard detector or a truck: its trend
    elif triggered == ids.SHOW_ALL:
        sel["asset"] = None
    elif triggered == ids.SENSOR:
        if ctx.site.sensor(picked) is not None:
            sel["sensor"] = picked  # type: ignore[assignment]
    if sel["sensor"] is None and sel["asset"] is None:
        sel["sensor"] = ctx.site.default_sensor()
    options = sensor_options(ctx.site, sel["asset"])
    if sel["sensor"] is not None and not any(o["value"] == sel["sensor"] for o in options):
        sel["asset"] = None  # a sensor outside the focused asset was picked: widen the list
        options = sensor_options(ctx.site, None)
    return sel, options, sel["sensor"]


def initial_selection(ctx: DashboardContext) -> Selection:
    """What the page shows before the browser says anything (what :func:`select` makes of no
    input): the default sensor, all sensors."""
    return {"sensor": ctx.site.default_sensor(), "asset": None}


def focus_text(ctx: DashboardContext, sel: Selection) -> str:
    asset = ctx.site.asset(sel.get("asset"))
    return f"Sensors of {asset.name}" if asset is not None else "All sensors"


def restores_nothing(ctx: DashboardContext, stored: object, range_key: object) -> bool:
    """Whether a first load shows what the layout came with: the browser restored no other
    selection (session storage) and no other range (Dash's persistence)."""
    return clean_selection(ctx, stored) == initial_selection(ctx) and range_key == DEFAULT_RANGE


# ---- site map ----------------------------------------------------------------------


def refresh_map(
    ctx: DashboardContext, stored: object, live: LiveRead | None = None
) -> tuple[go.Figure, list[Any]]:
    """The map coloured by freshness now, zones with active alarms highlighted, and a legend."""
    sel = clean_selection(ctx, stored)
    live = live if live is not None else read_live(ctx)
    assets = ctx.site.assets.values()
    sensors = ctx.complex.sensors
    now = live.now_ms
    latest = live.latest if live.latest is not None else {}
    problem = live.historian_problem
    fresh = freshness_by_asset(
        ((a.id, [sensors[sid].sensor for sid in a.sensor_ids]) for a in assets), latest, now
    )
    alarmed = zone_alarms(live.alarms or [], (z.id for z in ctx.complex.zones))
    fig = site_map_figure(
        ctx.site,
        fresh,
        selected=sel["asset"],
        alarmed=alarmed,
        hazards=hazard_marks(ctx.complex, latest, now, sensor_alarms(live.alarms or [])),
        trucks=truck_marks(ctx.complex, latest, now),
    )
    counts = {state: 0 for state in Freshness}
    for f in fresh.values():
        counts[f.state] += 1
    legend: list[Any] = [
        html.Span(
            [
                html.Span(className="dot", style={"backgroundColor": FRESHNESS_COLOURS[state]}),
                f"{state.label}: {counts[state]}",
            ],
            className=f"chip chip-{state.value}",
        )
        for state in Freshness
    ]
    if alarmed:
        worst = "critical" if any(z.critical for z in alarmed.values()) else "alarm"
        legend.append(
            html.Span(
                f"⚠ zones with active alarms: {', '.join(sorted(alarmed))}",
                className=f"chip chip-zone-alarm zone-{worst}",
            )
        )
    legend.append(
        html.Span(
            problem or f"updated {_clock(ctx, now)}",
            className="updated" + (" problem" if problem else ""),
        )
    )
    return fig, legend


# ---- KPI tiles -------------------------------------------------------------------------


def refresh_tiles(ctx: DashboardContext, live: LiveRead | None = None) -> list[Tile]:
    """The complex tiles from what the live twin wrote and published (see kpi_tiles)."""
    live = live if live is not None else read_live(ctx)
    return complex_tiles(
        kpis=live.latest,
        alarms=live.alarms,
        sensors=(info.sensor for info in ctx.complex.sensors.values()),
        latest=live.latest,
        now_ms=live.now_ms,
        clock=lambda ms: _clock(ctx, ms),
        historian_problem=live.historian_problem,
        alarms_problem=live.alarms_problem,
    )


def factory_link(ctx: DashboardContext, sel: Selection, href: Callable[[str], str]) -> Any:
    """A link to the factory view of the factory selected on the map (nothing otherwise)."""
    asset = ctx.site.asset(sel.get("asset"))
    if asset is None or asset.kind is not AssetKind.FACTORY:
        return None
    return dcc.Link(
        f"Open factory view: {asset.name} →",
        href=href(f"/factory?id={quote(asset.id)}"),
        className="button factory-link",
        id=ids.FACTORY_LINK + "-a",
    )


# ---- trend ---------------------------------------------------------------------------


def refresh_trend(
    ctx: DashboardContext, stored: object, range_key: object
) -> tuple[go.Figure, str]:
    """The trend of the selected sensor over the range, aggregated by the historian."""
    data = stored if isinstance(stored, dict) else {}
    sensor_id = data.get("sensor")
    if sensor_id is None:
        return empty_figure("pick a sensor, or click a factory on the map"), ""
    info = ctx.site.sensor(sensor_id)
    if info is None:
        log.debug("trend: unknown sensor id %r", str(sensor_id)[:_ECHO_CHARS])
        return empty_figure(f"unknown sensor {_echo(sensor_id)}"), ""
    if not isinstance(range_key, str) or range_key not in RANGES:
        return empty_figure(f"unknown range {_echo(range_key)}; use one of {', '.join(RANGES)}"), ""
    sensor = info.sensor
    label, range_ms = RANGES[range_key]
    every = window_ms(range_ms)
    now = ctx.clock()
    since, until = now - range_ms, now + 1  # include a reading stamped exactly now
    try:
        windows = ctx.historian.windows([sensor.id], since, until, every)
        latest = ctx.historian.latest([sensor.id]).get(sensor.id)
    except HistorianError as exc:
        log.warning("trend: historian unavailable: %s", exc)
        return empty_figure("historian unavailable, retrying", axis_title(sensor)), ""
    where = info.machine or info.factory or info.device
    title = f"{sensor.name or sensor.id} · {where}"
    fig = trend_figure(sensor, windows, since, until, every, ctx.tz, title=title)
    status = f"{len(windows)} points ({_duration(every)} windows) over {label}"
    if latest is not None:
        state = sensor_freshness(sensor, latest, now)
        status = (
            f"last {latest.value:.4g} {sensor.unit} at {_clock(ctx, latest.ts_ms)} ({state.label})"
            f" · {status}"
        )
    else:
        status = f"no reading yet · {status}"
    return fig, status


def _clock(ctx: DashboardContext, ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, ctx.tz).strftime("%H:%M:%S")


def _duration(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


# ---- wiring ------------------------------------------------------------------------


def register(app: Dash, ctx: DashboardContext) -> None:
    """Attach the overview callbacks to ``app`` (per app, never to Dash's global list)."""

    @app.callback(
        Output(ids.SELECTION, "data"),
        Output(ids.SENSOR, "options"),
        Output(ids.SENSOR, "value"),
        Output(ids.FOCUS, "children"),
        Output(ids.FACTORY_LINK, "children"),
        Input(ids.SITEMAP, "clickData"),
        Input(ids.SHOW_ALL, "n_clicks"),
        Input(ids.SENSOR, "value"),
        State(ids.SELECTION, "data"),
        State(ids.RANGE, "value"),
    )
    def _select(click_data: object, _clicks: object, picked: object, stored: object, range_key: object):  # type: ignore[no-untyped-def]
        triggered = dash_ctx.triggered_id
        if triggered is None and restores_nothing(ctx, stored, range_key):
            return (no_update,) * 5  # the layout already shows this: the first load needs no call
        shown = clean_selection(ctx, stored)["asset"]  # whose sensors the picker lists now
        sel, options, value = select(ctx, triggered, click_data, picked, stored)
        # Unchanged options are not sent again: the browser re-indexes a few hundred options
        # for search on every update (docs/benchmarks.md). On a first load that restores a
        # selection the list is sent: the layout's picker holds the default sensor only.
        return (
            sel,
            no_update if triggered is not None and sel["asset"] == shown else options,
            value,
            focus_text(ctx, sel),
            factory_link(ctx, sel, app.get_relative_path),
        )

    @app.callback(
        Output(ids.SENSOR, "options", allow_duplicate=True),
        Input(ids.PICKER_FILL, "n_intervals"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _fill_picker(_fill: object, stored: object):  # type: ignore[no-untyped-def]
        return sensor_options(ctx.site, clean_selection(ctx, stored)["asset"])

    # Neither runs on a first load (the layout comes filled in): the interval, a new
    # selection or a range (picked, or restored by the selection callback) runs them.
    @app.callback(
        Output(ids.SITEMAP, "figure"),
        Output(ids.MAP_LEGEND, "children"),
        Output(ids.TILES, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _map(_tick: object, stored: object):  # type: ignore[no-untyped-def]
        live = read_live(ctx)  # one read per refresh: the map and the tiles show the same moment
        fig, legend = refresh_map(ctx, stored, live)
        return fig, legend, tile_components(refresh_tiles(ctx, live))

    @app.callback(
        Output(ids.TREND, "figure"),
        Output(ids.TREND_STATUS, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.SELECTION, "data"),
        Input(ids.RANGE, "value"),
        prevent_initial_call=True,
    )
    def _trend(_tick: object, stored: object, range_key: object):  # type: ignore[no-untyped-def]
        return refresh_trend(ctx, stored, range_key)
