"""A JSON-lines record of what the broker acknowledged: one line per reading.

``{"sensor": "alpha-smt-power", "ts": 1764208200000, "value": 7.9}`` — the same
keys as the telemetry payload, so end-to-end tests can compare what was
published with what the historian stored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import BinaryIO

import orjson

from twin.codec import Reading

__all__ = ["ReadingRecorder", "read_record"]


class ReadingRecorder:
    """Appends readings to a JSON-lines file (buffered; :meth:`close` flushes)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = path
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.count = 0

    def write(self, readings: Sequence[Reading]) -> None:
        self._fh.write(
            b"".join(
                orjson.dumps({"sensor": r.sensor_id, "ts": r.ts_ms, "value": r.value}) + b"\n"
                for r in readings
            )
        )
        self.count += len(readings)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ReadingRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_record(path: str | os.PathLike[str]) -> list[Reading]:
    """The readings of a record file, in file order."""
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                d = orjson.loads(line)
                out.append(Reading(d["sensor"], int(d["ts"]), float(d["value"])))
    return out
