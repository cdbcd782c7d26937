"""``twin dashboard``: serve the dashboards over HTTP."""

from __future__ import annotations

import logging

import click

from twin.cli_options import config_option, historian_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.errors import ConfigError, HistorianUnavailable, UrlError
from twin.urls import parse_broker_url, redact

__all__ = ["dashboard"]

log = logging.getLogger(__name__)


@click.command("dashboard")
@historian_option
@click.option(
    "--broker",
    envvar="TWIN_BROKER",
    default=None,
    metavar="URL",
    help="MQTT broker (mqtt://host:port). Accepted and checked for the live state of a later "
    "release; not used yet: the dashboard reads the historian only. [env: TWIN_BROKER]",
)
@config_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8050, show_default=True, help="TCP port."
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Request threads of the waitress server.",
)
@log_level_option
def dashboard(
    historian: str,
    broker: str | None,
    config: str,
    host: str,
    port: int,
    threads: int,
    log_level: str,
) -> None:
    """Serve the live dashboard: site map coloured by data freshness and sensor trends.

    \b
    Open http://HOST:PORT/ in a browser; GET /health answers JSON for health checks.
    Served by waitress (a production WSGI server); for several worker processes run
    gunicorn 'dashboards.wsgi:wsgi_app()' (see docs/dashboards.md).
    """
    setup_logging(log_level)
    try:
        complex_ = load_complex(config)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    if broker:
        try:
            parse_broker_url(broker)
        except UrlError as exc:
            raise click.BadParameter(str(exc), param_hint="--broker") from None
    _check_historian(historian)

    from dashboards.app import create_app  # dash is slow to import: only when serving
    from dashboards.serve import serve

    app = create_app(complex_, historian, broker_url=broker)
    try:
        serve(app, host, port, threads=threads)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None


def _check_historian(url: str) -> None:
    """Fail fast on a bad URL; only warn when the store is not there yet (ingest creates it)."""
    from twin.historian import open_historian

    try:
        open_historian(url, readonly=True).close()
    except UrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--historian") from None
    except HistorianUnavailable as exc:
        log.warning(
            "historian %s not readable yet (%s); the dashboard retries on every refresh",
            redact(url),
            exc,
        )
