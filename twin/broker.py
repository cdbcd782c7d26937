"""``twin broker``: a local MQTT broker for laptops and demos.

Runs Mosquitto when it is on PATH (MQTT 5, persistence), otherwise the pure-Python
amqtt broker (MQTT 3.1.1 only, no persistence, no shared subscriptions) so the demo
needs nothing but pip. Production uses a real broker (see docker-compose.yml).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import click

from twin.cli_options import log_level_option, setup_logging

__all__ = ["broker", "find_mosquitto", "mosquitto_config", "broker_url_for"]

log = logging.getLogger(__name__)


def find_mosquitto() -> str | None:
    """Path of a Mosquitto binary (PATH, then /usr/sbin where Debian puts it)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def mosquitto_config(
    host: str, port: int, data_dir: Path, password_file: Path | None = None, acl_file: Path | None = None
) -> str:
    """A Mosquitto config for a local, persistent broker: anonymous on loopback, or with
    the accounts of ``twin mqtt-auth`` (``password_file`` and ``acl_file``) and no anonymous access."""
    if password_file is not None:
        access = f"allow_anonymous false\npassword_file {password_file}\n"
        access += f"acl_file {acl_file}\n" if acl_file is not None else ""
    else:
        access = "allow_anonymous true\n"
    return (
        f"listener {port} {host}\n"
        + access +
        "persistence true\n"
        f"persistence_location {data_dir}/\n"
        "autosave_interval 5\n"
        # 0 = no limit: Mosquitto otherwise drops QoS 1 messages past 1000 queued, silently.
        "max_queued_messages 0\n"
        "max_inflight_messages 1000\n"
        "log_dest stderr\n"
        # As root, Mosquitto switches to user 'mosquitto', which cannot write a data dir
        # we created: persistence would then fail and queued messages be lost on restart.
        + ("user root\n" if os.geteuid() == 0 else "")
    )


def broker_url_for(engine: str, host: str, port: int) -> str:
    """The URL clients should use for a broker started by :func:`broker`."""
    suffix = "" if engine == "mosquitto" else "?protocol=3.1.1"
    return f"mqtt://{host}:{port}{suffix}"


def _run_amqtt(host: str, port: int) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 200}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def main() -> None:
        b = Broker(config)
        await b.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await b.shutdown()

    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(main())


@click.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--data-dir", default="twin-data/broker", show_default=True, type=click.Path(file_okay=False))
@click.option("--engine", type=click.Choice(["auto", "mosquitto", "amqtt"]), default="auto", show_default=True,
              help="auto = Mosquitto if installed, else the embedded amqtt broker.")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Mosquitto password file (from `twin mqtt-auth`): accounts only, no anonymous access.")
@click.option("--acl-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Mosquitto ACL file (from `twin mqtt-auth`); needs --password-file.")
@log_level_option
def broker(host: str, port: int, data_dir: str, engine: str, password_file: Path | None, acl_file: Path | None,
           log_level: str) -> None:
    """Run a local MQTT broker (for the demo and laptops; not for production)."""
    setup_logging(log_level)
    if acl_file is not None and password_file is None:
        raise click.BadParameter("--acl-file needs --password-file", param_hint="--acl-file")
    if password_file is not None and engine == "amqtt":
        raise click.BadParameter("the embedded amqtt broker has no accounts; use Mosquitto", param_hint="--engine")
    mosquitto = find_mosquitto() if engine in ("auto", "mosquitto") else None
    if (engine == "mosquitto" or password_file is not None) and mosquitto is None:
        raise click.ClickException("mosquitto is not installed (apt-get install mosquitto); "
                                   "accounts (--password-file) need it")
    if mosquitto:
        d = Path(data_dir).resolve()
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "mosquitto.conf"
        conf.write_text(mosquitto_config(
            host, port, d, password_file.resolve() if password_file else None,
            acl_file.resolve() if acl_file else None,
        ))
        log.info("mosquitto on %s", broker_url_for("mosquitto", host, port))
        sys.stdout.flush()
        os.execv(mosquitto, [mosquitto, "-c", str(conf)])
    log.info("embedded amqtt broker on %s", broker_url_for("amqtt", host, port))
    _run_amqtt(host, port)
