"""Serve the dashboards' partial plotly.js where ``dcc.Graph`` loads plotly.js from.

``dcc.Graph`` fetches plotly.js lazily, as an async script, the first time a page draws a
graph, from ``{prefix}_dash-component-suites/plotly/package_data/plotly.min.js`` (the URL
Dash's renderer sets when assets are served locally). That URL is answered here with
``dashboards/vendor/plotly-twin.min.js``: plotly.js with only the trace types the
dashboards draw, 1.5 MB instead of the full 4.8 MB (dashboards/plotly-bundle/README.md).
A page without graphs loads no plotly.js at all; a page with graphs loads a bundle a third
the size of the full one. Measured: docs/benchmarks.md, *Dashboard*.

The bundle is answered with an ETag and ``no-cache``: browsers revalidate (a 304 when
unchanged), so a rebuilt bundle is never shadowed by a cached old one.
"""

from __future__ import annotations

import re
from pathlib import Path

from dash import Dash
from flask import Response, request, send_file

__all__ = ["BUNDLE", "DASH_PLOTLY_JS", "install_plotly_bundle"]

BUNDLE = Path(__file__).with_name("vendor") / "plotly-twin.min.js"
#: Where Dash serves plotly.py's full plotly.js (unfingerprinted, or fingerprinted as
#: ``plotly.v4_1_1m1700000000.min.js`` when listed in a page).
DASH_PLOTLY_JS = "_dash-component-suites/plotly/package_data/plotly.min.js"


def install_plotly_bundle(app: Dash) -> None:
    """Answer ``app``'s plotly.js URL with the partial bundle."""
    prefix = re.escape(app.config.routes_pathname_prefix + "_dash-component-suites/plotly/package_data/plotly")
    wanted = re.compile(prefix + r"(\.v[\w]+m\d+)?\.min\.js")

    @app.server.before_request
    def _partial_plotly_js() -> Response | None:
        if request.method not in ("GET", "HEAD") or not wanted.fullmatch(request.path):
            return None
        response = send_file(BUNDLE, mimetype="text/javascript", conditional=True, etag=True, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
