"""A small MQTT client for alarm consoles: send commands, wait for replies, read open alarms.

The dashboard (issue 7) acts on alarms through the live twin, never on its memory::

    with AlarmClient(parse_broker_url("mqtt://localhost:1883")) as alarms:
        alarms.acknowledge("alm-5", user=session_user)                 # -> the reply dict
        alarms.shelve("alm-6", user=session_user, duration_s=3600, reason="detector replaced")
        alarms.open_alarms()                                           # {"park": [...], "alpha-elec": [...]}

``owner`` is the command topic's owner: ``park`` (the control centre, any alarm) or a
tenant id (that tenant's alarms only). A reply with ``ok: false`` is returned, not
raised; only a live twin that does not answer in time raises :class:`AlarmTimeout`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from twin.alarms.commands import OPEN_FILTER, command_topic, encode_command, reply_topic
from twin.errors import TwinError
from twin.model import PARK_OWNER
from twin.mqtt import connect, make_client, unique_client_id, wait_connected
from twin.urls import BrokerUrl

__all__ = ["AlarmClient", "AlarmTimeout"]

log = logging.getLogger(__name__)


class AlarmTimeout(TwinError):
    """The live twin did not answer a command in time (is `twin live` running?)."""


class AlarmClient:
    """Commands and open-alarm lists over MQTT, for one owner scope."""

    def __init__(
        self, url: BrokerUrl, owner: str = PARK_OWNER, client_id: str | None = None, connect_timeout: float = 10.0
    ):
        self.owner = owner
        self._replies: dict[str, dict[str, Any]] = {}
        self._open: dict[str, list[dict[str, Any]]] = {}
        self._cv = threading.Condition()
        self._client = make_client(url, client_id or unique_client_id("twin-alarm-client"))
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        connect(self._client, url)
        self._client.loop_start()
        wait_connected(self._client, connect_timeout)

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        try:
            opens = OPEN_FILTER if self.owner == PARK_OWNER else OPEN_FILTER.replace("+", self.owner, 1)
            client.subscribe([(reply_topic(self.owner), 1), (opens, 1)])
        except Exception:  # never raise in a paho callback
            log.exception("alarm client: subscribe failed")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = orjson.loads(msg.payload)
            with self._cv:
                if msg.topic.endswith("/reply") and isinstance(doc.get("request"), str):
                    self._replies[doc["request"]] = doc
                elif msg.topic.endswith("/open"):
                    self._open[str(doc["owner"])] = list(doc["alarms"])
                self._cv.notify_all()
        except Exception:  # a malformed message must not break the client
            log.warning("alarm client: ignoring a malformed message on %s: %r", msg.topic[:120], msg.payload[:120])

    def command(
        self,
        action: str,
        alarm: str,
        user: str,
        *,
        text: str = "",
        duration_s: float | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Send one command and return the live twin's reply (``{"ok": ..., "error": ...}``)."""
        request = uuid.uuid4().hex[:16]
        payload = encode_command(action, alarm, user, text=text, duration_s=duration_s, request=request)
        self._client.publish(command_topic(self.owner), payload, qos=1)
        with self._cv:
            if not self._cv.wait_for(lambda: request in self._replies, timeout):
                raise AlarmTimeout(f"no reply to {action} {alarm} within {timeout:g} s")
            return self._replies.pop(request)

    def acknowledge(self, alarm: str, user: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.command("ack", alarm, user, timeout=timeout)

    def comment(self, alarm: str, user: str, text: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.command("comment", alarm, user, text=text, timeout=timeout)

    def shelve(
        self, alarm: str, user: str, duration_s: float, reason: str = "", timeout: float = 10.0
    ) -> dict[str, Any]:
        return self.command("shelve", alarm, user, text=reason, duration_s=duration_s, timeout=timeout)

    def unshelve(self, alarm: str, user: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.command("unshelve", alarm, user, timeout=timeout)

    def open_alarms(self) -> dict[str, list[dict[str, Any]]]:
        """The latest open-alarm list of each owner in scope (alarm dicts as in docs/alarms.md)."""
        with self._cv:
            return {k: list(v) for k, v in self._open.items()}

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> AlarmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
