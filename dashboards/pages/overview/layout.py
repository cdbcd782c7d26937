"""Layout of the overview page: KPI tiles, the site map, the sensor picker and the trend."""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.kpi_tiles import Tile, TileState
from dashboards.pages.overview import ids
from dashboards.pages.overview.callbacks import (
    focus_text,
    initial_selection,
    refresh_map,
    refresh_tiles,
    refresh_trend,
)
from dashboards.pages.overview.live import read_live
from dashboards.pages.overview.tiles import tile_components
from dashboards.pickers import sensor_options
from dashboards.sitemap import site_map_figure
from dashboards.trend import DEFAULT_RANGE, RANGES, empty_figure

__all__ = ["PICKER_FILL_MS", "REFRESH_MS", "layout"]

#: Live refresh period of the map and the trend.
REFRESH_MS = 2_000

#: The picker's full list arrives this long after the page: the browser builds a search index
#: over every option as the list arrives (~130-220 ms of its main thread for 300 sensors on a
#: cold load, docs/benchmarks.md), work that would otherwise delay the first draw of the graphs.
PICKER_FILL_MS = 1_500

TILE_TITLES = (
    ("oee", "OEE (shift)"),
    ("throughput", "Throughput (shift)"),
    ("energy", "Energy (today)"),
    ("alarms", "Active alarms"),
    ("stale", "Sensors stale"),
)

_GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "responsive": True}


def layout(ctx: DashboardContext, user: User | None = None) -> html.Div:
    """The page as it is now, for the default selection: map, tiles and trend come filled in,
    so a first load needs no callback (the interval refreshes them). A selection or range
    the browser restores from session storage is applied by the selection callback.
    Without a user (Dash's validation layout) nothing is read: placeholders only."""
    sel = initial_selection(ctx)
    if user is not None:
        live = read_live(ctx)  # one read: the map and the tiles show the same moment
        site_map, legend = refresh_map(ctx, sel, live)
        tiles = refresh_tiles(ctx, live)
        trend, trend_status = refresh_trend(ctx, sel, DEFAULT_RANGE)
    else:
        site_map, legend = site_map_figure(ctx.site), []
        tiles = [Tile(key, title, "…", "loading", TileState.NO_DATA) for key, title in TILE_TITLES]
        trend, trend_status = empty_figure("loading…"), ""
    return html.Div(
        className="page page-overview",
        children=[
            # Per-user selection lives in the browser (session storage survives a reload).
            dcc.Store(id=ids.SELECTION, storage_type="session", data=sel),
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            dcc.Interval(id=ids.PICKER_FILL, interval=PICKER_FILL_MS, max_intervals=1),
            # Complex KPI tiles, refreshed with the map (the same read of the historian).
            html.Section(id=ids.TILES, className="kpi-tiles", children=tile_components(tiles)),
            html.Section(
                className="card card-map",
                children=[
                    html.H2("Site map"),
                    dcc.Graph(
                        id=ids.SITEMAP,
                        figure=site_map,
                        config=_GRAPH_CONFIG,
                        className="sitemap",
                        style={"height": "520px"},
                    ),
                    html.Div(id=ids.MAP_LEGEND, className="legend", children=legend),
                    html.Div(id=ids.FACTORY_LINK, className="factory-link-row"),
                ],
            ),
            html.Section(
                className="card card-trend",
                children=[
                    html.H2("Live trend"),
                    html.Div(
                        className="controls",
                        children=[
                            dcc.Dropdown(
                                id=ids.SENSOR,
                                # the selected sensor only; the full list follows (PICKER_FILL_MS)
                                options=[o for o in sensor_options(ctx.site) if o["value"] == sel["sensor"]],
                                value=sel["sensor"],
                                clearable=False,
                                placeholder="Pick a sensor, or click a factory on the map",
                                maxHeight=420,
                                className="sensor-picker",
                            ),
                            html.Button(
                                "All sensors", id=ids.SHOW_ALL, n_clicks=0, className="button"
                            ),
                        ],
                    ),
                    html.Div(
                        className="controls",
                        children=[
                            html.Span(id=ids.FOCUS, className="focus", children=focus_text(ctx, sel)),
                            dcc.RadioItems(
                                id=ids.RANGE,
                                value=DEFAULT_RANGE,
                                inline=True,
                                className="ranges",
                                options=[
                                    {"label": label, "value": key}
                                    for key, (label, _) in RANGES.items()
                                ],
                                persistence=True,
                                persistence_type="session",
                            ),
                        ],
                    ),
                    dcc.Graph(
                        id=ids.TREND,
                        figure=trend,
                        config=_GRAPH_CONFIG,
                        className="trend",
                        style={"height": "460px"},
                    ),
                    html.Div(id=ids.TREND_STATUS, className="status", children=trend_status),
                ],
            ),
        ],
    )
