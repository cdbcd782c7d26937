"""A paho-mqtt client with a bulk receive path, for consumers of high-rate QoS 0/1 streams.

Why: paho parses every inbound packet on its own (one ``select`` and three ``recv``
calls per message, an MQTT 5 ``Properties`` object built even when a PUBLISH carries
none) and sends one PUBACK packet per ``ack()``. Measured on the 2-core build machine
(``benchmarks/paho_ceiling.py``), a bare paho subscriber drains a QoS 1 backlog at about
7,000 msg/s with MQTT 5, while the broker can deliver far more: the per-message cost is
in the client. See docs/benchmarks.md.

What this changes, and only this:

- The socket is wrapped in :class:`BufferedSocket`: one ``recv`` of up to 256 KiB, later
  reads served from memory. paho's own loop honours ``pending()`` (it exists for TLS), so
  it keeps reading while buffered bytes remain.
- After paho's ``loop_read`` has handled a packet, every *complete* PUBLISH already in the
  buffer with QoS 0 or 1 and no MQTT 5 properties is parsed here and handed to
  :attr:`FastClient.on_messages` as one list. Anything else (CONNACK, SUBACK, PINGRESP,
  DISCONNECT, QoS 2, a PUBLISH with properties, a partial packet) stops the fast path and
  is left to paho, in order. Connection handling, sessions, keep-alive, TLS, credentials
  and reconnects stay paho's.
- :meth:`FastClient.ack_many` queues the PUBACKs of a whole batch as one write.

It relies on three internals of paho-mqtt 2.1/2.2 (``_create_socket``, ``_in_packet`` and
``_packet_queue``); :func:`supported` checks them, and :func:`make_fast_client` callers fall
back to a plain client when they are missing. The ingest's reliability tests run on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt

__all__ = ["BufferedSocket", "FastClient", "FastMessage", "supported"]

log = logging.getLogger(__name__)

#: Bytes asked of the kernel per ``recv``.
READ_SIZE = 256 * 1024
#: PUBLISH packets parsed per ``loop_read`` at most, so paho's loop still gets to write.
MAX_FAST_PACKETS = 5000
_PUBACK_HEADER = bytes((0x40, 0x02))


class FastMessage(NamedTuple):
    """One inbound PUBLISH taken by the fast path."""

    mid: int  # 0 for QoS 0
    qos: int
    topic: bytes
    payload: bytes


def supported() -> bool:
    """True when the installed paho has the internals the fast path hooks into."""
    client_cls = mqtt.Client
    return all(hasattr(client_cls, name) for name in ("_create_socket", "_packet_queue", "_packet_read"))


class BufferedSocket:
    """A socket whose reads are served from a user-space buffer filled in large chunks."""

    __slots__ = ("_sock", "buf")

    def __init__(self, sock: Any):
        self._sock = sock
        self.buf = bytearray()

    def recv(self, n: int) -> bytes:
        buf = self.buf
        if not buf:
            data = self._sock.recv(READ_SIZE)  # BlockingIOError, OSError and b"" go to paho as usual
            if len(data) <= n:
                return data
            buf += data
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self.buf) + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:  # send, fileno, close, setblocking, ...
        return getattr(self._sock, name)


def parse_publishes(
    buf: bytearray, mqtt5: bool, limit: int = MAX_FAST_PACKETS
) -> tuple[list[FastMessage], int]:
    """Complete QoS 0/1 PUBLISH packets at the front of ``buf``: (messages, bytes used).

    Stops at the first packet that is incomplete, not a PUBLISH, QoS 2, or (MQTT 5)
    carries properties, so paho handles it and everything after it in order.
    """
    out: list[FastMessage] = []
    pos = 0
    end_buf = len(buf)
    while len(out) < limit and pos + 2 <= end_buf:
        header = buf[pos]
        if header & 0xF0 != 0x30:
            break
        qos = (header >> 1) & 0x03
        if qos == 2 or qos == 3:
            break
        # remaining length: variable byte integer, at most 4 bytes
        i = pos + 1
        length = 0
        shift = 0
        while True:
            if i >= end_buf or shift > 21:
                return out, pos
            b = buf[i]
            length |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                break
            shift += 7
        end = i + length
        if end > end_buf:
            break
        if i + 2 > end:
            break  # malformed: let paho report it
        topic_len = (buf[i] << 8) | buf[i + 1]
        j = i + 2 + topic_len
        mid = 0
        if qos:
            if j + 2 > end:
                break
            mid = (buf[j] << 8) | buf[j + 1]
            j += 2
        if mqtt5:
            if j >= end or buf[j] != 0:  # properties present (or malformed): paho's job
                break
            j += 1
        if j > end or topic_len == 0:
            break  # malformed or a topic alias: paho's job
        out.append(FastMessage(mid, qos, bytes(buf[i + 2:i + 2 + topic_len]), bytes(buf[j:end])))
        pos = end
    return out, pos


class FastClient(mqtt.Client):
    """paho ``Client`` with a bulk receive path and batched acknowledgements.

    Set :attr:`on_messages` to a callable taking ``(client, list[FastMessage])``; it runs on
    the network thread for messages taken by the fast path, and must not raise or block
    long. Messages paho handles itself still go to ``on_message``.
    """

    on_messages: Callable[[FastClient, list[FastMessage]], None] | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if self._transport == "websockets":
            return sock  # the websocket wrapper frames its own reads
        return BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        if rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._drain_buffered()
        return rc

    def _drain_buffered(self) -> None:
        sock = self._sock
        handler = self.on_messages
        if handler is None or not isinstance(sock, BufferedSocket) or self._in_packet["command"] != 0:
            return  # no fast handler, or paho is in the middle of a packet
        buf = sock.buf
        mqtt5 = self._protocol == mqtt.MQTTv5
        while buf:
            msgs, used = parse_publishes(buf, mqtt5)
            if not used:
                return
            del buf[:used]
            try:
                handler(self, msgs)
            except Exception:  # like paho: a callback error must not kill the network thread
                log.exception("on_messages failed for %d message(s)", len(msgs))
            if not self._manual_ack:  # like paho: acknowledged once the callback returned
                self._queue_pubacks([m.mid for m in msgs if m.qos == 1])
            if len(msgs) < MAX_FAST_PACKETS:
                return

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages (manual-ack mode) with one queued write."""
        if self._manual_ack:
            self._queue_pubacks(mids)

    def _queue_pubacks(self, mids: Sequence[int]) -> None:
        if not mids:
            return
        blob = b"".join([_PUBACK_HEADER + mid.to_bytes(2, "big") for mid in mids])
        self._packet_queue(mqtt.PUBACK, blob, 0, 0)
