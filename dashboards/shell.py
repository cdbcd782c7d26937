"""The app shell: header, navigation and the router that puts a page under it.

Routing is a callback on ``dcc.Location`` rather than Dash's global page registry,
so several apps (tests, workers) can live in one process, and the role check has
one place to run before any page is rendered. The header and the router ask the
server-side session who is looking (:func:`dashboards.auth.session.current_user`).

The first page of a visit comes with the layout itself: the browser's request for
the layout names the page it was loaded from (its Referer, sent for same-origin
requests), so the shell routes it there and then, and the router's first call, which
finds that page already shown, sends nothing. That saves one round trip and one
render of every page's first load (docs/benchmarks.md, *Dashboard*). Without a
usable Referer the router renders the page as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import UnsupportedRelativePath
from flask import has_request_context, request

from dashboards.auth.session import LOCAL_USER, csrf_token, current_user
from dashboards.auth.users import User
from dashboards.context import DashboardContext
from dashboards.pages import Page

__all__ = [
    "URL",
    "CONTENT",
    "ROUTED",
    "USER_BADGE",
    "shell_layout",
    "route",
    "page_path",
    "referred_path",
    "register_router",
    "allowed_pages",
]

URL = "shell-url"
CONTENT = "shell-content"
#: The page path whose layout the content holds (set by the shell and the router).
ROUTED = "shell-routed"
USER_BADGE = "shell-user"


def allowed_pages(pages: Sequence[Page], user: User | None) -> list[Page]:
    """The pages ``user`` may open (none when not logged in)."""
    return [p for p in pages if user is not None and user.role in p.roles]


def _user_badge(app: Dash, user: User | None, login_required: bool) -> html.Div:
    if not login_required:
        return html.Div(
            id=USER_BADGE,
            className="user-badge open-mode",
            children="Open local mode · no login (start with --users for logins)",
        )
    if user is None:
        return html.Div(id=USER_BADGE, className="user-badge")
    who = f"{user.username} · {user.role}" + (f" · {user.tenant}" if user.tenant else "")
    return html.Div(
        id=USER_BADGE,
        className="user-badge",
        children=[
            html.Span(who, className="user-name"),
            # A form POST with the session's CSRF token: a plain link would let any page sign
            # the operator out (dashboards/auth/session.py, /logout).
            html.Form(
                action=app.get_relative_path("/logout"),
                method="post",
                className="logout-form",
                children=[
                    dcc.Input(type="hidden", name="csrf_token", value=csrf_token(), id="logout-csrf"),
                    html.Button("Sign out", type="submit", className="logout-link", id="logout-button"),
                ],
            ),
        ],
    )


def shell_layout(
    app: Dash,
    ctx: DashboardContext,
    pages: Sequence[Page],
    user: User | None = LOCAL_USER,
    login_required: bool = False,
    content: object = None,
    routed: str | None = None,
) -> html.Div:
    """Header with the site name, the pages ``user`` may open and who is signed in; below it
    ``content``, the layout of the page at ``routed`` (None: the router fills it in)."""
    return html.Div(
        className="shell",
        children=[
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=ROUTED, data=routed),
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
                            dcc.Link(p.title, href=app.get_relative_path(p.path), className="nav-link")
                            for p in allowed_pages(pages, user)
                        ]
                    ),
                    _user_badge(app, user, login_required),
                ],
            ),
            html.Main(id=CONTENT, className="shell-content", children=content),
        ],
    )


def session_shell(app: Dash, ctx: DashboardContext, pages: Sequence[Page], login_required: bool):  # type: ignore[no-untyped-def]
    """``app.layout`` as a function: the shell for whoever the session says is asking."""

    def _layout() -> html.Div:
        if not has_request_context():  # Dash's own checks at start-up
            return shell_layout(app, ctx, pages, None, login_required)
        user = current_user()
        path = referred_path(app) if user is not None else None
        content = route(app, ctx, pages, path, user) if path is not None else None
        return shell_layout(app, ctx, pages, user, login_required, content, path)

    return _layout


def page_path(app: Dash, pathname: object) -> str | None:
    """The page path (``/``, ``/alarms``, ...) of a browser path (any client value); None when
    it is not a path of this app (outside its prefix). A value that is no string: ``/``."""
    if not isinstance(pathname, str):
        return "/"
    try:
        path = "/" + app.strip_relative_path(pathname)
    except UnsupportedRelativePath:
        return None
    return path.rstrip("/") or "/"


def referred_path(app: Dash) -> str | None:
    """The page path of the page that sent this request (its same-origin Referer), or None."""
    referrer = request.referrer
    if not referrer:
        return None
    try:
        url = urlsplit(referrer)
    except ValueError:
        return None
    if url.netloc != request.host:
        return None
    return page_path(app, url.path or "/")


def route(
    app: Dash,
    ctx: DashboardContext,
    pages: Sequence[Page],
    pathname: object,
    user: User | None = LOCAL_USER,
) -> object:
    """The layout of the page at ``pathname`` (any client value) if ``user`` may open it."""
    path = page_path(app, pathname)
    allowed = allowed_pages(pages, user)
    for page in pages:
        if page.path != path:
            continue
        if page in allowed:
            return page.layout(ctx, user)
        if path == "/" and allowed:  # the home of a role without the overview: its first page
            return allowed[0].layout(ctx, user)
        return html.Div(
            className="card not-allowed",
            children=[
                html.H2("Not available for your role"),
                *[
                    dcc.Link(f"Open {p.title}", href=app.get_relative_path(p.path), className="nav-link")
                    for p in allowed
                ],
            ],
        )
    return html.Div(
        className="card not-found",
        children=[
            html.H2("Page not found"),
            dcc.Link("Back to the start page", href=app.get_relative_path("/")),
        ],
    )


def register_router(app: Dash, ctx: DashboardContext, pages: Sequence[Page]) -> None:
    @app.callback(
        Output(CONTENT, "children"), Output(ROUTED, "data"), Input(URL, "pathname"), State(ROUTED, "data")
    )
    def _route(pathname: object, routed: object) -> tuple[object, object]:
        path = page_path(app, pathname)
        if path is not None and path == routed:  # already shown (the layout came with it): send nothing
            return no_update, no_update
        return route(app, ctx, pages, pathname, current_user()), path
