"""The schematic site map: zones, roads, factories, the logistics centre, hazard detectors
and trucks, from the config and the newest readings.

Pure: builds a Plotly figure from the :class:`~dashboards.site.SiteIndex`, the freshness
of each asset and :class:`MapMark` s (hazard detectors where the config places them,
trucks where their ``position_x``/``position_y`` sensors last put them). No map tiles, no
network: the layout coordinates of the config (metres from the south-west corner) are
the axes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import plotly.graph_objects as go

from dashboards.freshness import AssetFreshness, Freshness, sensor_freshness
from dashboards.site import Asset, AssetKind, SiteIndex
from dashboards.theme import TEMPLATE
from twin.codec import Reading
from twin.model import Complex, HazardSensor

__all__ = [
    "ALARM_ZONE_COLOURS",
    "ZoneAlarm",
    "zone_alarms",
    "sensor_alarms",
    "FRESHNESS_COLOURS",
    "FACTORY_TRACE",
    "LOGISTICS_TRACE",
    "ROADS_TRACE",
    "SELECTED_TRACE",
    "HAZARD_TRACE",
    "TRUCK_TRACE",
    "MapMark",
    "hazard_marks",
    "truck_marks",
    "mark_sensor_ids",
    "label_positions",
    "site_map_figure",
]

#: Green / amber / grey; the state is also written out in the hover text and the legend
#: below the map, so colour is never the only cue.
FRESHNESS_COLOURS: dict[Freshness, str] = {
    Freshness.FRESH: "#2e9e44",
    Freshness.LATE: "#f0a202",
    Freshness.NO_DATA: "#9e9e9e",
}

# Trace names: callbacks and tests find traces by name, not by position.
FACTORY_TRACE = "factories"
LOGISTICS_TRACE = "logistics centre"
ROADS_TRACE = "roads"
SELECTED_TRACE = "selected"
HAZARD_TRACE = "hazard detectors"
TRUCK_TRACE = "trucks"


@dataclass(frozen=True, slots=True)
class MapMark:
    """A hazard detector or a truck on the map. ``sensor``: the sensor a click shows in the
    trend (the detector itself; a truck's speed, else its first sensor)."""

    id: str
    sensor: str
    x: float
    y: float
    state: Freshness
    hover: str
    #: Worst severity of the active alarms raised on this sensor itself (None: none).
    alarm: str | None = None


def _value(r: Reading | None, unit: str) -> str:
    return "no reading yet" if r is None else f"{r.value:.4g} {unit}"


def hazard_marks(
    c: Complex, latest: Mapping[str, Reading], now_ms: int, alarms: Mapping[str, str] | None = None
) -> list[MapMark]:
    """Every hazard detector where the config places it, coloured by its data freshness,
    with its newest reading in the hover text. ``alarms`` (:func:`sensor_alarms`): the
    detectors with an active alarm of their own, ringed and named in the hover text."""
    alarms = alarms or {}
    marks = []
    for sid, s in _detectors(c):
        info = c.sensors[sid]
        r = latest.get(sid)
        state = sensor_freshness(s, r, now_ms)
        alarm = alarms.get(sid)
        hover = (
            (f"<b>⚠ {escape(alarm.upper())} ALARM</b><br>" if alarm else "")
            + f"<b>{escape(sid)}</b><br>{escape(s.kind.replace('_', ' '))} detector · zone {escape(info.zone or '-')}"
            f"<br>{escape(_value(r, s.unit))} ({state.label})<br>click for its trend"
        )
        marks.append(MapMark(sid, sid, s.position.x, s.position.y, state, hover, alarm))
    return marks


def _detectors(c: Complex) -> list[tuple[str, HazardSensor]]:
    """Every hazard detector of the complex: ``(sensor id, sensor)``."""
    return [
        (sid, info.sensor)
        for sid, info in c.sensors.items()
        if info.hazard and isinstance(info.sensor, HazardSensor)
    ]


#: The truck sensors :func:`truck_marks` reads.
_TRUCK_KINDS = ("position_x", "position_y", "speed")


def mark_sensor_ids(c: Complex) -> list[str]:
    """The sensors :func:`hazard_marks` and :func:`truck_marks` read: every hazard detector,
    and each truck's position and speed."""
    trucks = c.logistics.trucks if c.logistics is not None else ()
    return [sid for sid, _ in _detectors(c)] + [s.id for t in trucks for s in t.sensors if s.kind in _TRUCK_KINDS]


def truck_marks(c: Complex, latest: Mapping[str, Reading], now_ms: int) -> list[MapMark]:
    """Every truck whose ``position_x`` and ``position_y`` sensors have reported, where they
    last put it; its freshness is the older of the two. Trucks without a position reading
    are not drawn (there is no place to draw them)."""
    marks = []
    for truck in c.logistics.trucks if c.logistics is not None else ():
        by_kind = {s.kind: s for s in truck.sensors}
        sx, sy = by_kind.get("position_x"), by_kind.get("position_y")
        if sx is None or sy is None:
            continue
        rx, ry = latest.get(sx.id), latest.get(sy.id)
        if rx is None or ry is None:
            continue
        late = Freshness.LATE in (sensor_freshness(sx, rx, now_ms), sensor_freshness(sy, ry, now_ms))
        state = Freshness.LATE if late else Freshness.FRESH
        speed = by_kind.get("speed")
        pool = f"tenant {truck.tenant}" if truck.tenant else "shared pool"
        lines = [f"<b>{escape(truck.id)}</b> · truck · {escape(pool)}"]
        if speed is not None:
            lines.append(f"speed {escape(_value(latest.get(speed.id), speed.unit))}")
        lines.append(f"position {'late: last known' if late else 'fresh'}<br>click for its trend")
        target = (speed or truck.sensors[0]).id
        marks.append(MapMark(truck.id, target, rx.value, ry.value, state, "<br>".join(lines)))
    return marks

#: Outline and label colour of a zone with an active alarm, by its worst severity. The
#: label also says the severity and disaster type in words, and the outline is thick
#: (dashed below critical), so the highlight is readable without colour.
ALARM_ZONE_COLOURS: dict[str, str] = {
    "critical": "#b42318",
    "major": "#c4320a",
    "minor": "#b54708",
    "warning": "#175cd3",
}
_SEVERITY_RANK = {s: i for i, s in enumerate(ALARM_ZONE_COLOURS)}


def _active_rank(a: object) -> int | None:
    """The severity rank (0 worst) of an active alarm (``active_unack``/``active_ack``; an
    unknown severity ranks least); None for anything else: a cleared alarm waiting for its
    acknowledgement no longer marks a place as dangerous, and malformed entries are ignored."""
    if not isinstance(a, dict) or a.get("state") not in ("active_unack", "active_ack"):
        return None
    return _SEVERITY_RANK.get(a.get("severity"), len(_SEVERITY_RANK) - 1)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ZoneAlarm:
    """What is going on in one zone: its active alarms, the worst severity, disaster types."""

    zone: str
    severity: str
    count: int
    disasters: tuple[str, ...] = ()

    @property
    def critical(self) -> bool:
        return self.severity == "critical" or bool(self.disasters)

    def label(self) -> str:
        """``CRITICAL · FIRE · 2 alarms``: the highlight in words."""
        what = [self.severity.upper(), *(d.replace("_", " ").upper() for d in self.disasters)]
        return " · ".join([*what, f"{self.count} alarm{'s' if self.count != 1 else ''}"])


def zone_alarms(alarms: Iterable[Any], zone_ids: Iterable[str] | None = None) -> dict[str, ZoneAlarm]:
    """``{zone: ZoneAlarm}`` for zones with an active alarm (any client-safe alarm dicts).

    Only active alarms count (``active_unack``/``active_ack``): a cleared alarm waiting
    for its acknowledgement no longer marks a place as dangerous. Zones not in
    ``zone_ids`` (when given) and malformed entries are ignored.
    """
    known = set(zone_ids) if zone_ids is not None else None
    found: dict[str, tuple[int, int, list[str]]] = {}  # zone -> (worst rank, count, disasters)
    for a in alarms:
        rank = _active_rank(a)
        zones = a.get("zones") if rank is not None else None
        if rank is None or not isinstance(zones, list | tuple):
            continue
        disaster = a.get("type") if a.get("disaster") is True and isinstance(a.get("type"), str) else None
        for z in zones:
            if not isinstance(z, str) or (known is not None and z not in known):
                continue
            worst, count, disasters = found.get(z, (len(_SEVERITY_RANK), 0, []))
            if disaster and disaster not in disasters:
                disasters.append(disaster)
            found[z] = (min(worst, rank), count + 1, disasters)
    names = list(ALARM_ZONE_COLOURS)
    return {
        z: ZoneAlarm(z, names[min(rank, len(names) - 1)], count, tuple(sorted(d)))
        for z, (rank, count, d) in found.items()
    }


def sensor_alarms(alarms: Iterable[Any]) -> dict[str, str]:
    """``{sensor id: worst severity}`` of the active alarms raised on one sensor (source kind
    ``sensor``): which detector on the map tripped. Zone-wide disaster alarms are the zones'
    (:func:`zone_alarms`); malformed entries are ignored."""
    worst: dict[str, int] = {}
    for a in alarms:
        rank = _active_rank(a)
        if rank is None or a.get("source_kind") != "sensor" or not isinstance(a.get("source"), str):
            continue
        worst[a["source"]] = min(worst.get(a["source"], rank), rank)
    names = list(ALARM_ZONE_COLOURS)
    return {sid: names[rank] for sid, rank in worst.items()}


_ZONE_FILLS = ("#e8f1fb", "#eef7ea", "#fbf3e6", "#f3ecf8", "#e9f6f6", "#f8eaea")
_NO_FRESHNESS = AssetFreshness(Freshness.NO_DATA, 0, 0, 0, None)


def site_map_figure(
    site: SiteIndex,
    freshness: Mapping[str, AssetFreshness] | None = None,
    selected: str | None = None,
    alarmed: Mapping[str, ZoneAlarm] | None = None,
    hazards: Iterable[MapMark] = (),
    trucks: Iterable[MapMark] = (),
) -> go.Figure:
    """The site map; assets coloured by freshness (grey when unknown), ``selected`` ringed.

    Zones in ``alarmed`` (see :func:`zone_alarms`) get a thick outline, a tinted fill and
    a label naming the severity and disaster type. ``hazards`` are drawn as small
    triangles and ``trucks`` as diamonds (a hollow one: its position is late), coloured
    by freshness; their names are in the hover text, not on the map.
    """
    c = site.complex
    freshness = freshness or {}
    alarmed = alarmed or {}
    fig = go.Figure(layout={"template": TEMPLATE})

    shapes, annotations = [], []
    for i, z in enumerate(c.zones):
        a = z.area
        shapes.append(
            dict(
                type="rect",
                x0=a.x,
                y0=a.y,
                x1=a.x + a.w,
                y1=a.y + a.h,
                layer="below",
                line=dict(color="#7a8ca3", width=1),
                fillcolor=_ZONE_FILLS[i % len(_ZONE_FILLS)],
                name=f"zone {z.id}",
            )
        )
        alarm = alarmed.get(z.id)
        if alarm is not None:
            colour = ALARM_ZONE_COLOURS["critical" if alarm.critical else alarm.severity]
            shapes.append(
                dict(
                    type="rect",
                    x0=a.x,
                    y0=a.y,
                    x1=a.x + a.w,
                    y1=a.y + a.h,
                    layer="below",
                    line=dict(color=colour, width=5 if alarm.critical else 3,
                              dash="solid" if alarm.critical else "dash"),
                    fillcolor=_tint(colour, 0.22 if alarm.critical else 0.12),
                    name=f"alarm zone {z.id}",
                )
            )
            annotations.append(
                dict(
                    x=a.x + a.w * 0.015,
                    y=a.y + a.h * 0.98,
                    xanchor="left",
                    yanchor="top",
                    text=f"<b>⚠ {escape(alarm.label())}</b>",
                    showarrow=False,
                    font=dict(size=11, color="#ffffff"),
                    bgcolor=colour,
                    bordercolor="#1f2933",
                    borderwidth=1,
                    borderpad=3,
                    name=f"alarm zone {z.id}",
                )
            )
        # Bottom-left: the top of a zone is where factory labels usually sit.
        annotations.append(
            dict(
                x=a.x + a.w * 0.015,
                y=a.y + a.h * 0.02,
                xanchor="left",
                yanchor="bottom",
                text=f"<b>{escape(z.name or z.id)}</b>",
                showarrow=False,
                font=dict(size=10, color="#5b6b80"),
                name=f"zone {z.id}",
            )
        )

    roads_x: list[float | None] = []
    roads_y: list[float | None] = []
    for road in c.logistics.roads if c.logistics is not None else ():
        roads_x += [p.x for p in road] + [None]
        roads_y += [p.y for p in road] + [None]
    fig.add_trace(
        go.Scatter(
            x=roads_x,
            y=roads_y,
            mode="lines",
            name=ROADS_TRACE,
            hoverinfo="skip",
            line=dict(color="#b9b9b9", width=5),
            showlegend=False,
        )
    )

    hazards = list(hazards)
    if hazards:  # under the factories: a detector at a plant must not hide the plant
        fig.add_trace(_mark_trace(hazards, HAZARD_TRACE, "triangle-up", 9, hollow_when_late=False))

    assets = list(site.assets.values())
    for kind, trace_name, symbol, size in (
        (AssetKind.FACTORY, FACTORY_TRACE, "circle", 18),
        (AssetKind.LOGISTICS, LOGISTICS_TRACE, "square", 20),
    ):
        group = [a for a in assets if a.kind is kind]
        if not group:
            continue
        states = [freshness.get(a.id, _NO_FRESHNESS) for a in group]
        fig.add_trace(
            go.Scatter(
                x=[a.position.x for a in group],
                y=[a.position.y for a in group],
                mode="markers+text",
                name=trace_name,
                showlegend=False,
                text=[escape(a.name) for a in group],
                textposition=label_positions(group, c.site.width_m),
                textfont=dict(size=11, color="#1f2933"),
                customdata=[a.id for a in group],
                hovertext=[_hover(a, f) for a, f in zip(group, states, strict=True)],
                hoverinfo="text",
                marker=dict(
                    symbol=symbol,
                    size=size,
                    color=[FRESHNESS_COLOURS[f.state] for f in states],
                    line=dict(color="#1f2933", width=1.5),
                ),
            )
        )

    trucks = list(trucks)
    if trucks:  # on top: they move; a truck whose position is late is drawn hollow where it was
        fig.add_trace(_mark_trace(trucks, TRUCK_TRACE, "diamond", 12, hollow_when_late=True))

    chosen = site.asset(selected)
    if chosen is not None:
        fig.add_trace(
            go.Scatter(
                x=[chosen.position.x],
                y=[chosen.position.y],
                mode="markers",
                name=SELECTED_TRACE,
                hoverinfo="skip",
                showlegend=False,
                marker=dict(symbol="circle-open", size=34, color="#1565c0", line=dict(width=3)),
            )
        )

    fig.update_layout(
        shapes=shapes,
        annotations=annotations,
        showlegend=False,
        margin=dict(l=8, r=8, t=8, b=8),
        plot_bgcolor="#fafafa",
        paper_bgcolor="#ffffff",
        clickmode="event",
        hovermode="closest",
        dragmode="pan",
        # Keeps the user's zoom and pan while the figure is refreshed every few seconds.
        uirevision="sitemap",
        xaxis=dict(range=[0, c.site.width_m], visible=False, fixedrange=False),
        yaxis=dict(range=[0, c.site.height_m], visible=False, scaleanchor="x", scaleratio=1),
    )
    return fig


def _mark_trace(marks: list[MapMark], trace_name: str, symbol: str, size: int, hollow_when_late: bool) -> go.Scatter:
    return go.Scatter(
        x=[m.x for m in marks],
        y=[m.y for m in marks],
        mode="markers",
        name=trace_name,
        showlegend=False,
        customdata=[m.sensor for m in marks],
        hovertext=[m.hover for m in marks],
        hoverinfo="text",
        # A mark in alarm is larger and ringed in its severity's colour (and says so on hover).
        marker=dict(
            symbol=[symbol + ("-open" if hollow_when_late and m.state is not Freshness.FRESH else "") for m in marks],
            size=[size * 2 if m.alarm else size for m in marks],
            color=[FRESHNESS_COLOURS[m.state] for m in marks],
            line=dict(
                color=[ALARM_ZONE_COLOURS.get(m.alarm, "#b42318") if m.alarm else "#1f2933" for m in marks],
                width=[3 if m.alarm else 1 for m in marks],
            ),
        ),
    )


#: Rough label size for placing labels: characters by width of the site, and rows.
_LABEL_CHAR_FRACTION = 1 / 110
_LABEL_ROW_FRACTION = 1 / 14


def label_positions(assets: list[Asset], site_width: float) -> list[str]:
    """``top center`` or ``bottom center`` per asset so neighbours' labels do not overlap.

    Greedy, left to right: a label goes below its marker when the label above would
    collide with one already placed above a near neighbour.
    """
    placed: list[tuple[float, float, float, str]] = []  # (x, y, half width, position)
    out: dict[str, str] = {}
    row = site_width * _LABEL_ROW_FRACTION
    for a in sorted(assets, key=lambda a: (a.position.x, a.position.y)):
        half = len(a.name) * site_width * _LABEL_CHAR_FRACTION / 2
        pos = "top center"
        for x, y, other_half, other_pos in placed:
            near = abs(a.position.x - x) < half + other_half and abs(a.position.y - y) < row
            if near and other_pos == pos:
                pos = "bottom center"
        placed.append((a.position.x, a.position.y, half, pos))
        out[a.id] = pos
    return [out[a.id] for a in assets]


def _tint(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _hover(a: Asset, f: AssetFreshness) -> str:
    kind = "factory" if a.kind is AssetKind.FACTORY else "logistics centre"
    click = "its sensors and a link to its factory view" if a.kind is AssetKind.FACTORY else "its sensors"
    return (
        f"<b>{escape(a.name)}</b><br>{kind} {a.id} · zone {a.zone} · {a.owner}"
        f"<br>data: {f.state.label} ({f.describe()})<br>click to show {click}"
    )
