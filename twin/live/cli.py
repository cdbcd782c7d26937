"""``twin live``: the live twin service (state snapshots, alarms, live KPIs)."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from pathlib import Path

import click

from twin.cli_options import (
    broker_option,
    config_option,
    historian_option,
    log_level_option,
    setup_logging,
)
from twin.config import load_complex
from twin.urls import parse_broker_url

__all__ = ["live"]

log = logging.getLogger(__name__)


def _default_client_id() -> str:
    host = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())[:40]
    return f"twin-live-{host or 'host'}"


@click.command("live")
@broker_option
@historian_option
@config_option
@click.option(
    "--data-dir",
    default="twin-data/live",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory of the alarm journal (alarms.jsonl). Keep it: it is the alarm state.",
)
@click.option(
    "--client-id",
    default=None,
    metavar="ID",
    help="Stable MQTT client id (default twin-live-HOSTNAME); the broker keeps its session, "
    "so a restarted live twin gets the readings it missed.",
)
@click.option(
    "--snapshot-interval",
    type=click.FloatRange(0.2, 3600),
    default=2.0,
    show_default=True,
    help="Seconds between retained state snapshots.",
)
@click.option(
    "--kpi-interval",
    type=click.FloatRange(1, 86_400),
    default=10.0,
    show_default=True,
    help="Seconds between KPI writes to the historian.",
)
@log_level_option
def live(
    broker: str,
    historian: str,
    config: str,
    data_dir: str,
    client_id: str | None,
    snapshot_interval: float,
    kpi_interval: float,
    log_level: str,
) -> None:
    """Keep the live state of the complex, raise and manage alarms, compute live KPIs.

    Reads telemetry and alarm commands from the broker; publishes retained state
    snapshots, alarm events and open-alarm lists (docs/live.md, docs/alarms.md) and
    writes KPIs to the historian. SIGTERM or Ctrl-C stop cleanly; after any stop,
    even kill -9, a restart with the same --data-dir has the same alarms.
    """
    setup_logging(log_level)
    url = parse_broker_url(broker)
    complex_ = load_complex(config)
    from twin.live.service import LiveService, LiveSettings

    service = LiveService(
        complex_,
        LiveSettings(
            broker=url,
            historian_url=historian,
            data_dir=Path(data_dir),
            client_id=client_id or _default_client_id(),
            snapshot_interval_s=snapshot_interval,
            kpi_interval_s=kpi_interval,
        ),
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.stop())
    service.run()
    if service.fatal is not None:
        sys.exit(1)
