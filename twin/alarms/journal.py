"""The durable alarm journal: JSON lines, append-only, fsync'd (the I/O adapter of alarms).

One line per :class:`~twin.alarms.records.AlarmEvent`. :meth:`AlarmJournal.append`
returns only after the lines are on disk, so an event published on MQTT is never
lost by a crash. A torn last line (the process died mid-write) is ignored on load
and cut off, since its event was never published.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson

from twin.alarms.records import AlarmEvent, RecordError, event_from_dict, event_to_dict
from twin.errors import TwinError

__all__ = ["AlarmJournal", "JournalError", "JOURNAL_NAME", "read_events"]

log = logging.getLogger(__name__)

JOURNAL_NAME = "alarms.jsonl"


class JournalError(TwinError):
    """The journal cannot be read or written."""


def read_events(path: Path) -> Iterator[AlarmEvent]:
    """Every complete, valid event of a journal file, in order (history for dashboards too)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                log.warning("%s:%d: ignoring a torn last line (%d bytes)", path, n, len(line))
                return
            try:
                yield event_from_dict(orjson.loads(line))
            except (orjson.JSONDecodeError, RecordError) as exc:
                log.error("%s:%d: skipping an unreadable event: %s", path, n, exc)


class AlarmJournal:
    """Append-only event log in ``data_dir/alarms.jsonl``."""

    def __init__(self, data_dir: Path | str, fsync: bool = True):
        self.dir = Path(data_dir)
        self.path = self.dir / JOURNAL_NAME
        self.fsync = fsync
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._cut_torn_tail()
            self._f = self.path.open("ab")
        except OSError as exc:
            raise JournalError(f"cannot open the alarm journal {self.path}: {exc}") from exc

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb+") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            # find the end of the last complete line
            pos = size
            chunk = 4096
            while pos > 0:
                start = max(0, pos - chunk)
                f.seek(start)
                data = f.read(pos - start)
                i = data.rfind(b"\n")
                if i >= 0:
                    f.truncate(start + i + 1)
                    log.warning("%s: cut a torn last line of %d bytes", self.path, size - start - i - 1)
                    return
                pos = start
            f.truncate(0)

    def events(self) -> Iterator[AlarmEvent]:
        return read_events(self.path)

    def append(self, events: Sequence[AlarmEvent]) -> None:
        """Write events durably (one write and one fsync per call)."""
        if not events:
            return
        data = b"".join(orjson.dumps(event_to_dict(e)) + b"\n" for e in events)
        try:
            self._f.write(data)
            self._f.flush()
            if self.fsync:
                os.fsync(self._f.fileno())
        except OSError as exc:
            raise JournalError(f"cannot write the alarm journal {self.path}: {exc}") from exc

    def close(self) -> None:
        try:
            self._f.close()
        except OSError:
            pass
