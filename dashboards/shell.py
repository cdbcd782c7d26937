"""The app shell: header, navigation and the router that puts a page under it.

Routing is a callback on ``dcc.Location`` rather than Dash's global page registry,
so several apps (tests, workers) can live in one process, and a later login check
has one place to run before any page is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence

from dash import Dash, Input, Output, dcc, html

from dashboards.context import DashboardContext
from dashboards.pages import Page

__all__ = ["URL", "CONTENT", "shell_layout", "route", "register_router"]

URL = "shell-url"
CONTENT = "shell-content"


def shell_layout(app: Dash, ctx: DashboardContext, pages: Sequence[Page]) -> html.Div:
    """Header with the site name and the page links; the page goes into ``CONTENT``."""
    return html.Div(
        className="shell",
        children=[
            dcc.Location(id=URL, refresh=False),
            html.Header(
                className="shell-header",
                children=[
                    html.Div(
                        className="brand",
                        children=[
                            html.Span(ctx.complex.site.name, className="site-name"),
                            html.Span(" · digital twin", className="product"),
                        ],
                    ),
                    html.Nav(
                        [
                            dcc.Link(
                                p.title, href=app.get_relative_path(p.path), className="nav-link"
                            )
                            for p in pages
                        ]
                    ),
                ],
            ),
            html.Main(id=CONTENT, className="shell-content"),
        ],
    )


def route(app: Dash, ctx: DashboardContext, pages: Sequence[Page], pathname: object) -> object:
    """The layout of the page at ``pathname`` (any client value), or a not-found note."""
    path = "/" + app.strip_relative_path(pathname) if isinstance(pathname, str) else "/"
    path = path.rstrip("/") or "/"
    for page in pages:
        if page.path == path:
            return page.layout(ctx)
    return html.Div(
        className="card not-found",
        children=[
            html.H2("Page not found"),
            dcc.Link("Back to the overview", href=app.get_relative_path("/")),
        ],
    )


def register_router(app: Dash, ctx: DashboardContext, pages: Sequence[Page]) -> None:
    @app.callback(Output(CONTENT, "children"), Input(URL, "pathname"))
    def _route(pathname: object) -> object:
        return route(app, ctx, pages, pathname)
