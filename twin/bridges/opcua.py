"""OPC UA bridge: subscriptions with monitored items (not polling) -> readings -> outbox.

Each mapped node is a monitored item of one subscription; the server sends value
changes with their **source timestamps**, which become the readings' timestamps
(server timestamp, then the bridge's clock, when the server sends none). A lost
connection (server restart, network) is noticed by asyncua's keep-alive watchdog; the
bridge then reconnects with exponential back-off and subscribes again. What was
received meanwhile is safe in the outbox's disk spool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from twin.bridges.backoff import Backoff
from twin.bridges.maps import OpcUaMap, OpcUaNode
from twin.codec import Reading

__all__ = ["OpcUaBridge", "opc_number", "opc_timestamp_ms"]

log = logging.getLogger(__name__)

#: How often the bridge asks asyncua whether the session is still alive.
CHECK_S = 1.0
#: Request timeout towards the server (seconds).
REQUEST_TIMEOUT_S = 4.0


def opc_number(value: Any) -> float | None:
    """A sensor value from an OPC UA variant value: numbers and booleans; None otherwise."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            v = float(value)
        except OverflowError:
            return None
        return v if v == v and v not in (float("inf"), float("-inf")) else None
    return None


def opc_timestamp_ms(*candidates: datetime | None, now_ms: int) -> int:
    """The first timestamp given (asyncua uses naive UTC datetimes) in epoch ms, else ``now_ms``."""
    for ts in candidates:
        if ts is not None:
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
            return int(ts.timestamp() * 1000)
    return now_ms


class _Handler:
    """asyncua subscription handler (called in the event loop; never raises)."""

    def __init__(self, bridge: OpcUaBridge, by_node: dict[Any, OpcUaNode]):
        self.bridge = bridge
        self.by_node = by_node

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        try:
            spec = self.by_node.get(node.nodeid)
            if spec is None:
                return
            dv = data.monitored_item.Value
            status = getattr(dv, "StatusCode_", None) or getattr(dv, "StatusCode", None)
            if status is not None and not status.is_good():
                self.bridge.skipped += 1
                log.debug("%s: status %s, value not used", spec.node, status)
                return
            number = opc_number(val)
            if number is None:
                self.bridge.skipped += 1
                log.warning("%s: value %r is not a number; not sent", spec.node, str(val)[:60])
                return
            if spec.scale != 1.0 or spec.offset != 0.0:
                number = number * spec.scale + spec.offset
            ts = opc_timestamp_ms(dv.SourceTimestamp, dv.ServerTimestamp, now_ms=self.bridge.clock_ms())
            self.bridge.emit([Reading(spec.sensor, ts, number)])
        except Exception:
            log.exception("could not handle a data change")

    def status_change_notification(self, status: Any) -> None:
        log.warning("subscription status changed: %s", status)


class OpcUaBridge:
    """Subscribes to the mapped nodes of one server; ``run()`` until the stop event is set."""

    def __init__(
        self,
        endpoint: str,
        mapping: OpcUaMap,
        emit: Callable[[list[Reading]], None],
        backoff: Backoff | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ):
        self.endpoint = endpoint
        self.map = mapping
        self.emit = emit
        self.backoff = backoff or Backoff()
        self.clock_ms = clock_ms
        self.subscribed = asyncio.Event()
        self.sessions = 0  # successful (re)subscriptions, for logs and tests
        self.skipped = 0  # values not sent: bad status or not a number

    async def run(self, stop: asyncio.Event) -> None:
        from asyncua import Client

        while not stop.is_set():
            client = Client(url=self.endpoint, timeout=REQUEST_TIMEOUT_S)
            try:
                await client.connect()
                await self._subscribe(client)
                self.backoff.reset()
                self.sessions += 1
                self.subscribed.set()
                log.info("subscribed to %d node(s) of %s", len(self.map.nodes), self.endpoint)
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(stop.wait(), CHECK_S)
                    except TimeoutError:
                        await client.check_connection()  # raises once the watchdog saw the loss
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, lost, timeouts, server errors
                self.subscribed.clear()
                delay = self.backoff.next()
                log.warning(
                    "OPC UA %s: %s; reconnecting in %.1f s", self.endpoint, f"{type(exc).__name__}: {exc}"[:200], delay
                )
                await _close(client)
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
                continue
            await _close(client)

    async def _subscribe(self, client: Any) -> None:
        from asyncua import ua

        handler_map: dict[Any, OpcUaNode] = {}
        nodes_by_interval: dict[float | None, list[Any]] = {}
        for spec in self.map.nodes:
            nid = ua.NodeId.from_string(spec.node)
            uri = getattr(nid, "NamespaceUri", None)
            if uri:  # nsu=...: namespace indexes may change when a server restarts
                idx = await client.get_namespace_index(uri)
                nid = ua.NodeId(nid.Identifier, idx, nid.NodeIdType)
            node = client.get_node(nid)
            handler_map[node.nodeid] = spec
            nodes_by_interval.setdefault(spec.sampling_interval_ms, []).append(node)
        sub = await client.create_subscription(self.map.publishing_interval_ms, _Handler(self, handler_map))
        for interval, nodes in nodes_by_interval.items():
            results = await sub.subscribe_data_change(
                nodes,
                queuesize=self.map.queue_size,
                sampling_interval=0.0 if interval is None else interval,
            )
            for node, res in zip(nodes, results if isinstance(results, list) else [results], strict=True):
                if isinstance(res, ua.StatusCode):
                    log.error("cannot monitor %s: %s", node.nodeid.to_string(), res)


async def _close(client: Any) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), REQUEST_TIMEOUT_S)
    except Exception:  # the session is gone already; nothing to clean up on the server
        log.debug("disconnect after a lost session failed", exc_info=True)
