"""What one refresh of the overview reads: newest readings, the live twin's KPIs, open alarms.

The only I/O of the overview's live parts, done once per refresh so the map and the
tiles show the same moment. Failures become ``None`` plus a reason (shown on the page);
they never raise into a callback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dashboards.alarm_feed import AlarmsUnavailable
from dashboards.context import DashboardContext
from dashboards.kpi_tiles import complex_kpi_ids
from twin.codec import Reading
from twin.errors import HistorianError

__all__ = ["LiveRead", "read_live"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveRead:
    now_ms: int
    #: Newest reading of every sensor and KPI series that has one; None: historian unavailable.
    latest: dict[str, Reading] | None
    historian_problem: str | None
    #: Every open alarm (every owner); None: no broker configured or it does not answer.
    alarms: list[dict[str, Any]] | None
    alarms_problem: str | None


def read_live(ctx: DashboardContext) -> LiveRead:
    now = ctx.clock()
    ids = [*ctx.complex.sensors, *complex_kpi_ids()]
    try:
        latest: dict[str, Reading] | None = ctx.historian.latest(ids)
        h_problem = None
    except HistorianError as exc:
        log.warning("overview: historian unavailable: %s", exc)
        latest, h_problem = None, "historian unavailable"
    try:
        alarms: list[dict[str, Any]] | None = ctx.alarms.open_alarms()
        a_problem = None
    except AlarmsUnavailable as exc:
        log.debug("overview: alarms unavailable: %s", exc)
        alarms, a_problem = None, f"alarms unavailable: {exc}"
    return LiveRead(now, latest, h_problem, alarms, a_problem)
