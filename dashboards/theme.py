"""The dashboards' plotly template: plotly's default look, for the charts the pages draw only.

Every ``go.Figure`` carries a template; by default it is plotly's whole ``plotly`` template,
about 7 kB of JSON with settings for 24 trace types, 3-D scenes, maps, polar and ternary
plots and colour scales, none of which the dashboards draw. It travelled with every figure
of every refresh (the overview redraws its map and trend every 2 s for each open screen)
and plotly.py copied and walked all of it each time.

:data:`TEMPLATE` keeps the parts of that template that 2-D scatter, WebGL scatter and bar
charts use, with the same values, so the figures look the same (``tests/test_dashboard_theme.py``
checks every value against plotly's), at a sixth of the size (1.2 of 7 kB). A figure uses it with
``layout={"template": TEMPLATE, ...}``. Adding a trace type to a page (and to the plotly.js
bundle, dashboards/plotly-bundle/README.md) means adding it to :data:`TRACE_TYPES`.
"""

from __future__ import annotations

from typing import Any

import plotly.io as pio

__all__ = ["LAYOUT_KEYS", "TEMPLATE", "TRACE_TYPES"]

#: The trace types the dashboards draw (the partial plotly.js bundle holds these only).
TRACE_TYPES = ("scatter", "scattergl", "bar")
#: The template's layout settings that 2-D cartesian charts use.
LAYOUT_KEYS = (
    "annotationdefaults",
    "autotypenumbers",
    "colorway",
    "font",
    "hoverlabel",
    "hovermode",
    "paper_bgcolor",
    "plot_bgcolor",
    "shapedefaults",
    "title",
    "xaxis",
    "yaxis",
)


def _template() -> dict[str, Any]:
    base = pio.templates["plotly"].to_plotly_json()
    return {
        "layout": {k: base["layout"][k] for k in LAYOUT_KEYS if k in base["layout"]},
        "data": {t: base["data"][t] for t in TRACE_TYPES if t in base["data"]},
    }


#: A plain dict: validated figures take it like any layout value, and ``_validate=False``
#: figures send it as it is.
TEMPLATE: dict[str, Any] = _template()
