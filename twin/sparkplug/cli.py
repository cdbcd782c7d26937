"""``twin sparkplug``: store Sparkplug B edge nodes' data in the historian, losing nothing."""

from __future__ import annotations

import logging
import signal
import socket
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
from twin.ingest.spool import DEFAULT_SPOOL_BYTES
from twin.urls import parse_broker_url

__all__ = ["sparkplug"]

log = logging.getLogger(__name__)


def _default_client_id() -> str:
    host = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())[:40]
    return f"twin-sparkplug-{host or 'host'}"


@click.command("sparkplug")
@broker_option
@historian_option
@config_option
@click.option(
    "--map",
    "map_path",
    envvar="TWIN_SPARKPLUG_MAP",
    required=True,
    metavar="PATH",
    help="Sparkplug mapping YAML: group/edge node/device/metric -> sensor (docs/devices.md) "
    "[env: TWIN_SPARKPLUG_MAP]",
)
@click.option(
    "--host-id",
    default="twin",
    show_default=True,
    help="Primary host id: STATE is published on spBv1.0/STATE/ID so edge nodes configured "
    "with it store and forward while the twin is away. '' publishes no STATE.",
)
@click.option(
    "--client-id",
    default=None,
    metavar="ID",
    help="Stable MQTT client id (default twin-sparkplug-HOSTNAME): the broker keeps its session.",
)
@click.option(
    "--group",
    default="",
    help="Share the stream with other processes ($share/GROUP/spBv1.0/#, MQTT 5). "
    "Births and data of one edge node must reach the same process, so leave this empty "
    "unless the broker shares by client (not Mosquitto's round robin).",
)
@click.option(
    "--spool-dir",
    default="twin-data/sparkplug-spool",
    show_default=True,
    type=click.Path(file_okay=False),
    help="On-disk spool while the historian is away; the decoder state is saved here too.",
)
@click.option(
    "--spool-max-mb",
    type=click.FloatRange(0.01, 10_000_000),
    default=DEFAULT_SPOOL_BYTES / 2**20,
    show_default=True,
    help="Spool size limit in MiB.",
)
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve /metrics and /health on this port. Off by default.",
)
@click.option("--http-host", default="127.0.0.1", show_default=True)
@log_level_option
def sparkplug(
    broker: str,
    historian: str,
    config: str,
    map_path: str,
    host_id: str,
    client_id: str | None,
    group: str,
    spool_dir: str,
    spool_max_mb: float,
    http_port: int | None,
    http_host: str,
    log_level: str,
) -> None:
    """Decode Sparkplug B (spBv1.0/#) and store mapped metrics in the historian.

    Same rules as `twin ingest`: a message is acknowledged once its readings are in the
    historian or the spool; unmapped or bad metrics go to the dead letters; DEATH marks
    sensors stale (docs/devices.md).
    """
    setup_logging(log_level)
    url = parse_broker_url(broker)
    complex_ = load_complex(config)
    from twin.sparkplug.mapping import load_sparkplug_map

    mapping = load_sparkplug_map(map_path, complex_)
    from twin.ingest.service import IngestSettings
    from twin.sparkplug.service import SparkplugSettings, SparkplugWorker

    cid = client_id or _default_client_id()
    settings = SparkplugSettings(
        ingest=IngestSettings(
            broker=url,
            historian_url=historian,
            client_id=cid,
            spool_dir=Path(spool_dir) / cid,
            spool_bytes=int(spool_max_mb * 2**20),
            group=group or None,
            http_host=http_host,
            http_port=http_port,
        ),
        host_id=host_id or None,
    )
    worker = SparkplugWorker(complex_, mapping, settings)
    log.info(
        "Sparkplug mapping %s: %d edge node(s), %d sensor(s)",
        map_path,
        len(mapping.nodes),
        mapping.sensor_count,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
