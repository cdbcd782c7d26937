"""``twin bridge opcua|modbus``: a plant's OPC UA server or Modbus TCP device -> the MQTT contract."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
from pathlib import Path

import click

from twin.cli_options import broker_option, config_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.ingest.spool import DEFAULT_SPOOL_BYTES
from twin.mqtt import unique_client_id
from twin.urls import parse_broker_url

__all__ = ["bridge"]

log = logging.getLogger(__name__)


def _spool_dir(base: str | None, kind: str, source: str) -> Path:
    """One spool per bridge: by default named after the source it reads."""
    if base:
        return Path(base)
    return Path("twin-data") / "bridge-spool" / (kind + "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", source).strip("-"))


map_option = click.option(
    "--map", "map_path", required=True, metavar="PATH", help="Mapping YAML: source value -> sensor (docs/devices.md)."
)
spool_options = [
    click.option(
        "--spool-dir",
        default=None,
        type=click.Path(file_okay=False),
        help="Disk buffer while the broker is away; one per bridge [default: twin-data/bridge-spool/KIND-SOURCE].",
    ),
    click.option(
        "--spool-max-mb",
        type=click.FloatRange(0.01, 10_000_000),
        default=DEFAULT_SPOOL_BYTES / 2**20,
        show_default=True,
        help="Spool size limit in MiB; past it, readings wait in memory.",
    ),
    click.option("--client-id", default=None, metavar="ID", help="MQTT client id [default: twin-bridge-KIND-RANDOM]."),
]


def _with_spool_options(f):  # type: ignore[no-untyped-def]
    for opt in reversed(spool_options):
        f = opt(f)
    return f


@click.group("bridge")
def bridge() -> None:
    """Connect plant equipment that does not speak MQTT: OPC UA servers, Modbus TCP devices.

    Readings are published in the twin's telemetry contract (QoS 1) and buffered on disk
    until the broker acknowledges them, so a broker outage loses nothing.
    """


@bridge.command("opcua")
@click.option("--endpoint", required=True, metavar="URL", help="OPC UA server, e.g. opc.tcp://plc1:4840")
@map_option
@broker_option
@config_option
@_with_spool_options
@log_level_option
def opcua(
    endpoint: str,
    map_path: str,
    broker: str,
    config: str,
    spool_dir: str | None,
    spool_max_mb: float,
    client_id: str | None,
    log_level: str,
) -> None:
    """Subscribe to mapped OPC UA nodes (monitored items) and publish their changes."""
    setup_logging(log_level)
    if not endpoint.startswith("opc.tcp://"):
        raise click.BadParameter("must start with opc.tcp://", param_hint="--endpoint")
    url = parse_broker_url(broker)
    complex_ = load_complex(config)
    from twin.bridges.maps import load_opcua_map
    from twin.bridges.opcua import OpcUaBridge
    from twin.bridges.outbox import Outbox

    mapping = load_opcua_map(map_path, complex_)
    outbox = Outbox(
        complex_,
        url,
        client_id or unique_client_id("twin-bridge-opcua"),
        _spool_dir(spool_dir, "opcua", endpoint.removeprefix("opc.tcp://")),
        int(spool_max_mb * 2**20),
    ).start()
    ua_bridge = OpcUaBridge(endpoint, mapping, outbox.put)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await ua_bridge.run(stop)

    try:
        asyncio.run(main())
    finally:
        outbox.stop()
    log.info("OPC UA bridge stopped (%d readings acknowledged by the broker)", outbox.sent)


@bridge.command("modbus")
@click.option("--host", required=True, help="Modbus TCP device (or gateway) address.")
@click.option("--port", type=click.IntRange(1, 65535), default=502, show_default=True)
@map_option
@broker_option
@config_option
@_with_spool_options
@log_level_option
def modbus(
    host: str,
    port: int,
    map_path: str,
    broker: str,
    config: str,
    spool_dir: str | None,
    spool_max_mb: float,
    client_id: str | None,
    log_level: str,
) -> None:
    """Poll mapped registers and coils at their periods and publish the decoded values."""
    setup_logging(log_level)
    url = parse_broker_url(broker)
    complex_ = load_complex(config)
    from twin.bridges.maps import load_modbus_map
    from twin.bridges.modbus import ModbusBridge
    from twin.bridges.outbox import Outbox

    mapping = load_modbus_map(map_path, complex_)
    outbox = Outbox(
        complex_,
        url,
        client_id or unique_client_id("twin-bridge-modbus"),
        _spool_dir(spool_dir, "modbus", f"{host}-{port}"),
        int(spool_max_mb * 2**20),
    ).start()
    mb_bridge = ModbusBridge(host, port, mapping, outbox.put)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        mb_bridge.run(stop)
    finally:
        outbox.stop()
    log.info("Modbus bridge stopped (%d readings acknowledged by the broker)", outbox.sent)
