"""Create the Dash app: ``create_app(complex, historian_url, ...)``.

Nothing here runs at import time: no app, no connection. Each call builds an
independent app (its own callbacks, its own historian handle), so tests and WSGI
workers can create as many as they like.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dash import Dash, dcc, html
from dash.development.base_component import Component

from dashboards.auth.session import AuthConfig, install_auth
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.guard import install_request_guard
from dashboards.health import HEALTH_PATH, register_health
from dashboards.pages import Page, default_pages
from dashboards.plotly_bundle import install_plotly_bundle
from dashboards.security_headers import install_security_headers
from dashboards.shell import register_router, session_shell, shell_layout
from twin.model import Complex
from twin.timespec import now_ms

__all__ = ["ASSETS_DIR", "create_app", "structure_only"]

ASSETS_DIR = Path(__file__).with_name("assets")


def create_app(
    complex: Complex,
    historian_url: str,
    *,
    broker_url: str | None = None,
    alarm_journal: str | None = None,
    clock: Callable[[], int] = now_ms,
    pages: Sequence[Page] | None = None,
    auth: AuthConfig | None = None,
    **dash_options: Any,
) -> Dash:
    """A Dash app serving ``pages`` (default: all) for ``complex`` from the historian.

    ``auth``: a users file and secret key (logins and roles), or None for open local
    mode (no login, everyone acts as the ``local`` admin; the header says so).
    ``broker_url`` is where the pages that act on alarms reach the live twin.
    ``alarm_journal`` is the live twin's ``alarms.jsonl``, read for the alarm history.
    ``dash_options`` go to :class:`dash.Dash` (e.g. ``requests_pathname_prefix``).
    """
    if not isinstance(complex, Complex):
        raise TypeError(f"complex must be a twin.model.Complex, got {type(complex).__name__}")
    ctx = DashboardContext(
        complex, HistorianSource(historian_url), broker_url=broker_url, alarm_journal=alarm_journal, clock=clock
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
    auth = auth if auth is not None else AuthConfig.open_local()
    app.layout = session_shell(app, ctx, pages, auth.login_required)
    # Lets Dash check every callback against all pages, though only one is shown at a time.
    app.validation_layout = structure_only(
        html.Div([shell_layout(app, ctx, pages), *(p.layout(ctx, None) for p in pages)])
    )
    register_router(app, ctx, pages)
    callback_roles: dict[str, frozenset[str]] = {}
    for page in pages:
        before = set(app.callback_map)
        page.register_callbacks(app, ctx)
        for output in set(app.callback_map) - before:  # the page's own callbacks: its roles
            callback_roles[output] = page.roles
    register_health(app.server, ctx)
    app.server.extensions["twin_alarm_feed"] = ctx.alarms  # so a server shutdown can close it
    # Login first, so an anonymous request learns nothing, not even whether its body is well-formed.
    install_auth(app, auth, complex.site.name, callback_roles, open_paths=(HEALTH_PATH,))
    install_request_guard(app)
    install_plotly_bundle(app)  # after the login check: served to whoever may load Dash's bundles
    install_security_headers(app, hsts=auth.secure_cookies)  # CSP, no framing, no-store: every response
    return app


def structure_only(layout: Component) -> Component:
    """``layout`` without its graphs' figures: what Dash needs to check callbacks (ids, types
    and prop names), and no more.

    Dash puts the validation layout into every page's HTML, and the browser walks all of it
    at start-up. With the placeholder figures (each carrying plotly's 7 kB default template)
    the page's HTML was 115 kB, 90 kB of it those figures; without them it is 32 kB.
    """
    for component in layout._traverse():
        if isinstance(component, dcc.Graph) and hasattr(component, "figure"):
            del component.figure
    return layout
