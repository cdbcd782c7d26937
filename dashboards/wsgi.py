"""WSGI entry for production servers, configured by environment variables.

    gunicorn -w 4 -b 0.0.0.0:8050 'dashboards.wsgi:wsgi_app()'
    waitress-serve --listen=0.0.0.0:8050 --call dashboards.wsgi:wsgi_app

``TWIN_HISTORIAN`` (required), ``TWIN_CONFIG`` (default ``demo``), ``TWIN_BROKER`` (optional),
``TWIN_ALARM_JOURNAL`` (optional: the live twin's ``alarms.jsonl``, for the alarm history),
``TWIN_DASHBOARD_USERS`` (users file: login and roles) with the session key in
``TWIN_DASHBOARD_SECRET_FILE`` or ``TWIN_DASHBOARD_SECRET`` (shared by every worker).
A factory, not a module-level app: importing this module opens nothing.
"""

from __future__ import annotations

import os

from flask import Flask

from twin.config import load_complex
from twin.errors import UrlError

__all__ = ["wsgi_app"]


def _auth_from_env(tenants: list[str]):  # type: ignore[no-untyped-def]
    """Login settings from the environment; open local mode without a users file."""
    from pathlib import Path

    from dashboards.auth.session import AuthConfig
    from dashboards.auth.users import load_users

    users_file = os.environ.get("TWIN_DASHBOARD_USERS")
    if not users_file:
        return AuthConfig.open_local()
    key_file = os.environ.get("TWIN_DASHBOARD_SECRET_FILE")
    key = Path(key_file).read_bytes().strip() if key_file else os.environ.get("TWIN_DASHBOARD_SECRET", "").encode()
    if not key:
        # several workers must share one key, so a random one is never made here
        raise ValueError("TWIN_DASHBOARD_USERS needs TWIN_DASHBOARD_SECRET_FILE or TWIN_DASHBOARD_SECRET")
    return AuthConfig(load_users(users_file, tenants), key)


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
