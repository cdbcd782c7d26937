"""Dash components of KPI tiles (shared by the overview and the factory view).

Each tile says its state in words (``NO DATA``, ``NOT LIVE``, ``ALARM``) beside its
colour, and severities are badges with their names, so nothing relies on colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from dashboards.kpi_tiles import Tile, TileState

__all__ = ["STATE_WORDS", "tile_components", "tile_id"]

#: The words shown on a tile besides its colour (OK shows none).
STATE_WORDS: dict[TileState, str] = {
    TileState.OK: "",
    TileState.NOT_LIVE: "NOT LIVE",
    TileState.NO_DATA: "NO DATA",
    TileState.WARN: "CHECK",
    TileState.ALARM: "ALARM",
}


def tile_id(prefix: str, key: str) -> str:
    return f"{prefix}-tile-{key}"


def tile_components(tiles: Sequence[Tile], prefix: str = "overview") -> list[html.Div]:
    out = []
    for t in tiles:
        children: list[object] = [
            html.Div(
                [html.Span(t.title, className="tile-title"), html.Span(STATE_WORDS[t.state], className="tile-state")],
                className="tile-head",
            ),
            html.Div(t.value, className="tile-value"),
        ]
        if t.chips:
            children.append(
                html.Div(
                    [html.Span(text, className=f"sev-badge sev-{css}") for css, text in t.chips],
                    className="tile-chips",
                )
            )
        children.append(html.Div(t.detail, className="tile-detail"))
        out.append(
            html.Div(children, id=tile_id(prefix, t.key), className=f"kpi-tile tile-{t.state.value}", title=t.detail)
        )
    return out
