"""What every page needs, built once per app: the complex, the historian, the clock.

Read-only and shared by all users; per-user state lives in the browser (``dcc.Store``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo

from dashboards.alarm_feed import AlarmFeed
from dashboards.alarm_journal import JournalHistory
from dashboards.data import HistorianSource
from dashboards.site import SiteIndex
from dashboards.trend import site_zone
from twin.model import Complex
from twin.timespec import now_ms

__all__ = ["DashboardContext"]


@dataclass(frozen=True)
class DashboardContext:
    """Shared, immutable inputs of the pages and their callbacks."""

    complex: Complex
    historian: HistorianSource
    #: The broker of the live twin: alarms are read and acted on through it.
    broker_url: str | None = None
    #: Epoch milliseconds now; injectable so tests are deterministic.
    clock: Callable[[], int] = now_ms
    #: The live twin's alarm journal (``alarms.jsonl``): the alarm history is read from it.
    alarm_journal: str | None = None
    site: SiteIndex = field(init=False)
    #: Open alarms and alarm commands through the live twin (connects on first use).
    alarms: AlarmFeed = field(init=False)
    #: Alarm history from the journal (read incrementally on use).
    history: JournalHistory = field(init=False)
    tz: tzinfo = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "site", SiteIndex(self.complex))
        object.__setattr__(self, "alarms", AlarmFeed(self.broker_url))
        object.__setattr__(self, "history", JournalHistory(self.alarm_journal))
        object.__setattr__(self, "tz", site_zone(self.complex.site.timezone))
