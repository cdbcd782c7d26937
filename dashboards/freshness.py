"""Is data arriving? Freshness of sensors and assets from their latest readings and ``now``.

Pure: the caller passes the latest readings and the time, so tests need no clock.

Rules:
- a sensor is *fresh* when its newest reading is at most ``STALE_PERIODS`` sample
  periods old, *late* when older, *no data* when it never reported;
- an asset (factory, logistics centre) is *fresh* when every one of its sensors is
  fresh, *no data* when none ever reported (or it has no sensors), and *late*
  otherwise: some data arrives but not all of it, which an operator must look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from twin.codec import Reading
from twin.model import Sensor

__all__ = [
    "STALE_PERIODS",
    "Freshness",
    "AssetFreshness",
    "sensor_freshness",
    "asset_freshness",
    "freshness_by_asset",
]

#: A sensor is late once this many sample periods pass without a reading. Three
#: tolerates one lost message and ingest batching without hiding a dead device.
STALE_PERIODS = 3


class Freshness(StrEnum):
    FRESH = "fresh"
    LATE = "late"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {Freshness.FRESH: "fresh", Freshness.LATE: "late", Freshness.NO_DATA: "no data"}


def sensor_freshness(
    sensor: Sensor, latest: Reading | None, now_ms: int, periods: float = STALE_PERIODS
) -> Freshness:
    """Freshness of one sensor given its newest reading (``None``: never reported)."""
    if latest is None:
        return Freshness.NO_DATA
    # A reading from a clock slightly ahead of ours has a negative age: still fresh.
    age_ms = now_ms - latest.ts_ms
    return Freshness.FRESH if age_ms <= periods * sensor.period_s * 1000 else Freshness.LATE


@dataclass(frozen=True, slots=True)
class AssetFreshness:
    """Freshness of an asset with the counts behind it (for hover text and KPI tiles)."""

    state: Freshness
    fresh: int
    late: int
    no_data: int
    last_ts_ms: int | None

    @property
    def total(self) -> int:
        return self.fresh + self.late + self.no_data

    def describe(self) -> str:
        """``2/3 sensors fresh, 1 late``: the numbers behind the colour."""
        if self.total == 0:
            return "no sensors"
        parts = [f"{self.fresh}/{self.total} sensors fresh"]
        if self.late:
            parts.append(f"{self.late} late")
        if self.no_data:
            parts.append(f"{self.no_data} without data")
        return ", ".join(parts)


def asset_freshness(
    sensors: Iterable[Sensor],
    latest: Mapping[str, Reading],
    now_ms: int,
    periods: float = STALE_PERIODS,
) -> AssetFreshness:
    """Freshness of an asset from the freshness of each of its sensors."""
    counts = {f: 0 for f in Freshness}
    last: int | None = None
    for s in sensors:
        reading = latest.get(s.id)
        counts[sensor_freshness(s, reading, now_ms, periods)] += 1
        if reading is not None and (last is None or reading.ts_ms > last):
            last = reading.ts_ms
    fresh, late, none = counts[Freshness.FRESH], counts[Freshness.LATE], counts[Freshness.NO_DATA]
    if fresh + late == 0:
        state = Freshness.NO_DATA
    elif late == 0 and none == 0:
        state = Freshness.FRESH
    else:
        state = Freshness.LATE
    return AssetFreshness(state, fresh, late, none, last)


def freshness_by_asset(
    assets: Iterable[tuple[str, Iterable[Sensor]]],
    latest: Mapping[str, Reading],
    now_ms: int,
    periods: float = STALE_PERIODS,
) -> dict[str, AssetFreshness]:
    """``{asset id: freshness}`` for ``(asset id, its sensors)`` pairs."""
    return {aid: asset_freshness(sensors, latest, now_ms, periods) for aid, sensors in assets}
