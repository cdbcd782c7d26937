"""``twin inject``: start a disaster in the running model-driven sensor fleet.

Publishes one command on :data:`~sensors.injection.INJECT_TOPIC` and waits for the
fleet's answer on :data:`~sensors.injection.SIM_EVENTS_TOPIC` (see
:mod:`sensors.injection` and docs/sensors.md).
"""

from __future__ import annotations

import getpass
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import click
import paho.mqtt.client as mqtt

from sensors.injection import (
    DISASTER_KINDS,
    INJECT_TOPIC,
    KIND_ALIASES,
    SIM_EVENTS_TOPIC,
    InjectCommand,
    InjectCommandError,
    decode_event,
)
from twin.cli_options import broker_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.errors import ConfigError, UrlError
from twin.mqtt import BrokerUnavailable, connect, make_client, unique_client_id, wait_connected
from twin.timespec import parse_duration_ms
from twin.urls import parse_broker_url

__all__ = ["inject"]

log = logging.getLogger(__name__)


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _user() -> str:
    try:
        return getpass.getuser()[:64]
    except (KeyError, OSError):
        return ""


class _Exchange:
    """One command out, its answer in (paho callbacks only set events)."""

    def __init__(self, command_id: str):
        self.command_id = command_id
        self.subscribed = threading.Event()
        self.answered = threading.Event()
        self.answer: dict[str, Any] | None = None

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not getattr(reason, "is_failure", False):
            client.subscribe(SIM_EVENTS_TOPIC, qos=1)

    def on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        self.subscribed.set()

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        doc = decode_event(bytes(msg.payload))
        if doc and doc.get("type") == "inject.result" and doc.get("id") == self.command_id:
            self.answer = doc
            self.answered.set()


@click.command("inject")
@click.argument(
    "kind",
    type=click.Choice(sorted({*DISASTER_KINDS, *KIND_ALIASES})),
    metavar="KIND",
)
@click.option("--zone", "zones", multiple=True, metavar="ZONE", help="Zone hit (repeatable).")
@click.option(
    "--factory", "factories", multiple=True, metavar="FACTORY", help="Factory hit (repeatable)."
)
@click.option(
    "--duration",
    default=None,
    metavar="DURATION",
    help="How long the hazard lasts, e.g. 45m, 2h [default: the kind's typical duration].",
)
@broker_option
@click.option(
    "--config",
    envvar="TWIN_CONFIG",
    default=None,
    metavar="PATH",
    help="Check zones and factories against this complex before sending "
    "(the fleet checks them anyway) [env: TWIN_CONFIG].",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0, max=3600),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Seconds to wait for the fleet's answer; 0: only wait for the broker to take the command.",
)
@click.option("--by", default=None, metavar="NAME", help="Who asks (recorded in the fleet's log).")
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True, max=600),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Give up if the broker accepts no connection within S seconds.",
)
@log_level_option
def inject(
    kind: str,
    zones: tuple[str, ...],
    factories: tuple[str, ...],
    duration: str | None,
    broker: str,
    config: str | None,
    wait: float,
    by: str | None,
    connect_timeout: float,
    log_level: str,
) -> None:
    """Start a disaster now in the model-driven sensor fleet (twin sensors --source model).

    \b
    KIND: fire, gas_leak (gas), flood, earthquake (quake), power_outage (power).
    No --zone and no --factory: the whole complex.
    Examples:
      twin inject fire --zone B --broker mqtt://localhost:1883
      twin inject gas --factory sejin-f2 --duration 45m --broker mqtt://localhost:1883

    Exit status: 0 the fleet started it, 1 refused or no answer, 2 bad input.
    """
    setup_logging(log_level)
    try:
        url = parse_broker_url(broker)
    except UrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    duration_h = None
    if duration is not None:
        try:
            duration_h = parse_duration_ms(duration) / 3_600_000
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--duration") from None
    try:
        cmd = InjectCommand(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            zones=zones,
            factories=factories,
            duration_h=duration_h,
            by=(by if by is not None else _user())[:64],
        )
        if config is not None:
            try:
                cmd.check(load_complex(config))
            except ConfigError as exc:
                raise click.BadParameter(str(exc), param_hint="--config") from None
    except InjectCommandError as exc:
        hint = {"bad_duration": "--duration", "bad_schema": "--by"}.get(exc.reason.value)
        hint = hint or ("--factory" if "factor" in exc.reason.value else "--zone")
        raise click.BadParameter(exc.detail, param_hint=hint) from None

    ex = _Exchange(cmd.id)
    client = make_client(url, unique_client_id("twin-inject"))
    client.on_connect = ex.on_connect
    client.on_subscribe = ex.on_subscribe
    client.on_message = ex.on_message
    connect(client, url)
    client.loop_start()
    try:
        try:
            wait_connected(client, connect_timeout)
        except BrokerUnavailable as exc:
            raise click.ClickException(f"{url}: {exc}") from None
        if wait > 0 and not ex.subscribed.wait(10.0):
            raise click.ClickException(
                f"{url}: no answer to the subscription to {SIM_EVENTS_TOPIC}"
            )
        info = client.publish(INJECT_TOPIC, cmd.encode(), qos=1)
        info.wait_for_publish(10.0)
        if not info.is_published():
            raise click.ClickException(f"{url}: the broker did not take the command within 10 s")
        log.info("sent %s command %s to %s", cmd.label, cmd.id, INJECT_TOPIC)
        if wait == 0:
            click.echo(f"sent {cmd.label} (command {cmd.id}); not waiting for the fleet")
            return
        if not ex.answered.wait(wait):
            raise click.ClickException(
                f"no answer from a model-driven fleet within {wait:g} s "
                "(is 'twin sensors --source model' running on this broker?)"
            )
    finally:
        client.disconnect()
        client.loop_stop()
    ans = ex.answer or {}
    if not ans.get("ok"):
        raise click.ClickException(
            f"the fleet refused {cmd.label}: {ans.get('error')} ({ans.get('reason')})"
        )
    facs = ", ".join(ans.get("factories") or []) or "none"
    click.echo(
        f"{ans.get('disaster')} started at {_iso(int(ans.get('ts') or 0))} (simulated) in zone(s) "
        f"{', '.join(ans.get('zones') or [])}; factories stopped: {facs}"
    )
