"""Alarm history of one dashboard worker, read from the live twin's journal (``alarms.jsonl``).

Why the journal: it is the live twin's durable, append-only, gap-free record of every
alarm event (docs/alarms.md). Alarm events on MQTT are not retained, so a worker would see
only what happened since it connected, and several WSGI workers would show different
histories; the historian stores numeric readings, not events. Every worker reads the same
file (read-only: a shared or read-only mounted volume) and so shows the same history.

Reading is incremental: each call reads only the lines appended since the last one
(complete lines only: a line being written is read next time). A journal that shrank or
was replaced (rotated while the live twin was stopped) is read again from the start.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import orjson

from dashboards.alarm_history import MAX_ALARMS, HistoryIndex
from twin.alarms.records import Alarm, RecordError, event_from_dict
from twin.errors import TwinError

__all__ = ["HistoryUnavailable", "JournalHistory"]

log = logging.getLogger(__name__)

#: Bytes read per step, so a large journal never needs its whole size in memory at once.
CHUNK_BYTES = 8 * 1024 * 1024


class HistoryUnavailable(TwinError):
    """No journal configured, or it cannot be read."""


class JournalHistory:
    """Thread-safe, incrementally read alarm journal shared by the callbacks of one process."""

    def __init__(self, path: str | os.PathLike[str] | None, max_alarms: int = MAX_ALARMS):
        self.path = Path(path) if path else None
        self.max_alarms = max_alarms
        self._lock = threading.Lock()
        self._index = HistoryIndex(max_alarms)
        self._offset = 0
        self._file_id: tuple[int, int] | None = None
        self.skipped = 0  # unreadable lines seen (logged)

    def __repr__(self) -> str:
        return f"JournalHistory({str(self.path) if self.path else None!r})"

    def alarms(self) -> list[Alarm]:
        """The latest version of every alarm in the journal (at most ``max_alarms``, newest kept)."""
        if self.path is None:
            raise HistoryUnavailable(
                "no alarm journal configured (start the dashboard with --alarm-journal "
                "PATH/alarms.jsonl, the live twin's --data-dir)"
            )
        with self._lock:
            try:
                self._catch_up(self.path)
            except OSError as exc:
                raise HistoryUnavailable(f"cannot read the alarm journal {self.path}: {exc.strerror or exc}") from exc
            return self._index.alarms()

    def _catch_up(self, path: Path) -> None:
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise HistoryUnavailable(f"alarm journal {path} not found (has `twin live` started?)") from None
        with f:
            st = os.fstat(f.fileno())
            file_id = (st.st_dev, st.st_ino)
            if file_id != self._file_id or st.st_size < self._offset:
                self._index = HistoryIndex(self.max_alarms)
                self._offset = 0
                self._file_id = file_id
            f.seek(self._offset)
            while True:
                data = f.read(CHUNK_BYTES)
                end = data.rfind(b"\n")
                if end < 0:
                    return  # nothing new, or only a line still being written
                self._apply(data[: end + 1])
                self._offset += end + 1
                f.seek(self._offset)

    def _apply(self, data: bytes) -> None:
        # Only the last event of each alarm in the chunk matters (it carries the whole alarm
        # after its transition), so only that one is turned into an Alarm: several times fewer
        # conversions, since an alarm has a handful of events (raised, acked, cleared, ...).
        latest: dict[str, object] = {}  # alarm id -> its last event, in order of first appearance
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                self._skip(exc)
                continue
            alarm = doc.get("alarm") if isinstance(doc, dict) else None
            alarm_id = alarm.get("id") if isinstance(alarm, dict) else None
            if not isinstance(alarm_id, str):
                self._skip("no alarm id")
                continue
            latest[alarm_id] = doc
        events = []
        for doc in latest.values():
            try:
                events.append(event_from_dict(doc))
            except RecordError as exc:
                self._skip(exc)
        self._index.apply(events)

    def _skip(self, why: object) -> None:
        self.skipped += 1
        log.warning("%s: skipping an unreadable event: %s", self.path, why)
