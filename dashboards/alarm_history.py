"""Alarm history for the console: fold journal events into alarms, validate filters, filter.

Pure: no I/O. The events come from the live twin's journal (read by
:mod:`dashboards.alarm_journal`); the filter values come from the browser and are
checked here against the complex config before anything is filtered.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from twin.alarms.records import Alarm, AlarmEvent, AlarmState
from twin.model import PARK_OWNER, Complex

__all__ = [
    "DEFAULT_RANGE",
    "HISTORY_RANGES",
    "MAX_ALARMS",
    "MAX_ROWS",
    "STATES",
    "HistoryFilter",
    "HistoryIndex",
    "filter_alarms",
    "parse_filter",
]

#: Preset time ranges of the history: key -> (label, length in ms).
HISTORY_RANGES: dict[str, tuple[str, int]] = {
    "1h": ("1 h", 3_600_000),
    "24h": ("24 h", 86_400_000),
    "7d": ("7 days", 7 * 86_400_000),
    "30d": ("30 days", 30 * 86_400_000),
    "365d": ("1 year", 365 * 86_400_000),
}
DEFAULT_RANGE = "7d"
#: Longest custom date range accepted (days).
MAX_SPAN_DAYS = 366
#: Rows shown at most (newest first); the status line says how many matched.
MAX_ROWS = 500
#: Alarms kept in memory per worker; the oldest are forgotten first (the journal keeps them all).
MAX_ALARMS = 50_000
#: State filter values: every alarm, only closed ones, only open ones.
STATES = ("closed", "open")

_SEVERITIES = ("critical", "major", "minor", "warning")
_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class HistoryIndex:
    """The latest version of every alarm seen in a stream of events, oldest alarm first."""

    def __init__(self, max_alarms: int = MAX_ALARMS):
        self.max_alarms = max_alarms
        self._alarms: dict[str, Alarm] = {}
        self.last_seq = -1

    def __len__(self) -> int:
        return len(self._alarms)

    def apply(self, events: Iterable[AlarmEvent]) -> None:
        for e in events:
            self._alarms[e.alarm.id] = e.alarm  # the alarm after the transition
            self.last_seq = max(self.last_seq, e.seq)
        while len(self._alarms) > self.max_alarms:
            del self._alarms[next(iter(self._alarms))]

    def alarms(self) -> list[Alarm]:
        return list(self._alarms.values())


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """A validated filter: ``None`` means any."""

    since_ms: int
    until_ms: int
    zone: str | None = None
    tenant: str | None = None  # a tenant id, or "park" (the control centre's own alarms)
    severity: str | None = None
    type: str | None = None
    state: str | None = None  # "closed", "open" or None


def _blank(v: object) -> bool:
    return v is None or v == "" or v == []


def _one_of(value: object, allowed: Collection[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _day(value: object) -> date:
    """The date of a DatePickerRange value ('YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS'); raise ValueError."""
    if not isinstance(value, str) or len(value) > 32 or not _DATE.match(value):
        raise ValueError("dates must look like YYYY-MM-DD")
    return date.fromisoformat(value[:10])


def _ms(d: date, tz: tzinfo) -> int:
    return int(datetime.combine(d, time(0), tz).timestamp() * 1000)


def parse_filter(
    complex_: Complex, raw: Mapping[str, object], now_ms: int, tz: tzinfo
) -> tuple[HistoryFilter | None, str]:
    """A filter from browser values, or ``(None, why)``; never raises on hostile input.

    ``raw`` keys: ``range`` (a :data:`HISTORY_RANGES` key), ``start``/``end`` (dates, the end
    inclusive; they override the range), ``zone``, ``tenant``, ``severity``, ``type``, ``state``.
    """
    zones = {z.id for z in complex_.zones}
    tenants = {t.id for t in complex_.tenants} | {PARK_OWNER}
    zone, tenant, severity, type_, state = (raw.get(k) for k in ("zone", "tenant", "severity", "type", "state"))
    if not _blank(zone) and not _one_of(zone, zones):
        return None, "unknown zone"
    if not _blank(tenant) and not _one_of(tenant, tenants):
        return None, "unknown tenant"
    if not _blank(severity) and not _one_of(severity, _SEVERITIES):
        return None, "unknown severity"
    if not _blank(type_) and not (isinstance(type_, str) and _TYPE.fullmatch(type_)):
        return None, "alarm types are 1-64 letters, digits, '_' or '-'"
    if not _blank(state) and not _one_of(state, STATES):
        return None, "unknown state filter"
    range_key, start, end = raw.get("range"), raw.get("start"), raw.get("end")
    if not isinstance(range_key, str) or range_key not in HISTORY_RANGES:
        return None, "unknown time range"
    until = now_ms
    since = now_ms - HISTORY_RANGES[range_key][1]
    try:
        if not _blank(end):
            until = _ms(_day(end) + timedelta(days=1), tz)
        if not _blank(start):
            since = _ms(_day(start), tz)
        elif not _blank(end):
            since = until - HISTORY_RANGES[range_key][1]
    except (ValueError, OverflowError, OSError):
        return None, "dates must be real days (YYYY-MM-DD)"
    if since >= until:
        return None, "the start date must not be after the end date"
    if until - since > MAX_SPAN_DAYS * 86_400_000 + 3_600_000:  # an hour of slack for DST
        return None, f"at most {MAX_SPAN_DAYS} days at a time"
    return (
        HistoryFilter(
            since_ms=since,
            until_ms=until,
            zone=None if _blank(zone) else zone,  # type: ignore[arg-type]
            tenant=None if _blank(tenant) else tenant,  # type: ignore[arg-type]
            severity=None if _blank(severity) else severity,  # type: ignore[arg-type]
            type=None if _blank(type_) else type_,  # type: ignore[arg-type]
            state=None if _blank(state) else state,  # type: ignore[arg-type]
        ),
        "",
    )


def _matches(a: Alarm, f: HistoryFilter) -> bool:
    if a.raised_ms >= f.until_ms:
        return False
    if a.closed_ms is not None and a.closed_ms < f.since_ms:  # over before the range began
        return False
    closed = a.state is AlarmState.CLOSED
    if f.state == "closed" and not closed or f.state == "open" and closed:
        return False
    if f.zone is not None and f.zone not in a.zones:
        return False
    if f.tenant is not None and (a.tenant or PARK_OWNER) != f.tenant:
        return False
    if f.severity is not None and a.severity != f.severity:
        return False
    return f.type is None or a.type == f.type


def filter_alarms(alarms: Sequence[Alarm], f: HistoryFilter) -> list[Alarm]:
    """Alarms present during the range that match every filter, newest raised first."""
    return sorted((a for a in alarms if _matches(a, f)), key=lambda a: (a.raised_ms, a.id), reverse=True)
