"""``twin dashboard``: serve the dashboards over HTTP."""

from __future__ import annotations

import ipaddress
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
    help="MQTT broker of the live twin (mqtt://host:port): the alarm console and the tenant "
    "portal's alarms read and act through it. Without it they say so. [env: TWIN_BROKER]",
)
@click.option(
    "--alarm-journal",
    envvar="TWIN_ALARM_JOURNAL",
    default=None,
    type=click.Path(dir_okay=False),
    help="The live twin's alarm journal (DATA_DIR/alarms.jsonl of `twin live --data-dir`), read-only: "
    "the alarm console's history reads it. Without it the history says so. [env: TWIN_ALARM_JOURNAL]",
)
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True, help="TCP port.")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Request threads of the waitress server.",
)
@click.option(
    "--users",
    "users_file",
    envvar="TWIN_DASHBOARD_USERS",
    default=None,
    type=click.Path(dir_okay=False),
    help="Users file (YAML, argon2 hashes; write it with `twin dashboard-user add`). Turns on "
    "login and roles. Without it: open local mode, no login. [env: TWIN_DASHBOARD_USERS]",
)
@click.option(
    "--secret-file",
    envvar="TWIN_DASHBOARD_SECRET_FILE",
    default=None,
    type=click.Path(dir_okay=False),
    help="File holding the session signing key (make one with `twin dashboard-user secret FILE`); "
    "or set TWIN_DASHBOARD_SECRET. Never given on the command line. [env: TWIN_DASHBOARD_SECRET_FILE]",
)
@click.option(
    "--dev-secret",
    is_flag=True,
    help="Development/demo only: sign sessions with a random key made at start "
    "(everyone is logged out on restart; several workers would not share it). Refused with --production.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Production mode (also TWIN_ENV=production): refuse to start without --users, with "
    "--dev-secret, or with a weak, default or short (< 32 bytes) session key; cookies are HTTPS-only.",
)
@click.option(
    "--https",
    "https",
    is_flag=True,
    envvar="TWIN_DASHBOARD_HTTPS",
    help="Served to browsers over HTTPS (a TLS reverse proxy in front): session cookie Secure, HSTS on. "
    "[env: TWIN_DASHBOARD_HTTPS=1]",
)
@click.option(
    "--proxy-hops",
    type=click.IntRange(0, 10),
    default=0,
    envvar="TWIN_DASHBOARD_PROXY_HOPS",
    show_default=True,
    help="Reverse proxies in front that set X-Forwarded-For/-Proto/-Host: trust that many "
    "(client address for the login limit and the audit log). 0: trust none. [env: TWIN_DASHBOARD_PROXY_HOPS]",
)
@click.option(
    "--state-dir",
    envvar="TWIN_DASHBOARD_STATE_DIR",
    default="twin-data/dashboard",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory of the login rate limit (SQLite, shared by workers) and the audit log. "
    "[env: TWIN_DASHBOARD_STATE_DIR]",
)
@click.option(
    "--audit-log",
    envvar="TWIN_DASHBOARD_AUDIT_LOG",
    default=None,
    type=click.Path(dir_okay=False),
    help="Audit log (JSON lines: logins, logouts, alarm actions). [default: STATE_DIR/audit.jsonl] "
    "[env: TWIN_DASHBOARD_AUDIT_LOG]",
)
@log_level_option
def dashboard(
    historian: str,
    broker: str | None,
    alarm_journal: str | None,
    config: str,
    host: str,
    port: int,
    threads: int,
    users_file: str | None,
    secret_file: str | None,
    dev_secret: bool,
    production: bool,
    https: bool,
    proxy_hops: int,
    state_dir: str,
    audit_log: str | None,
    log_level: str,
) -> None:
    """Serve the live dashboard: site map coloured by data freshness and sensor trends.

    \b
    Open http://HOST:PORT/ in a browser; GET /health answers JSON for health checks.
    With --users, everyone signs in at /login and sees what the role allows.
    Served by waitress (a production WSGI server); for several worker processes run
    gunicorn 'dashboards.wsgi:wsgi_app()' (see docs/dashboards.md). Behind an HTTPS
    reverse proxy use --production (or --https) and --proxy-hops 1 (docs/security.md).
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
    from dashboards.auth.secret import is_production
    from dashboards.auth.setup import AuthSettings

    settings = AuthSettings(
        users_file=users_file,
        secret_file=secret_file,
        dev_secret=dev_secret,
        production=is_production(production),
        https=https,
        state_dir=state_dir,
        audit_log=audit_log,
        proxy_hops=proxy_hops,
    )
    auth = _auth_config(settings, [t.id for t in complex_.tenants], host)

    from dashboards.app import create_app  # dash is slow to import: only when serving
    from dashboards.serve import serve

    app = create_app(complex_, historian, broker_url=broker, alarm_journal=alarm_journal, auth=auth)
    try:
        serve(app, host, port, threads=threads, proxy_headers=proxy_hops > 0)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth_config(settings, tenants: list[str], host: str):  # type: ignore[no-untyped-def]
    """Login settings from the flags; fails fast on a bad users file, a missing or weak key."""
    from dashboards.auth.setup import AuthSetupError, build_auth

    if settings.users_file is None and not settings.production:
        level = logging.INFO if _is_loopback(host) else logging.WARNING
        log.log(
            level,
            "open local mode: no login, every visitor acts as admin%s; start with --users FILE for logins",
            "" if _is_loopback(host) else f" (and {host} is reachable from other machines)",
        )
    try:
        return build_auth(settings, tenants)
    except AuthSetupError as exc:
        if exc.option == "--secret-file" and "no session key" in str(exc):
            raise click.UsageError(f"--users needs a session key: {exc}") from None
        raise click.BadParameter(str(exc), param_hint=exc.option) from None


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
