"""Prometheus metrics and the /metrics + /health HTTP endpoint of an ingest worker."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["IngestMetrics", "serve_http"]

log = logging.getLogger(__name__)


class IngestMetrics:
    """One registry per worker (no global state, so tests can run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("twin_ingest_messages_received", "MQTT messages received", registry=r)
        self.stored = Counter("twin_ingest_readings_stored", "Readings stored in the historian", registry=r)
        self.rejected = Counter(
            "twin_ingest_rejected", "Readings or messages rejected, by reason", ["reason"], registry=r
        )
        self.spooled = Counter("twin_ingest_readings_spooled", "Readings written to the on-disk spool", registry=r)
        self.spool_bytes = Gauge("twin_ingest_spool_bytes", "Bytes held in the on-disk spool", registry=r)
        self.historian_up = Gauge("twin_ingest_historian_up", "1 when the last historian write worked", registry=r)
        self.broker_up = Gauge("twin_ingest_broker_connected", "1 while connected to the broker", registry=r)
        self.write_seconds = Histogram(
            "twin_ingest_write_seconds", "Historian write latency per batch", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.lag_seconds = Histogram(
            "twin_ingest_lag_seconds", "End-to-end lag: reading timestamp to stored", registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
        )
        self.historian_up.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def serve_http(
    host: str, port: int, metrics: IngestMetrics, health: Callable[[], tuple[bool, dict[str, object]]]
) -> ThreadingHTTPServer:
    """Serve ``/metrics`` and ``/health`` (200 healthy, 503 not) on a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path.split("?", 1)[0] == "/metrics":
                body, ctype, code = metrics.render(), CONTENT_TYPE_LATEST, 200
            elif self.path.split("?", 1)[0] == "/health":
                ok, detail = health()
                body, ctype, code = json.dumps(detail).encode(), "application/json", 200 if ok else 503
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("http %s", fmt % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ingest-http", daemon=True).start()
    return server
