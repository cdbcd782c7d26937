"""``twin sparkplug``: the ingest worker with the Sparkplug B decoder plugged in.

Everything about durability is the JSON ingest's (:class:`twin.ingest.service.IngestWorker`):
persistent MQTT session, manual acknowledgement after the batch is in the historian or
the on-disk spool, dead letters, back-pressure, /metrics and /health. This module adds
what a Sparkplug host application does on the bus:

- subscribes to ``spBv1.0/#`` and decodes with :class:`~twin.sparkplug.decoder.SparkplugDecoder`;
- publishes its primary host ``STATE`` (Sparkplug 3.0: retained JSON
  ``{"online": true, "timestamp": T}`` on ``spBv1.0/STATE/{host_id}``, with the matching
  ``online: false`` as its will and on a clean stop), so edge nodes configured with this
  host id store and forward while it is away;
- sends ``NCMD`` rebirth requests the decoder asks for;
- publishes each device's Sparkplug status, retained, on ``twin/v1/{owner}/{device}/status``;
- saves what the decoder remembers (births, aliases, stale sensors) next to its spool,
  before the messages that changed it are acknowledged, so a restart needs no rebirth.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from twin.ingest.service import IngestSettings, IngestWorker
from twin.model import Complex
from twin.sparkplug.decoder import (
    SparkplugDecoded,
    SparkplugDecoder,
    StatusChange,
    encode_rebirth_request,
)
from twin.sparkplug.mapping import MetricMap
from twin.sparkplug.topic import SUBSCRIPTION, ncmd_topic, state_topic
from twin.topics import ROOT, VERSION, shared

__all__ = ["SparkplugSettings", "SparkplugWorker", "status_topic", "status_payload", "STATE_FILE"]

log = logging.getLogger(__name__)

#: File (in the worker's spool directory) holding the decoder's memory between runs.
STATE_FILE = "sparkplug-state.json"
#: How long a clean stop waits for the broker to take the offline STATE.
STATE_PUBLISH_TIMEOUT_S = 2.0


def status_topic(owner: str, device: str) -> str:
    """``twin/v1/{owner}/{device}/status``: retained Sparkplug status of a twin device."""
    return f"{ROOT}/{VERSION}/{owner}/{device}/status"


def status_payload(change: StatusChange) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "online": change.online,
            "ts": change.ts_ms,
            "source": "sparkplug",
            "edge": change.source,
            "cause": change.cause,
            "sensors": list(change.sensors),
        }
    )


@dataclass(frozen=True)
class SparkplugSettings:
    ingest: IngestSettings
    host_id: str | None = "twin"  # primary host id for STATE; None = publish no STATE


class _HostAdapter:
    """Duck-typed as the codec of :class:`twin.ingest.writer.BatchWriter`.

    It has ``decode(topic, payload, now_ms)`` returning readings and rejections.

    Runs on the writer thread, in message order; carries out the decoder's actions.
    """

    def __init__(self, core: SparkplugDecoder, client: mqtt.Client, state_path: Path):
        self.core = core
        self.client = client
        self.state_path = state_path

    def decode(self, topic: str, payload: bytes, now_ms: int) -> SparkplugDecoded:
        out = self.core.decode(topic, payload, now_ms)
        for cmd in out.commands:
            log.info("requesting a rebirth of %s/%s", cmd.group, cmd.node)
            # Sparkplug sends commands at QoS 0; a lost request is repeated on the next unknown data
            self.client.publish(
                ncmd_topic(cmd.group, cmd.node), encode_rebirth_request(now_ms), qos=0
            )
        for st in out.status:
            log.info(
                "%s/%s %s (%s of %s)",
                st.owner,
                st.device,
                "online" if st.online else "offline (stale)",
                st.cause,
                st.source,
            )
            self.client.publish(
                status_topic(st.owner, st.device), status_payload(st), qos=1, retain=True
            )
        if out.state_changed:
            self.save()
        return out

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        try:
            data = orjson.dumps(self.core.snapshot())
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.state_path)
        except OSError as exc:  # the data is still stored; only a restart would need a rebirth
            log.error("could not save the Sparkplug state to %s: %s", self.state_path, exc)

    def load(self) -> None:
        try:
            data = orjson.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning(
                "ignoring unreadable Sparkplug state %s (%s); edge nodes will be asked to rebirth",
                self.state_path,
                exc,
            )
            return
        try:
            self.core.restore(data)
        except ValueError as exc:
            log.warning("ignoring Sparkplug state %s: %s", self.state_path, exc)
            return
        log.info(
            "restored Sparkplug state of %d edge node(s) from %s",
            len(data.get("nodes", [])),
            self.state_path,
        )


class SparkplugWorker(IngestWorker):
    """A Sparkplug B host application that stores what it hears like the JSON ingest does."""

    def __init__(
        self,
        complex_: Complex,
        mapping: MetricMap,
        settings: SparkplugSettings,
        decoder: SparkplugDecoder | None = None,
    ):
        super().__init__(complex_, settings.ingest)
        self.sp = settings
        self.host = _HostAdapter(
            decoder or SparkplugDecoder(mapping),
            self.client,
            settings.ingest.spool_dir / STATE_FILE,
        )
        self.host.load()
        # the one change to the JSON ingest: this decoder instead of the JSON codec
        self.writer.codec = self.host  # type: ignore[assignment]
        self._state_ts = time.time_ns() // 1_000_000

    @property
    def topic_filter(self) -> str:
        return shared(self.s.group, SUBSCRIPTION) if self.s.group else SUBSCRIPTION

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._state_ts}).encode()

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        super()._on_connect(client, userdata, flags, rc, props)
        if getattr(rc, "is_failure", False) or self.sp.host_id is None:
            return
        try:
            client.publish(state_topic(self.sp.host_id), self._state(True), qos=1, retain=True)
        except Exception:  # a paho callback must never raise
            log.exception("could not publish the host STATE")

    def run(self) -> None:
        if self.sp.host_id is not None:
            self.client.will_set(
                state_topic(self.sp.host_id), self._state(False), qos=1, retain=True
            )
        super().run()

    def stop(self) -> None:
        if self.sp.host_id is not None and self.client.is_connected():
            try:
                info = self.client.publish(
                    state_topic(self.sp.host_id), self._state(False), qos=1, retain=True
                )
                info.wait_for_publish(STATE_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish the offline STATE: %s", exc)
        super().stop()

    def snapshot(self) -> dict[str, Any]:
        return self.host.core.snapshot()
