"""Serve the app over HTTP: waitress (a production WSGI server) when installed, else Dash's own."""

from __future__ import annotations

import logging
import signal
from types import FrameType

from dash import Dash

__all__ = ["DEFAULT_THREADS", "serve"]

log = logging.getLogger(__name__)

#: Request threads: each browser polls two callbacks every 2 s, so 8 covers a control room.
DEFAULT_THREADS = 8


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # leave the serve loop the same way Ctrl-C does


def serve(app: Dash, host: str, port: int, threads: int = DEFAULT_THREADS, proxy_headers: bool = False) -> None:
    """Serve until Ctrl-C or SIGTERM. Raises OSError when ``host:port`` cannot be bound.

    ``proxy_headers``: pass ``X-Forwarded-*`` through to the app, which trusts only as many
    hops as it was told (``AuthConfig.proxy_hops``); otherwise waitress strips them.
    """
    try:
        from waitress import create_server
    except ImportError:
        log.warning("waitress is not installed; serving with Dash's development server")
        app.run(host=host, port=port, debug=False)
        return
    server = create_server(
        app.server,
        host=host,
        port=port,
        threads=threads,
        ident="sandan-twin",
        clear_untrusted_proxy_headers=not proxy_headers,
    )
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log.info("dashboard listening on http://%s:%s/ (waitress, %d threads)", host, port, threads)
    try:
        server.run()  # returns after Ctrl-C or SIGTERM (waitress catches KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    log.info("dashboard stopped")
