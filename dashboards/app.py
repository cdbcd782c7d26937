"""Create the Dash app: ``create_app(complex, historian_url, ...)``.

Nothing here runs at import time: no app, no connection. Each call builds an
independent app (its own callbacks, its own historian handle), so tests and WSGI
workers can create as many as they like.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dash import Dash, html

from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.guard import install_request_guard
from dashboards.health import register_health
from dashboards.pages import Page, default_pages
from dashboards.shell import register_router, shell_layout
from twin.model import Complex
from twin.timespec import now_ms

__all__ = ["ASSETS_DIR", "create_app"]

ASSETS_DIR = Path(__file__).with_name("assets")


def create_app(
    complex: Complex,
    historian_url: str,
    *,
    broker_url: str | None = None,
    clock: Callable[[], int] = now_ms,
    pages: Sequence[Page] | None = None,
    **dash_options: Any,
) -> Dash:
    """A Dash app serving ``pages`` (default: all) for ``complex`` from the historian.

    ``broker_url`` is kept for the live state of a later release and is unused now.
    ``dash_options`` go to :class:`dash.Dash` (e.g. ``requests_pathname_prefix``).
    """
    if not isinstance(complex, Complex):
        raise TypeError(f"complex must be a twin.model.Complex, got {type(complex).__name__}")
    ctx = DashboardContext(
        complex, HistorianSource(historian_url), broker_url=broker_url, clock=clock
    )
    pages = tuple(pages) if pages is not None else default_pages()
    paths = [p.path for p in pages]
    if len(set(paths)) != len(paths):
        raise ValueError(f"two pages share a path: {paths}")
    app = Dash(
        __name__,
        title=f"{complex.site.name} · digital twin",
        update_title=None,
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,  # no CDN: control rooms are often offline
        **dash_options,
    )
    app.layout = shell_layout(app, ctx, pages)
    # Lets Dash check every callback against all pages, though only one is shown at a time.
    app.validation_layout = html.Div([app.layout, *(p.layout(ctx) for p in pages)])
    register_router(app, ctx, pages)
    for page in pages:
        page.register_callbacks(app, ctx)
    register_health(app.server, ctx)
    install_request_guard(app)
    return app
