"""Read access to the historian for the dashboards of one worker process.

The connection is opened lazily on first use (never at import), once per process
(a forked worker opens its own), and dropped after a failure so the next call
retries: the dashboard may start before ingest has created the historian.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence

from twin.codec import Reading
from twin.errors import HistorianUnavailable
from twin.historian import Historian, Window, open_historian
from twin.urls import redact

__all__ = ["HistorianSource"]

log = logging.getLogger(__name__)


class HistorianSource:
    """Thread-safe, lazily opened, read-only historian handle shared by the callbacks."""

    def __init__(self, url: str, opener: Callable[..., Historian] = open_historian):
        self.url = url
        self._opener = opener
        self._lock = threading.Lock()
        self._historian: Historian | None = None
        self._pid: int | None = None

    def __repr__(self) -> str:
        return f"HistorianSource({redact(self.url)!r})"

    def _get(self) -> Historian:
        with self._lock:
            if self._historian is None or self._pid != os.getpid():
                # After a fork the parent's connection must not be shared: open our own.
                self._historian = self._opener(self.url, readonly=True)
                self._pid = os.getpid()
                log.debug("opened historian %s", redact(self.url))
            return self._historian

    def _drop(self, failed: Historian) -> None:
        with self._lock:
            if self._historian is failed:
                self._historian = None
        try:
            failed.close()
        except Exception:  # already broken; closing is best effort
            log.debug("closing a failed historian handle raised", exc_info=True)

    def _call(self, fn: Callable[[Historian], object]) -> object:
        h = self._get()
        try:
            return fn(h)
        except HistorianUnavailable:
            self._drop(h)
            raise

    def latest(self, sensor_ids: Iterable[str]) -> dict[str, Reading]:
        """Newest reading of each sensor that has one."""
        ids = list(sensor_ids)
        return self._call(lambda h: h.latest(ids))  # type: ignore[return-value]

    def windows(
        self, sensor_ids: Sequence[str], since_ms: int, until_ms: int, every_ms: int
    ) -> list[Window]:
        """Aggregated windows, computed by the historian (server side)."""
        return self._call(  # type: ignore[return-value]
            lambda h: h.query_windows(sensor_ids, since_ms, until_ms, every_ms)
        )

    def check(self, probe_sensor: str) -> None:
        """Raise :class:`HistorianUnavailable` unless a real query answers."""
        self._call(lambda h: h.latest([probe_sensor]))

    def close(self) -> None:
        with self._lock:
            h, self._historian = self._historian, None
        if h is not None and self._pid == os.getpid():
            h.close()
