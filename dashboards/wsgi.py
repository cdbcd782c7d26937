"""WSGI entry for production servers, configured by environment variables.

    gunicorn -w 4 -b 0.0.0.0:8050 'dashboards.wsgi:wsgi_app()'
    waitress-serve --listen=0.0.0.0:8050 --call dashboards.wsgi:wsgi_app

``TWIN_HISTORIAN`` (required), ``TWIN_CONFIG`` (default ``demo``), ``TWIN_BROKER`` (optional).
A factory, not a module-level app: importing this module opens nothing.
"""

from __future__ import annotations

import os

from flask import Flask

from twin.config import load_complex
from twin.errors import UrlError

__all__ = ["wsgi_app"]


def wsgi_app() -> Flask:
    """Build the dashboard app from the environment and return its WSGI server."""
    from dashboards.app import create_app

    historian = os.environ.get("TWIN_HISTORIAN")
    if not historian:
        raise UrlError("TWIN_HISTORIAN is not set; e.g. TWIN_HISTORIAN=sqlite:///data/history.db")
    complex_ = load_complex(os.environ.get("TWIN_CONFIG") or "demo")
    app = create_app(complex_, historian, broker_url=os.environ.get("TWIN_BROKER") or None)
    return app.server
