"""The alarm history of the console: filters validated on the server, rows from the journal.

Every filter value comes from the browser and may be forged; :func:`history_view` checks
them with :func:`dashboards.alarm_history.parse_filter` and answers a hostile one with an
empty table and a message, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dash import html

from dashboards.alarm_history import MAX_ROWS, filter_alarms, parse_filter
from dashboards.alarm_journal import HistoryUnavailable
from dashboards.auth.users import User
from dashboards.context import DashboardContext
from twin.alarms.records import Alarm
from twin.model import PARK_OWNER

__all__ = ["history_table", "history_view"]

log = logging.getLogger(__name__)

#: Comments shown per row (the newest); the alarm keeps its last 100, the journal all.
_COMMENTS_SHOWN = 5


def _when(ctx: DashboardContext, ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M:%S")


def history_table(ctx: DashboardContext, alarms: Sequence[Alarm]) -> html.Table | html.P:
    """Read-only rows: severity badge with its name, raised / cleared / acknowledged (by whom) / closed, comments."""
    if not alarms:
        return html.P("No alarms match.", className="no-history")
    head = [
        "Severity",
        "Alarm",
        "Type",
        "Where",
        "Tenant",
        "State",
        "Raised",
        "Cleared",
        "Acknowledged",
        "Closed",
        "Comments",
    ]
    rows = []
    for a in alarms:
        where = ", ".join(a.zones) or a.source
        if a.factory:
            where = f"{a.factory} ({where})"
        comments = [html.Div(f"{_when(ctx, c.ts_ms)} {c.user}: {c.text}") for c in a.comments[-_COMMENTS_SHOWN:]]
        if len(a.comments) > _COMMENTS_SHOWN:
            comments.insert(0, html.Div(f"… {len(a.comments) - _COMMENTS_SHOWN} earlier", className="muted"))
        rows.append(
            html.Tr(
                id=f"history-row-{a.id}",
                className=f"history-row sev-{a.severity} state-{a.state.value}",
                children=[
                    html.Td(html.Span(a.severity.upper(), className=f"sev-badge sev-{a.severity}")),
                    html.Td(a.id),
                    html.Td(a.type, className="history-type"),
                    html.Td(where),
                    html.Td(a.tenant or PARK_OWNER),
                    html.Td(a.state.value.replace("_", " ")),
                    html.Td(_when(ctx, a.raised_ms)),
                    html.Td(_when(ctx, a.cleared_ms)),
                    html.Td(f"{a.acked_by} {_when(ctx, a.acked_ms)}" if a.acked_by else "no", className="acked-by"),
                    html.Td(_when(ctx, a.closed_ms)),
                    html.Td(comments, className="history-comments"),
                ],
            )
        )
    return html.Table(
        className="alarm-table history-table",
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
    )


def history_view(ctx: DashboardContext, user: User | None, raw: Mapping[str, object]) -> tuple[Any, str, list[Any]]:
    """Table, status line and the alarm types seen (options of the type filter)."""
    if user is None:
        return html.P("not signed in", className="status"), "not signed in", []
    flt, problem = parse_filter(ctx.complex, raw, ctx.clock(), ctx.tz)
    try:
        alarms = ctx.history.alarms()
    except HistoryUnavailable as exc:
        # no journal configured is a deployment choice, said on the page; a missing or unreadable one is a fault
        log.log(logging.DEBUG if ctx.history.path is None else logging.WARNING, "alarm history: %s", exc)
        return html.P(f"History unavailable: {exc}", className="status"), f"History unavailable: {exc}", []
    types = [{"label": t, "value": t} for t in sorted({a.type for a in alarms})]
    if flt is None:
        return html.P("No alarms match.", className="no-history"), f"Filter rejected: {problem}; nothing shown.", types
    found = filter_alarms(alarms, flt)
    shown = found[:MAX_ROWS]
    status = f"{len(found)} alarm(s) from {_when(ctx, flt.since_ms)} to {_when(ctx, flt.until_ms)}"
    if len(found) > len(shown):
        status += f"; showing the newest {len(shown)} (narrow the filters to see the rest)"
    return history_table(ctx, shown), status, types
