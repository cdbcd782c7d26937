"""Security headers on every response of the dashboard: CSP, framing, sniffing, referrer, caching.

The Content-Security-Policy allows scripts only from the app's own origin (Dash serves
its bundles locally, ``serve_locally=True``; JavaScript of pages lives in
``dashboards/assets/``) plus the hashes of Dash's own inline scripts
(``Dash.csp_hashes()``: the renderer start-up and any inline clientside callback).
No ``'unsafe-inline'`` for scripts, so markup injected into a page cannot run.
``'unsafe-eval'`` is needed, and only for this: Plotly's WebGL traces (``Scattergl``, used
for long trends) compile their drawing code with ``new Function`` (the regl library);
without it the trend stays empty and Chromium reports ``script-src eval`` violations
(``tests/test_dashboard_security_browser.py`` checks every page in a real Chromium).
It lets the app's own scripts evaluate strings; it does not let anyone add a script.
Plotly's "strict" bundle would avoid it but is not shipped with the ``plotly`` package
Dash serves. Styles need ``'unsafe-inline'``: Plotly and the Dash components write
``<style>`` elements and style attributes at run time; a style cannot run code.
"""

from __future__ import annotations

from collections.abc import Iterable

from dash import Dash
from flask import Response, request

__all__ = ["content_security_policy", "install_security_headers", "security_headers"]


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The CSP header value: own origin only, Dash's inline scripts by hash, no framing."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes, "'unsafe-eval'"],  # eval: Plotly WebGL (module doc)
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],  # Plotly's mode bar icons and PNG export
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(csp: str, hsts: bool) -> dict[str, str]:
    """Headers every response gets (``hsts``: only when served over HTTPS)."""
    headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def install_security_headers(app: Dash, hsts: bool = False) -> None:
    """Add the security headers to every response of ``app``; ``no-store`` on all but static files.

    Dash's bundles and ``assets/`` are the same for everyone and may be cached; pages,
    layouts and callback answers carry user data and are never stored.
    """
    server = app.server
    prefix = app.config.routes_pathname_prefix
    static = (prefix + "_dash-component-suites/", prefix + "assets/", prefix + "_favicon.ico")
    cache: dict[str, dict[str, str]] = {}  # per process, the same for every user: computed once

    @server.after_request
    def _add_security_headers(response: Response) -> Response:
        if "headers" not in cache:
            cache["headers"] = security_headers(content_security_policy(app.csp_hashes()), hsts)
        for name, value in cache["headers"].items():
            response.headers.setdefault(name, value)
        if not request.path.startswith(static):
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
            response.headers.pop("ETag", None)
        return response
