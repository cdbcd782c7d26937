"""Thin paho-mqtt adapter: clients built from a :class:`~twin.urls.BrokerUrl`.

Knows the traps (see docs/reliability.md): with MQTT 5, paho's default
``clean_start`` wipes a restarted consumer's session, so persistent consumers
pass ``clean_start=False`` and a session-expiry interval; with MQTT 3.1.1 the
same is ``clean_session=False``.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from twin.errors import TwinError
from twin.urls import BrokerUrl

__all__ = ["make_client", "connect", "wait_connected", "BrokerUnavailable", "unique_client_id"]

log = logging.getLogger(__name__)

#: How long the broker keeps a persistent consumer's session (and queued messages) after it goes away.
DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600


class BrokerUnavailable(TwinError):
    """The broker did not accept a connection in time."""


def unique_client_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_client(
    url: BrokerUrl,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    max_queued: int = 0,
    client_cls: type[mqtt.Client] = mqtt.Client,
) -> mqtt.Client:
    """A paho client configured for ``url`` (protocol, TLS, credentials).

    ``persistent`` keeps the broker session across reconnects and restarts (MQTT 3.1.1
    needs it at construction); ``max_queued`` bounds paho's outgoing queue (0 = unbounded);
    ``client_cls`` may be a paho ``Client`` subclass such as :class:`twin.mqtt_fast.FastClient`.
    """
    protocol = mqtt.MQTTv5 if url.protocol == 5 else mqtt.MQTTv311
    kwargs: dict[str, object] = {}
    if protocol == mqtt.MQTTv311:
        kwargs["clean_session"] = not persistent
    client = client_cls(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        manual_ack=manual_ack,
        **kwargs,  # type: ignore[arg-type]
    )
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        ctx = ssl.create_default_context(cafile=url.ca_file)
        client.tls_set_context(ctx)
    if max_queued:
        client.max_queued_messages_set(max_queued)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect(
    client: mqtt.Client,
    url: BrokerUrl,
    *,
    persistent: bool = False,
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S,
    keepalive: int = 30,
    receive_maximum: int | None = None,
) -> None:
    """Start connecting asynchronously (paho retries on its own after ``loop_start``).

    ``receive_maximum`` (MQTT 5) caps the unacknowledged QoS 1 messages the broker
    sends us: with manual acknowledgement, that is the back-pressure window.
    """
    if url.protocol == 5:
        props: Properties | None = None
        if persistent or receive_maximum:
            props = Properties(PacketTypes.CONNECT)
            if persistent:
                props.SessionExpiryInterval = session_expiry_s
            if receive_maximum:
                props.ReceiveMaximum = receive_maximum
        client.connect_async(
            url.host, url.port, keepalive=keepalive, clean_start=not persistent, properties=props
        )
    else:
        client.connect_async(url.host, url.port, keepalive=keepalive)


def wait_connected(client: mqtt.Client, timeout: float) -> None:
    """Block until ``client`` is connected, or raise :class:`BrokerUnavailable`."""
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() >= deadline:
            raise BrokerUnavailable(f"broker did not accept a connection within {timeout:g} s")
        time.sleep(0.05)
