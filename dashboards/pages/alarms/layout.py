"""Layout of the alarm console: critical banner and sound, open alarms with their actions, history."""

from __future__ import annotations

from dash import dcc, html

from dashboards.alarm_feed import SEVERITY_ORDER
from dashboards.alarm_history import DEFAULT_RANGE, HISTORY_RANGES
from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages.alarms import ids
from dashboards.sitemap import site_map_figure

__all__ = ["HISTORY_REFRESH_MS", "MAP_REFRESH_MS", "REFRESH_MS", "SHELVE_OPTIONS", "history_section", "layout"]

#: The live twin republishes open alarms on every change; 1 s keeps the console within seconds.
REFRESH_MS = 1_000

#: Detector readings and truck positions on the map; a changed alarm list redraws it at once.
MAP_REFRESH_MS = 5_000

#: Shelve durations offered (seconds).
SHELVE_OPTIONS = {"15 min": 900, "1 h": 3600, "8 h": 28_800}

#: The history changes when alarms do; every 10 s is plenty (the open list above is live).
HISTORY_REFRESH_MS = 10_000


def _pick(id_: str, placeholder: str, options: list[dict[str, str]]) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, placeholder=placeholder, clearable=True, className="history-pick")


def history_section(ctx: DashboardContext) -> html.Section:
    """Past and present alarms from the live twin's journal, with filters checked on the server."""
    c = ctx.complex
    return html.Section(
        className="card alarm-history",
        children=[
            dcc.Interval(id=ids.HISTORY_TICK, interval=HISTORY_REFRESH_MS),
            html.H2("Alarm history (newest first)"),
            html.Div(
                className="controls history-filters",
                children=[
                    dcc.Dropdown(
                        id=ids.HISTORY_RANGE,
                        options=[{"label": f"last {label}", "value": k} for k, (label, _) in HISTORY_RANGES.items()],
                        value=DEFAULT_RANGE,
                        clearable=False,
                        className="history-pick",
                    ),
                    dcc.DatePickerRange(
                        id=ids.HISTORY_DATES,
                        clearable=True,
                        display_format="YYYY-MM-DD",
                        start_date_placeholder_text="from (day)",
                        end_date_placeholder_text="to (day)",
                    ),
                    _pick(ids.HISTORY_ZONE, "any zone", [{"label": z.name or z.id, "value": z.id} for z in c.zones]),
                    _pick(
                        ids.HISTORY_TENANT,
                        "any tenant",
                        [{"label": "control centre (park)", "value": "park"}]
                        + [{"label": t.name, "value": t.id} for t in c.tenants],
                    ),
                    _pick(ids.HISTORY_SEVERITY, "any severity", [{"label": s, "value": s} for s in SEVERITY_ORDER]),
                    _pick(ids.HISTORY_TYPE, "any type", []),
                    _pick(
                        ids.HISTORY_STATE,
                        "open and closed",
                        [{"label": "closed only", "value": "closed"}, {"label": "open only", "value": "open"}],
                    ),
                ],
            ),
            html.Div(id=ids.HISTORY_STATUS, className="status", role="status"),
            html.Div(id=ids.HISTORY_TABLE),
        ],
    )


def layout(ctx: DashboardContext, user: User | None = None) -> html.Div:
    return html.Div(
        className="page page-alarms",
        children=[
            dcc.Interval(id=ids.TICK, interval=REFRESH_MS),
            dcc.Store(id=ids.DIGEST),
            dcc.Store(id=ids.CRITICAL, data=[]),
            dcc.Store(id=ids.HEARD, storage_type="session"),
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
                            dcc.Checklist(
                                id=ids.MUTE,
                                options=[{"label": " Mute sound", "value": "mute"}],
                                value=[],
                                persistence=True,
                                persistence_type="local",
                                className="alarm-mute",
                            ),
                            html.Span(id=ids.SOUND_STATUS, className="sound-status", role="status"),
                        ],
                    ),
                    html.Div(id=ids.STATUS, className="status", role="status"),
                    html.Div(id=ids.TABLE),
                ],
            ),
            html.Section(
                className="card alarm-map",
                children=[
                    html.H2("Site map: affected zones, hazard detectors, trucks"),
                    dcc.Interval(id=ids.MAP_TICK, interval=MAP_REFRESH_MS),
                    dcc.Graph(id=ids.MAP, figure=site_map_figure(ctx.site), config={"displayModeBar": False}),
                ],
            ),
            history_section(ctx),
        ],
    )
