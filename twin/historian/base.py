"""The historian interface every backend implements (SQLite now, InfluxDB next).

Contract:
- ``store`` is idempotent per (sensor, timestamp): writing the same reading again
  changes nothing, so redelivered MQTT messages never duplicate data.
- ``store`` returns only after the batch is durable, or raises
  :class:`~twin.errors.HistorianUnavailable` (retry later) /
  :class:`~twin.errors.HistorianError` (will never succeed).
- Times are UTC epoch milliseconds; windows are aligned to multiples of ``every_ms``
  since the epoch and only windows that hold data are returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from twin.codec import Reading

__all__ = ["Window", "DeadLetter", "Historian", "MAX_DEAD_LETTER_PAYLOAD"]

#: Raw payload bytes kept per dead letter; enough to diagnose, too little to fill a disk.
MAX_DEAD_LETTER_PAYLOAD = 4096


@dataclass(frozen=True, slots=True)
class Window:
    """Aggregate of one sensor over ``[start_ms, start_ms + every_ms)``."""

    sensor_id: str
    start_ms: int
    mean: float
    min: float
    max: float
    last: float
    count: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message or reading that failed validation, kept for diagnosis."""

    received_ms: int
    topic: str
    payload: bytes
    reason: str
    detail: str
    sensor_id: str | None = None

    @classmethod
    def make(
        cls, received_ms: int, topic: str, payload: bytes, reason: str, detail: str,
        sensor_id: str | None = None,
    ) -> DeadLetter:
        """Build one with the payload capped and texts bounded."""
        return cls(
            received_ms, topic[:512], bytes(payload[:MAX_DEAD_LETTER_PAYLOAD]), reason, detail[:500],
            sensor_id[:200] if sensor_id else None,
        )


class Historian(ABC):
    """Time-series store of readings and dead letters."""

    @abstractmethod
    def store(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        """Durably store a batch (idempotent per sensor and timestamp)."""

    @abstractmethod
    def query(self, sensor_ids: Sequence[str], since_ms: int, until_ms: int) -> list[Reading]:
        """Raw readings with ``since_ms <= ts < until_ms``, ordered by sensor then time."""

    @abstractmethod
    def query_windows(
        self, sensor_ids: Sequence[str], since_ms: int, until_ms: int, every_ms: int
    ) -> list[Window]:
        """Per-window mean/min/max/last/count, ordered by sensor then window."""

    @abstractmethod
    def latest(self, sensor_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        """The newest reading of each sensor (all sensors when ``sensor_ids`` is None)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of stored readings per sensor."""

    @abstractmethod
    def dead_letters(
        self, since_ms: int | None = None, reason: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Newest dead letters first."""

    @abstractmethod
    def dead_letter_counts(self) -> dict[str, int]:
        """Number of dead letters per reason."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""

    def __enter__(self) -> Historian:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
