"""Callbacks of the alarm console.

The list comes from the live twin's retained open-alarm lists; actions go to it as
commands whose ``user`` is the session user (recorded with the alarm), never a value
the browser sends. Buttons carry only an alarm id; the live twin rejects unknown ones.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any

import orjson
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, html, no_update
from dash import ctx as dash_ctx

from dashboards.alarm_feed import AlarmsUnavailable
from dashboards.audit import record_alarm_action
from dashboards.auth.session import current_user
from dashboards.context import DashboardContext
from dashboards.pages.alarms import ids
from dashboards.pages.alarms.history import history_view
from dashboards.pages.alarms.layout import SHELVE_OPTIONS
from dashboards.sitemap import (
    hazard_marks,
    mark_sensor_ids,
    sensor_alarms,
    site_map_figure,
    truck_marks,
    zone_alarms,
)
from twin.codec import Reading
from twin.errors import HistorianError

__all__ = [
    "alarm_map",
    "alarm_rows",
    "alarm_table",
    "act",
    "banner",
    "cue_keys",
    "read_map",
    "register",
    "waiting_critical",
]

log = logging.getLogger(__name__)

_ALARM_ID = re.compile(r"^alm-\d{1,12}$")
_ACTIONS = ("ack", "comment", "shelve")


def _when(ctx: DashboardContext, ms: object) -> str:
    if not isinstance(ms, int):
        return ""
    return datetime.fromtimestamp(ms / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M:%S")


def _button(label: str, action: str, alarm: str) -> html.Button:
    return html.Button(
        label,
        id={"type": ids.ACTION, "action": action, "alarm": alarm},
        n_clicks=0,
        className=f"button alarm-{action}",
    )


def alarm_rows(ctx: DashboardContext, alarms: list[dict[str, Any]]) -> html.Table | html.P:
    """The console's alarm table, with action buttons."""
    return alarm_table(ctx, alarms, actions=True)


def alarm_table(ctx: DashboardContext, alarms: list[dict[str, Any]], actions: bool) -> html.Table | html.P:
    """The alarm table: severity as a coloured badge **with its name** (not colour alone)."""
    if not alarms:
        return html.P("No open alarms.", className="no-alarms")
    head = ["Severity", "Alarm", "Type", "Where", "Owner", "State", "Raised", "Acknowledged", "Comments", ""]
    rows = []
    for a in alarms:
        aid = str(a.get("id", ""))
        sev = str(a.get("severity", "?"))
        state = str(a.get("state", ""))
        where = ", ".join(str(z) for z in (a.get("zones") or [])) or str(a.get("source", ""))
        if a.get("factory"):
            where = f"{a['factory']} ({where})"
        comments = a.get("comments") or []
        last = comments[-1] if comments and isinstance(comments[-1], dict) else None
        buttons = []
        if actions and not a.get("acked_by"):
            buttons.append(_button("Acknowledge", "ack", aid))
        if actions:
            buttons.append(_button("Comment", "comment", aid))
        if actions and not a.get("shelved_until_ms"):
            buttons.append(_button("Shelve", "shelve", aid))
        rows.append(
            html.Tr(
                id=f"alarm-row-{aid}",
                className=f"alarm-row sev-{sev} state-{state}",
                children=[
                    html.Td(html.Span(sev.upper(), className=f"sev-badge sev-{sev}")),
                    html.Td(aid),
                    html.Td(str(a.get("type", ""))),
                    html.Td(where),
                    html.Td(str(a.get("owner", ""))),
                    html.Td(state.replace("_", " ") + (" · shelved" if a.get("shelved_until_ms") else "")),
                    html.Td(_when(ctx, a.get("raised_ms"))),
                    html.Td(
                        f"{a['acked_by']} {_when(ctx, a.get('acked_ms'))}" if a.get("acked_by") else "no",
                        className="acked-by",
                    ),
                    html.Td(f"{last.get('user', '')}: {last.get('text', '')}" if last else ""),
                    html.Td(buttons, className="alarm-actions"),
                ],
            )
        )
    return html.Table(
        className="alarm-table",
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
    )


def waiting_critical(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Critical alarms that need an operator (not acknowledged, shelved or suppressed, docs/alarms.md)."""
    return [
        a
        for a in alarms
        if a.get("severity") == "critical"
        and not a.get("acked_by")
        and not a.get("shelved_until_ms")
        and not a.get("suppressed_by")
    ]


def cue_keys(alarms: list[dict[str, Any]]) -> list[str]:
    """What the browser beeps for once each: ``id@notified_ms`` of the waiting critical alarms.

    The live twin stamps ``notified_ms`` when it announces an alarm (raised, reactivated,
    unsuppressed, unshelved, and its reminders every ``renotify_s`` while nobody acknowledges), so each
    announcement beeps once and a refresh of the same list never does.
    """
    return [f"{a.get('id')}@{a.get('notified_ms') or 0}" for a in waiting_critical(alarms)]


def banner(alarms: list[dict[str, Any]]) -> tuple[Any, str]:
    """A flashing banner while a critical alarm waits for an operator, else nothing."""
    waiting = waiting_critical(alarms)
    if not waiting:
        return "", "alarm-banner"
    first = waiting[0]
    text = f"CRITICAL: {len(waiting)} unacknowledged · newest: {first.get('type')} at {first.get('source')}"
    return text, "alarm-banner banner-critical"


def act(
    ctx: DashboardContext, user: str | None, triggered: object, clicks: object, comment: object, shelve_for: object
) -> str:
    """Send the clicked action as the session user; the status line to show."""
    if user is None:
        return "not signed in"
    if not isinstance(triggered, dict) or not clicks:
        return ""
    action, alarm = triggered.get("action"), triggered.get("alarm")
    if action not in _ACTIONS or not isinstance(alarm, str) or not _ALARM_ID.match(alarm):
        return "unknown action"
    text = comment.strip()[:1000] if isinstance(comment, str) else ""
    kw: dict[str, Any] = {}
    if action == "comment":
        if not text:
            return "type a comment first"
        kw["text"] = text
    elif action == "shelve":
        kw["duration_s"] = shelve_for if shelve_for in SHELVE_OPTIONS.values() else 3600
        kw["text"] = text
    try:
        reply = ctx.alarms.command(action, alarm, user, **kw)
    except AlarmsUnavailable as exc:
        return f"not sent: {exc}"
    record_alarm_action(action, alarm, user, reply)  # who did what to which alarm, in the audit log
    if reply.get("ok"):
        return f"{action} {alarm}: done by {user}"
    return f"{action} {alarm}: refused ({reply.get('error')}: {reply.get('detail', '')})"


def alarm_map(ctx: DashboardContext, alarms: list[Any], latest: dict[str, Reading] | None = None) -> Any:
    """The site map with every zone that has an active alarm outlined and labelled (severity,
    type), the hazard detectors (those with an alarm of their own ringed) and the trucks, from
    their newest readings (``latest``; None: the historian did not answer, zones only)."""
    alarmed = zone_alarms(alarms, (z.id for z in ctx.complex.zones))
    if latest is None:
        return site_map_figure(ctx.site, alarmed=alarmed)
    now = ctx.clock()
    return site_map_figure(
        ctx.site,
        alarmed=alarmed,
        hazards=hazard_marks(ctx.complex, latest, now, sensor_alarms(alarms)),
        trucks=truck_marks(ctx.complex, latest, now),
    )


def read_map(ctx: DashboardContext) -> Any:
    """The console's map now: open alarms from the broker, detectors and trucks from the historian."""
    try:
        alarms = ctx.alarms.open_alarms()
    except AlarmsUnavailable:
        alarms = []  # the table above says why
    try:
        latest: dict[str, Reading] | None = ctx.historian.latest(mark_sensor_ids(ctx.complex))
    except HistorianError as exc:
        log.warning("alarm console map: historian unavailable: %s", exc)
        latest = None
    return alarm_map(ctx, alarms, latest)


def register(app: Dash, ctx: DashboardContext) -> None:
    @app.callback(
        Output(ids.TABLE, "children"),
        Output(ids.BANNER, "children"),
        Output(ids.BANNER, "className"),
        Output(ids.DIGEST, "data"),
        Output(ids.CRITICAL, "data"),
        Input(ids.TICK, "n_intervals"),
        State(ids.DIGEST, "data"),
    )
    def _refresh(_tick: object, shown: object) -> tuple[Any, ...]:
        try:
            alarms = ctx.alarms.open_alarms()
        except AlarmsUnavailable as exc:
            log.warning("alarm console: %s", exc)
            return html.P(f"Alarms unavailable: {exc}", className="status"), "", "alarm-banner", None, []
        digest = hashlib.sha256(orjson.dumps(alarms, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        if digest == shown:  # unchanged: keep the buttons under the operator's pointer
            return no_update, no_update, no_update, no_update, no_update
        return (alarm_rows(ctx, alarms), *banner(alarms), digest, cue_keys(alarms))

    # The map follows the list at once (a new digest) and the detectors' readings every few seconds.
    @app.callback(Output(ids.MAP, "figure"), Input(ids.MAP_TICK, "n_intervals"), Input(ids.DIGEST, "data"))
    def _map(_tick: object, _digest: object) -> Any:
        return read_map(ctx)

    # The beep is made in the browser (dashboards/assets/alarm_sound.js, Web Audio): once per
    # new critical alarm waiting for an operator, unless muted. No inline script (CSP).
    app.clientside_callback(
        ClientsideFunction(namespace="twin_alarms", function_name="cue"),
        Output(ids.HEARD, "data"),
        Output(ids.SOUND_STATUS, "children"),
        Input(ids.CRITICAL, "data"),
        Input(ids.MUTE, "value"),
        State(ids.HEARD, "data"),
    )

    @app.callback(
        Output(ids.HISTORY_TABLE, "children"),
        Output(ids.HISTORY_STATUS, "children"),
        Output(ids.HISTORY_TYPE, "options"),
        Input(ids.HISTORY_RANGE, "value"),
        Input(ids.HISTORY_DATES, "start_date"),
        Input(ids.HISTORY_DATES, "end_date"),
        Input(ids.HISTORY_ZONE, "value"),
        Input(ids.HISTORY_TENANT, "value"),
        Input(ids.HISTORY_SEVERITY, "value"),
        Input(ids.HISTORY_TYPE, "value"),
        Input(ids.HISTORY_STATE, "value"),
        Input(ids.HISTORY_TICK, "n_intervals"),
    )
    def _history(
        range_key: object,
        start: object,
        end: object,
        zone: object,
        tenant: object,
        severity: object,
        type_: object,
        state: object,
        _tick: object,
    ) -> tuple[Any, ...]:
        raw = {
            "range": range_key,
            "start": start,
            "end": end,
            "zone": zone,
            "tenant": tenant,
            "severity": severity,
            "type": type_,
            "state": state,
        }
        return history_view(ctx, current_user(), raw)

    @app.callback(
        Output(ids.STATUS, "children"),
        Input({"type": ids.ACTION, "action": ALL, "alarm": ALL}, "n_clicks"),
        State(ids.COMMENT, "value"),
        State(ids.SHELVE_FOR, "value"),
        prevent_initial_call=True,
    )
    def _act(_clicks: object, comment: object, shelve_for: object) -> object:
        trig = dash_ctx.triggered[0] if dash_ctx.triggered else {}
        if not trig.get("value"):
            return no_update  # buttons re-created by a refresh, not a click
        user = current_user()
        return act(ctx, user.username if user else None, dash_ctx.triggered_id, trig.get("value"), comment, shelve_for)
