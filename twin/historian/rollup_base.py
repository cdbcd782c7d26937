"""What every backend with rollups shares: retention horizons and rollup-aware window queries.

A backend stores raw readings and 1-minute / 1-hour rollups and answers
:meth:`RollupHistorian._partials` for one level; this class plans which level answers
which part of a range (:func:`twin.historian.rollups.plan`), clamps every level to its
retention horizon and merges the parts into windows. Both backends therefore pick
levels and apply retention in exactly the same way.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence

from twin.errors import HistorianError
from twin.historian.base import Historian, Window
from twin.historian.retention import Retention
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW, Partial, Segment, concat_partials, plan
from twin.timespec import now_ms

__all__ = ["RollupHistorian"]

log = logging.getLogger(__name__)


class RollupHistorian(Historian):
    """A historian with raw readings, 1-minute and 1-hour rollups and retention."""

    def __init__(self, retention: Retention | None = None, clock: Callable[[], int] = now_ms):
        self.retention = retention or Retention()
        self._clock = clock
        # A "now" later than the wall clock, set by enforce_retention(now_ms=...):
        # data it removed stays invisible even where deletion is lazy (InfluxDB shards).
        self._enforced_now: int | None = None

    # ---- retention -----------------------------------------------------------

    def now_ms(self) -> int:
        """The "now" retention is measured from."""
        now = self._clock()
        return now if self._enforced_now is None else max(now, self._enforced_now)

    def horizon(self, level_ms: int) -> int | None:
        """Oldest visible time of a level now (None: kept forever)."""
        return self.retention.horizon(level_ms, self.now_ms())

    def enforce_retention(self, now_ms: int | None = None) -> dict[str, int]:
        now = self._clock() if now_ms is None else int(now_ms)
        if now_ms is not None and (self._enforced_now is None or now > self._enforced_now):
            self._enforced_now = now
        cutoffs = {
            level: cut for level in (RAW, MINUTE_MS, HOUR_MS) if (cut := self.retention.horizon(level, now)) is not None
        }
        return self._delete_before(cutoffs)

    @abstractmethod
    def _delete_before(self, cutoffs: dict[int, int]) -> dict[str, int]:
        """Delete data of each level older than its cutoff (dead letters go with raw)."""

    # ---- windows -------------------------------------------------------------

    def window_plan(self, since_ms: int, until_ms: int, every_ms: int) -> list[Segment]:
        """Which level answers which part of a window query, after retention."""
        if every_ms <= 0:
            raise HistorianError(f"window must be > 0 ms, got {every_ms}")
        out: list[Segment] = []
        for seg in plan(since_ms, until_ms, every_ms):
            h = self.horizon(seg.level_ms)
            since = seg.since_ms if h is None else max(seg.since_ms, h)
            if since < seg.until_ms:
                out.append(Segment(seg.level_ms, since, seg.until_ms))
        return out

    def query_windows(self, sensor_ids: Sequence[str], since_ms: int, until_ms: int, every_ms: int) -> list[Window]:
        ids = list(dict.fromkeys(sensor_ids))
        if not ids:
            return []
        per_segment = [
            self._partials(seg.level_ms, ids, seg.since_ms, seg.until_ms, every_ms)
            for seg in self.window_plan(since_ms, until_ms, every_ms)
        ]
        out: list[Window] = []
        for sid in ids:
            partials = concat_partials(parts.get(sid, []) for parts in per_segment)
            out.extend([Window(sid, p.start_ms, p.total / p.count, p.min, p.max, p.last, p.count) for p in partials])
        return out

    @abstractmethod
    def _partials(
        self, level_ms: int, sensor_ids: list[str], since_ms: int, until_ms: int, every_ms: int
    ) -> dict[str, list[Partial]]:
        """Per sensor, partials of windows of ``every_ms`` from one level over ``[since, until)``.

        For rollup levels ``since``/``until`` are multiples of the level.
        """
