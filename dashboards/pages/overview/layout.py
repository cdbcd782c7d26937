"""Layout of the overview page: site map on the left, sensor picker and trend on the right."""

from __future__ import annotations

from dash import dcc, html

from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.kpi_tiles import Tile, TileState
from dashboards.pages.overview import ids
from dashboards.pages.overview.tiles import tile_components
from dashboards.pickers import sensor_options
from dashboards.sitemap import site_map_figure
from dashboards.trend import DEFAULT_RANGE, RANGES, empty_figure

__all__ = ["REFRESH_MS", "layout"]

#: Live refresh period of the map and the trend.
REFRESH_MS = 2_000

TILE_TITLES = (
    ("oee", "OEE (shift)"),
    ("throughput", "Throughput (shift)"),
    ("energy", "Energy (today)"),
    ("alarms", "Active alarms"),
    ("stale", "Sensors stale"),
)

_GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "responsive": True}


def layout(ctx: DashboardContext, user: User | None = None) -> html.Div:
    """The page; callbacks fill in freshness, the selection and the trend."""
    return html.Div(
        className="page page-overview",
        children=[
            # Per-user selection lives in the browser (session storage survives a reload).
            dcc.Store(id=ids.SELECTION, storage_type="session"),
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            # Complex KPI tiles, filled by the map's refresh (the same read of the historian).
            html.Section(
                id=ids.TILES,
                className="kpi-tiles",
                children=tile_components(
                    [
                        Tile(key, title, "…", "loading", TileState.NO_DATA)
                        for key, title in TILE_TITLES
                    ]
                ),
            ),
            html.Section(
                className="card card-map",
                children=[
                    html.H2("Site map"),
                    dcc.Graph(
                        id=ids.SITEMAP,
                        figure=site_map_figure(ctx.site),
                        config=_GRAPH_CONFIG,
                        className="sitemap",
                        style={"height": "520px"},
                    ),
                    html.Div(id=ids.MAP_LEGEND, className="legend"),
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
                                options=sensor_options(ctx.site),
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
                            html.Span(id=ids.FOCUS, className="focus"),
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
                        figure=empty_figure("loading…"),
                        config=_GRAPH_CONFIG,
                        className="trend",
                        style={"height": "460px"},
                    ),
                    html.Div(id=ids.TREND_STATUS, className="status"),
                ],
            ),
        ],
    )
