"""Bounded on-disk spool: the durability layer while the historian is away.

Append-only segment files of length-prefixed, CRC-checked records, each one
batch of readings and dead letters. ``append`` returns only after fsync, so a
message can be acknowledged once its batch is here. A torn record at the end
of a segment (a crash mid-append) is ignored: its messages were never
acknowledged, so the broker delivers them again.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import orjson

from twin.codec import Reading
from twin.historian.base import DeadLetter

__all__ = ["Spool", "SpoolFull", "DEFAULT_SPOOL_BYTES"]

log = logging.getLogger(__name__)

#: Default size limit of a spool: about 10 million readings.
DEFAULT_SPOOL_BYTES = 1024 * 1024 * 1024
#: A new segment file starts past this size, so drained space is given back soon.
SEGMENT_BYTES = 8 * 1024 * 1024

_HEADER = struct.Struct("<II")  # length, crc32


class SpoolFull(Exception):
    """The spool has reached its size limit; the caller must stop acknowledging."""


def _encode(readings: Sequence[Reading], letters: Sequence[DeadLetter]) -> bytes:
    return orjson.dumps(
        {
            "r": [[r.sensor_id, r.ts_ms, r.value] for r in readings],
            "d": [
                [d.received_ms, d.topic, d.payload.hex(), d.reason, d.detail, d.sensor_id]
                for d in letters
            ],
        }
    )


def _decode(blob: bytes) -> tuple[list[Reading], list[DeadLetter]]:
    doc = orjson.loads(blob)
    readings = [Reading(s, int(t), float(v)) for s, t, v in doc["r"]]
    letters = [DeadLetter(t, tp, bytes.fromhex(p), r, d, s) for t, tp, p, r, d, s in doc["d"]]
    return readings, letters


class Spool:
    """A directory of segment files, oldest first. Not thread-safe: one owner."""

    def __init__(self, directory: str | Path, max_bytes: int = DEFAULT_SPOOL_BYTES):
        if max_bytes <= 0:
            raise ValueError(f'"max_bytes" must be > 0, got {max_bytes}')
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._segments = sorted(self.dir.glob("*.seg"))
        self._bytes = sum(p.stat().st_size for p in self._segments)
        self._next_id = int(self._segments[-1].stem) + 1 if self._segments else 0
        if self._segments:
            log.info("spool %s holds %d segment(s), %d bytes from before", self.dir, len(self._segments), self._bytes)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __bool__(self) -> bool:
        return bool(self._segments)

    def append(self, readings: Sequence[Reading], letters: Sequence[DeadLetter] = ()) -> None:
        """Durably add one batch, or raise :class:`SpoolFull`."""
        blob = _encode(readings, letters)
        record = _HEADER.pack(len(blob), zlib.crc32(blob)) + blob
        if self._bytes + len(record) > self.max_bytes:
            raise SpoolFull(f"spool {self.dir} would exceed {self.max_bytes} bytes")
        if not self._segments or self._segments[-1].stat().st_size >= SEGMENT_BYTES:
            self._segments.append(self.dir / f"{self._next_id:012d}.seg")
            self._next_id += 1
        path = self._segments[-1]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._bytes += len(record)

    def oldest(self) -> tuple[Path, list[tuple[list[Reading], list[DeadLetter]]]] | None:
        """The oldest segment and its intact records (a torn tail is dropped)."""
        if not self._segments:
            return None
        path = self._segments[0]
        data = path.read_bytes()
        out, pos = [], 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            blob = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(blob) < length or zlib.crc32(blob) != crc:
                log.warning("spool segment %s has a torn record at byte %d; ignoring the tail", path, pos)
                break
            out.append(_decode(blob))
            pos += _HEADER.size + length
        return path, out

    def remove(self, path: Path) -> None:
        """Delete a segment whose records are all stored in the historian."""
        size = path.stat().st_size
        path.unlink()
        self._segments.remove(path)
        self._bytes -= size
