"""WSGI entry for production servers, configured by environment variables.

    gunicorn -w 4 -b 0.0.0.0:8050 'dashboards.wsgi:wsgi_app()'
    waitress-serve --listen=0.0.0.0:8050 --call dashboards.wsgi:wsgi_app

``TWIN_HISTORIAN`` (required), ``TWIN_CONFIG`` (default ``demo``), ``TWIN_BROKER`` (optional),
``TWIN_ALARM_JOURNAL`` (optional: the live twin's ``alarms.jsonl``, for the alarm history),
``TWIN_DASHBOARD_USERS`` (users file: login and roles) with the session key in
``TWIN_DASHBOARD_SECRET_FILE`` or ``TWIN_DASHBOARD_SECRET`` (shared by every worker),
``TWIN_ENV=production`` (refuse weak keys and open local mode, HTTPS-only cookies),
``TWIN_DASHBOARD_HTTPS=1``, ``TWIN_DASHBOARD_PROXY_HOPS``, ``TWIN_DASHBOARD_STATE_DIR``
(login rate limit and audit log, shared by every worker) and ``TWIN_DASHBOARD_AUDIT_LOG``.
A factory, not a module-level app: importing this module opens nothing.
"""

from __future__ import annotations

import os

from flask import Flask

from twin.config import load_complex
from twin.errors import UrlError

__all__ = ["wsgi_app"]


def _auth_from_env(tenants: list[str]):  # type: ignore[no-untyped-def]
    """Login settings from the environment; open local mode without a users file (not in production)."""
    from dashboards.auth.secret import is_production
    from dashboards.auth.setup import DEFAULT_STATE_DIR, AuthSettings, AuthSetupError, build_auth, env_flag

    env = os.environ
    try:
        hops = int(env.get("TWIN_DASHBOARD_PROXY_HOPS") or 0)
    except ValueError:
        raise ValueError(
            f"TWIN_DASHBOARD_PROXY_HOPS must be a whole number, got {env['TWIN_DASHBOARD_PROXY_HOPS']!r}"
        ) from None
    settings = AuthSettings(
        users_file=env.get("TWIN_DASHBOARD_USERS") or None,
        secret_file=env.get("TWIN_DASHBOARD_SECRET_FILE") or None,
        dev_secret=False,  # several workers must share one key, so a random one is never made here
        production=is_production(False, env),
        https=env_flag(env.get("TWIN_DASHBOARD_HTTPS")),
        state_dir=env.get("TWIN_DASHBOARD_STATE_DIR") or DEFAULT_STATE_DIR,
        audit_log=env.get("TWIN_DASHBOARD_AUDIT_LOG") or None,
        proxy_hops=hops,
    )
    try:
        return build_auth(settings, tenants, env)
    except AuthSetupError as exc:
        raise ValueError(str(exc)) from None


def wsgi_app() -> Flask:
    """Build the dashboard app from the environment and return its WSGI server."""
    from dashboards.app import create_app

    historian = os.environ.get("TWIN_HISTORIAN")
    if not historian:
        raise UrlError("TWIN_HISTORIAN is not set; e.g. TWIN_HISTORIAN=sqlite:///data/history.db")
    complex_ = load_complex(os.environ.get("TWIN_CONFIG") or "demo")
    app = create_app(
        complex_,
        historian,
        broker_url=os.environ.get("TWIN_BROKER") or None,
        alarm_journal=os.environ.get("TWIN_ALARM_JOURNAL") or None,
        auth=_auth_from_env([t.id for t in complex_.tenants]),
    )
    return app.server
