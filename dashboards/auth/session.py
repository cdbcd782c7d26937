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

The login form carries a CSRF token bound to the session; failed logins are
rate-limited per username and per client address (:mod:`dashboards.ratelimit`,
shared by every worker); logins and logouts go to the audit log
(:mod:`dashboards.audit`). See docs/security.md for what each control stops.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from pathlib import Path
from urllib.parse import quote

from dash import Dash
from flask import current_app, jsonify, redirect, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboards.audit import AUDIT_EXTENSION, AuditLog
from dashboards.auth.users import User, UsersFile
from dashboards.ratelimit import LoginLimit, LoginLimiter, Refused

__all__ = ["AuthConfig", "LOCAL_USER", "current_user", "install_auth", "safe_next"]

log = logging.getLogger(__name__)

#: Who acts in open local mode (no users file): sees everything, like an admin.
LOCAL_USER = User("local", "admin")

_EXTENSION = "twin_auth"
_SESSION_KEY = "user"
_CSRF_KEY = "csrf"
#: Shortest secret key accepted (bytes): shorter keys make session cookies guessable.
MIN_SECRET_BYTES = 16
#: A session unused for this long ends (the pages poll, so an open screen stays signed in).
SESSION_IDLE_TIMEOUT = timedelta(hours=12)
#: Longest username looked up; longer ones fail like a wrong password (and are counted).
MAX_USERNAME_CHARS = 150


@dataclass(frozen=True)
class AuthConfig:
    """How requests are authenticated: a users file and a secret key, or open local mode.

    ``secure_cookies``: the session cookie is sent over HTTPS only (and HSTS is set);
    on when served through an HTTPS reverse proxy. ``state_dir``: where the login
    rate limit keeps its SQLite file, shared by every worker (None: a private
    temporary directory, fine for one process). ``audit_path``: the JSON-lines audit
    log (None: ``state_dir/audit.jsonl`` when ``state_dir`` is given, else the
    ``dashboards.audit`` logger only). ``proxy_hops``: how many reverse proxies in
    front set ``X-Forwarded-For``/``-Proto``/``-Host`` (0: trust none).
    """

    users: UsersFile | None
    secret_key: bytes | None = field(default=None, repr=False)
    secure_cookies: bool = False
    state_dir: Path | None = None
    audit_path: Path | None = None
    login_limit: LoginLimit = field(default_factory=LoginLimit)
    proxy_hops: int = 0

    def __post_init__(self) -> None:
        if self.users is not None and (self.secret_key is None or len(self.secret_key) < MIN_SECRET_BYTES):
            raise ValueError(f"a login needs a secret key of at least {MIN_SECRET_BYTES} bytes")
        if not 0 <= self.proxy_hops <= 10:
            raise ValueError(f"proxy_hops must be 0..10, got {self.proxy_hops}")

    @classmethod
    def open_local(cls, **options: object) -> AuthConfig:
        return cls(users=None, **options)  # type: ignore[arg-type]

    @property
    def login_required(self) -> bool:
        return self.users is not None

    @property
    def audit_file(self) -> Path | None:
        """Where audit events are appended, or None (logger only)."""
        if self.audit_path is not None:
            return Path(self.audit_path)
        return Path(self.state_dir) / "audit.jsonl" if self.state_dir is not None else None


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
<input type="hidden" name="csrf_token" value="{csrf}">
<label>Username <input id="login-username" name="username" autocomplete="username" required autofocus
  maxlength="{max_user}"></label>
<label>Password <input id="login-password" name="password" type="password"
  autocomplete="current-password" required></label>
<button id="login-submit" type="submit">Sign in</button>
</form></main></body></html>
"""


_LOGOUT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out · {site}</title>
<link rel="stylesheet" href="{prefix}assets/dashboard.css"></head>
<body class="login-body"><main class="card login-card">
<h1>{site}</h1>
{error}
<form method="post" action="{prefix}logout" id="logout-form">
<input type="hidden" name="csrf_token" value="{csrf}">
<button id="logout-submit" type="submit">Sign out</button>
</form>
<p><a href="{prefix}">Back to the dashboard</a></p>
</main></body></html>
"""


def csrf_token() -> str:
    """The session's anti-forgery token for forms (sign-in, sign-out), kept in the signed
    session cookie; created on first use."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def _csrf_ok(sent: object) -> bool:
    expected = session.get(_CSRF_KEY)
    if not isinstance(sent, str) or not isinstance(expected, str) or len(expected) < 32:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


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
    if auth.proxy_hops:
        # the client address and scheme the proxy saw, for the rate limit, the audit log and redirects
        n = auth.proxy_hops
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    audit = AuditLog(auth.audit_file)
    server.extensions[AUDIT_EXTENSION] = audit
    prefix = app.config.routes_pathname_prefix
    home = app.config.requests_pathname_prefix
    update_path = prefix + "_dash-update-component"
    public_prefixes = (prefix + "_dash-component-suites/", prefix + "assets/")
    public = {prefix + "login", prefix + "logout", prefix + "_favicon.ico", *open_paths}
    limiter: LoginLimiter | None = None
    if auth.login_required:
        assert auth.secret_key is not None
        server.secret_key = auth.secret_key
        server.config.update(
            SESSION_COOKIE_HTTPONLY=True,  # no script can read it
            SESSION_COOKIE_SAMESITE="Lax",  # not sent with cross-site POSTs
            SESSION_COOKIE_SECURE=auth.secure_cookies,
            PERMANENT_SESSION_LIFETIME=SESSION_IDLE_TIMEOUT,
        )
        state_dir = Path(auth.state_dir) if auth.state_dir else Path(tempfile.mkdtemp(prefix="twin-dashboard-"))
        limiter = LoginLimiter(state_dir / "login-attempts.sqlite3", auth.login_limit)

    def login_page(error: str = "", next_path: str = home, status: int = 200, headers: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
        body = _LOGIN_HTML.format(
            site=escape(site_name),
            prefix=home,
            next=escape(next_path, quote=True),
            csrf=escape(csrf_token(), quote=True),
            max_user=MAX_USERNAME_CHARS,
            error=f'<p class="login-error" id="login-error" role="alert">{escape(error)}</p>' if error else "",
        )
        extra = dict(headers or {})
        return body, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", **extra}

    @server.route(prefix + "login", methods=["GET", "POST"])
    def _login():  # type: ignore[no-untyped-def]
        if not auth.login_required or limiter is None or auth.users is None:
            return redirect(home)
        if request.method == "GET":
            return login_page(next_path=safe_next(request.args.get("next"), home))
        next_path = safe_next(request.form.get("next"), home)
        ip = request.remote_addr
        if not _csrf_ok(request.form.get("csrf_token")):
            log.info("login form without a valid CSRF token from %s", ip)
            session.pop(_CSRF_KEY, None)
            return login_page("The sign-in form expired or came from another site. Please sign in again.",
                              next_path, 400)
        username, password = request.form.get("username"), request.form.get("password")
        if not username or not password:
            return login_page("Enter a username and a password.", next_path, 400)
        verdict = limiter.attempt(username, ip)
        if isinstance(verdict, Refused):
            audit.login(False, username, ip, reason=f"rate_limited_{verdict.key_kind}")
            return login_page(
                f"Too many failed sign-ins. Try again in {verdict.retry_after_s} s.",
                next_path,
                429,
                {"Retry-After": str(verdict.retry_after_s)},
            )
        user = auth.users.authenticate(username, password) if len(username) <= MAX_USERNAME_CHARS else None
        if user is None:
            audit.login(False, username, ip, reason="wrong_credentials")
            # 200, not 401: the form is shown again, and a browser logs a 401 page as a console error
            return login_page("Wrong username or password.", next_path)
        limiter.succeeded(verdict, username)
        session.clear()  # a new session on every login: no fixation of an older cookie
        session.permanent = True  # ends after SESSION_IDLE_TIMEOUT without a request
        session[_SESSION_KEY] = user.username
        # The sign-out form's token, made here and only read afterwards: the page's parallel
        # requests each send back the cookie they came with, so a token first written by one
        # of them (the layout) could be overwritten by another's reply and lost.
        session[_CSRF_KEY] = secrets.token_urlsafe(32)
        audit.login(True, user.username, ip)
        log.info("login: %s (%s%s)", user.username, user.role, f", tenant {user.tenant}" if user.tenant else "")
        return redirect(next_path)

    def logout_page(error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
        body = _LOGOUT_HTML.format(
            site=escape(site_name),
            prefix=home,
            csrf=escape(csrf_token(), quote=True),
            error=f'<p class="login-error" id="logout-error" role="alert">{escape(error)}</p>' if error else "",
        )
        return body, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}

    @server.route(prefix + "logout", methods=["GET", "POST"])
    def _logout():  # type: ignore[no-untyped-def]
        # Signing out changes state, so only a POST with the session's CSRF token does it: a
        # link or image on another site (a GET, or a POST without the token) cannot sign an
        # operator out of the wall screen. A GET shows the sign-out button.
        if not auth.login_required:
            return redirect(home)
        if request.method == "GET":
            return logout_page()
        if not _csrf_ok(request.form.get("csrf_token")):
            log.info("sign-out without a valid CSRF token from %s", request.remote_addr)
            return logout_page("The sign-out form expired or came from another site: you are still signed in.", 400)
        user = current_user()
        session.clear()
        if user is not None:
            audit.logout(user.username, request.remote_addr)
        return redirect(prefix + "login")

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
