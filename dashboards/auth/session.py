"""Server-side login: a signed Flask session, the login form and the checks on every request.

Two modes, chosen when the app is built:

- **login** (``AuthConfig(users=..., secret_key=...)``): every page, layout and
  callback request needs a session made by ``POST /login``; a callback of a page
  the user's role may not open answers 403.
- **open local mode** (``AuthConfig.open_local()``, the laptop demo): no login;
  every request acts as the built-in ``local`` admin and the header says so.

Pages and callbacks ask :func:`current_user`; it reads the session cookie, which the
browser cannot forge without the secret key, and looks the user up in the users
file loaded at start (a user removed from the file loses access at the next start).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from dash import Dash
from flask import current_app, jsonify, redirect, request, session

from dashboards.auth.users import User, UsersFile

__all__ = ["AuthConfig", "LOCAL_USER", "current_user", "install_auth", "safe_next"]

log = logging.getLogger(__name__)

#: Who acts in open local mode (no users file): sees everything, like an admin.
LOCAL_USER = User("local", "admin")

_EXTENSION = "twin_auth"
_SESSION_KEY = "user"
#: Shortest secret key accepted (bytes): shorter keys make session cookies guessable.
MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class AuthConfig:
    """How requests are authenticated: a users file and a secret key, or open local mode."""

    users: UsersFile | None
    secret_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.users is not None and (self.secret_key is None or len(self.secret_key) < MIN_SECRET_BYTES):
            raise ValueError(f"a login needs a secret key of at least {MIN_SECRET_BYTES} bytes")

    @classmethod
    def open_local(cls) -> AuthConfig:
        return cls(users=None)

    @property
    def login_required(self) -> bool:
        return self.users is not None


def current_user() -> User | None:
    """The user of the current request from the server-side session, or None (not logged in)."""
    auth: AuthConfig = current_app.extensions[_EXTENSION]
    if auth.users is None:
        return LOCAL_USER
    return auth.users.get(session.get(_SESSION_KEY))


def safe_next(value: object, default: str) -> str:
    """A local path to go to after login; anything else (other hosts, schemes) gives ``default``."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


_LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · {site}</title>
<link rel="stylesheet" href="{prefix}assets/dashboard.css"></head>
<body class="login-body"><main class="card login-card">
<h1>{site}</h1><p class="muted">digital twin · sign in</p>
{error}
<form method="post" action="{prefix}login" id="login-form">
<input type="hidden" name="next" value="{next}">
<label>Username <input id="login-username" name="username" autocomplete="username" required autofocus></label>
<label>Password <input id="login-password" name="password" type="password"
  autocomplete="current-password" required></label>
<button id="login-submit" type="submit">Sign in</button>
</form></main></body></html>
"""


def install_auth(
    app: Dash,
    auth: AuthConfig,
    site_name: str,
    callback_roles: Mapping[str, frozenset[str]],
    open_paths: tuple[str, ...] = (),
) -> None:
    """Add the login routes and a ``before_request`` check covering every route of ``app``.

    ``callback_roles`` maps a callback output (the key of ``app.callback_map``) to the
    roles that may call it; callbacks not listed need a login only (the router, which
    checks the page itself). ``open_paths`` are served without login (health checks).
    """
    server = app.server
    server.extensions[_EXTENSION] = auth
    prefix = app.config.routes_pathname_prefix
    home = app.config.requests_pathname_prefix
    update_path = prefix + "_dash-update-component"
    public_prefixes = (prefix + "_dash-component-suites/", prefix + "assets/")
    public = {prefix + "login", prefix + "logout", prefix + "_favicon.ico", *open_paths}
    if auth.login_required:
        assert auth.secret_key is not None
        server.secret_key = auth.secret_key
        server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    def login_page(error: str = "", next_path: str = home, status: int = 200):  # type: ignore[no-untyped-def]
        body = _LOGIN_HTML.format(
            site=escape(site_name),
            prefix=home,
            next=escape(next_path, quote=True),
            error=f'<p class="login-error" id="login-error" role="alert">{escape(error)}</p>' if error else "",
        )
        return body, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}

    @server.route(prefix + "login", methods=["GET", "POST"])
    def _login():  # type: ignore[no-untyped-def]
        if not auth.login_required:
            return redirect(home)
        if request.method == "GET":
            return login_page(next_path=safe_next(request.args.get("next"), home))
        next_path = safe_next(request.form.get("next"), home)
        user = auth.users.authenticate(request.form.get("username"), request.form.get("password"))  # type: ignore[union-attr]
        if user is None:
            log.info("failed login for %r from %s", (request.form.get("username") or "")[:40], request.remote_addr)
            # 200, not 401: the form is shown again, and a browser logs a 401 page as a console error
            return login_page("Wrong username or password.", next_path)
        session.clear()  # a new session on every login: no fixation of an older cookie
        session[_SESSION_KEY] = user.username
        log.info("login: %s (%s%s)", user.username, user.role, f", tenant {user.tenant}" if user.tenant else "")
        return redirect(next_path)

    @server.route(prefix + "logout", methods=["GET", "POST"])
    def _logout():  # type: ignore[no-untyped-def]
        session.clear()
        return redirect(prefix + "login" if auth.login_required else home)

    @server.before_request
    def _require_login():  # type: ignore[no-untyped-def]
        path = request.path
        if path in public or path.startswith(public_prefixes):
            return None
        user = current_user()
        if user is None:
            if path.startswith(prefix + "_dash") or request.method != "GET":
                return jsonify(error="login required"), 401
            return redirect(f"{home}login?next={quote(request.full_path.rstrip('?'))}")
        if request.method == "POST" and path == update_path:
            body = request.get_json(silent=True)
            output = body.get("output") if isinstance(body, dict) else None
            roles = callback_roles.get(output) if isinstance(output, str) else None
            if roles is not None and user.role not in roles:
                log.info("denied callback %s to %s (%s)", output, user.username, user.role)
                return jsonify(error="not allowed for this role"), 403
        return None
