"""Options shared by every ``twin`` subcommand, so flags and env vars stay consistent."""

from __future__ import annotations

import click

__all__ = ["broker_option", "historian_option", "config_option", "log_level_option", "setup_logging"]

broker_option = click.option(
    "--broker",
    envvar="TWIN_BROKER",
    required=True,
    metavar="URL",
    help="MQTT broker: mqtt://[user:pass@]host:port[?protocol=5|3.1.1] or mqtts://... "
    "[env: TWIN_BROKER; password also from TWIN_MQTT_PASSWORD]",
)
historian_option = click.option(
    "--historian",
    envvar="TWIN_HISTORIAN",
    required=True,
    metavar="URL",
    help="Historian: sqlite:///abs/path.db or sqlite://rel/path.db; "
    "influxdb://host:8086/BUCKET?org=ORG (InfluxDB 2.x; token from INFLUXDB_TOKEN, "
    "TWIN_INFLUXDB_TOKEN_FILE or ?token_file=PATH); influxdbs://... for TLS; "
    "influxdb://[user:pass@]host:8086/DATABASE?api=v1 (InfluxDB 1.x). "
    "Retention: ?keep_raw=35d&keep_1m=400d&keep_1h=inf. See docs/historian.md [env: TWIN_HISTORIAN]",
)
config_option = click.option(
    "--config",
    envvar="TWIN_CONFIG",
    default="demo",
    show_default=True,
    metavar="PATH",
    help="Complex config YAML; 'demo' and 'tiny' name the shipped ones [env: TWIN_CONFIG]",
)
log_level_option = click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Logging threshold.",
)


def setup_logging(level: str) -> None:
    """Structured-enough logs: time, level, logger, message; one line each."""
    import logging

    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
