"""Alarm records and alarm events: frozen values and their JSON form (pure, no I/O).

An :class:`Alarm` is the whole truth about one alarm at one moment; every
:class:`AlarmEvent` carries the alarm as it is *after* the transition. That makes
each event self-contained for a dashboard, and makes the journal replayable by
simply keeping the last record of each alarm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from twin.errors import TwinError

__all__ = [
    "AlarmState",
    "EventKind",
    "Comment",
    "Alarm",
    "AlarmEvent",
    "AlarmKey",
    "RecordError",
    "SYSTEM_USER",
    "DISASTER_TYPES",
    "event_to_dict",
    "event_from_dict",
    "alarm_to_dict",
    "alarm_from_dict",
]

#: Who caused transitions that no person caused (rules, timers).
SYSTEM_USER = "system"
#: Alarm types of the composite disaster rules (zone- or complex-level).
DISASTER_TYPES = frozenset({"fire", "gas_leak", "flood", "earthquake", "power_outage"})
#: Comments kept per alarm (the journal keeps them all).
MAX_COMMENTS = 100

#: (source, type): at most one open alarm per key.
AlarmKey = tuple[str, str]


class RecordError(TwinError):
    """A stored or received alarm record is not valid."""


class AlarmState(StrEnum):
    """The four states of ISA-18.2 / ThingsBoard: active or cleared x acknowledged or not."""

    ACTIVE_UNACK = "active_unack"
    ACTIVE_ACK = "active_ack"
    CLEARED_UNACK = "cleared_unack"
    CLOSED = "closed"  # cleared and acknowledged: the alarm is over

    @property
    def active(self) -> bool:
        return self in (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK)

    @property
    def acknowledged(self) -> bool:
        return self in (AlarmState.ACTIVE_ACK, AlarmState.CLOSED)


class EventKind(StrEnum):
    RAISED = "raised"  # a new alarm
    REACTIVATED = "reactivated"  # cleared-unacknowledged alarm whose condition came back
    CLEARED = "cleared"  # condition gone (state cleared_unack, or closed if already acknowledged)
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"  # acknowledged while cleared, or cleared while suppressed
    COMMENTED = "commented"
    SHELVED = "shelved"
    UNSHELVED = "unshelved"  # by command or when the shelf expires
    SUPPRESSED = "suppressed"  # a zone disaster alarm hides it
    UNSUPPRESSED = "unsuppressed"
    RENOTIFIED = "renotified"  # reminder: an active critical alarm is still unacknowledged


@dataclass(frozen=True, slots=True)
class Comment:
    ts_ms: int
    user: str
    text: str


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm: where it comes from, its state, and who did what when."""

    id: str
    type: str
    source: str  # sensor, device, zone or site id the alarm is about
    source_kind: str  # "sensor", "device", "zone" or "complex"
    severity: str
    state: AlarmState
    owner: str  # tenant id or "park": the topic owner of its events
    zones: tuple[str, ...]
    tenant: str | None
    factory: str | None
    machine: str | None
    disaster: bool  # a composite disaster alarm (suppresses dependent alarms in its zones)
    message: str
    value: float | None  # the value that tripped the rule (None for stale or composite)
    raised_ms: int  # first raised
    active_ms: int  # last (re)activation
    cleared_ms: int | None = None
    acked_ms: int | None = None
    acked_by: str | None = None
    closed_ms: int | None = None
    shelved_until_ms: int | None = None
    shelved_by: str | None = None
    suppressed_by: str | None = None  # id of the disaster alarm hiding this one
    notified_ms: int = 0  # last time it was announced (raise, unsuppress, reminder)
    renotifications: int = 0
    occurrences: int = 1  # raised + reactivated
    comments: tuple[Comment, ...] = field(default=())

    @property
    def key(self) -> AlarmKey:
        return (self.source, self.type)

    @property
    def shelved(self) -> bool:
        return self.shelved_until_ms is not None

    @property
    def suppressed(self) -> bool:
        return self.suppressed_by is not None

    @property
    def needs_operator(self) -> bool:
        """Unacknowledged, and neither shelved nor suppressed."""
        return not self.state.acknowledged and not self.shelved and not self.suppressed


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition of one alarm; ``seq`` orders every event of a live twin."""

    seq: int
    ts_ms: int
    kind: EventKind
    by: str
    alarm: Alarm
    detail: str = ""


# ---- JSON form (shared by MQTT events and the journal) ---------------------------------


def _num(v: float | None) -> float | None:
    return v if v is None or math.isfinite(v) else None


def alarm_to_dict(a: Alarm) -> dict[str, Any]:
    d = asdict(a)
    d["state"] = a.state.value
    d["zones"] = list(a.zones)
    d["value"] = _num(a.value)
    d["comments"] = [{"ts": c.ts_ms, "user": c.user, "text": c.text} for c in a.comments]
    return d


_ALARM_FIELDS = {f for f in Alarm.__dataclass_fields__}


def alarm_from_dict(d: Any) -> Alarm:
    """The alarm of :func:`alarm_to_dict`; :class:`RecordError` if it is not one."""
    if not isinstance(d, dict):
        raise RecordError("alarm record must be an object")
    missing = {"id", "type", "source", "severity", "state", "owner", "raised_ms"} - d.keys()
    if missing:
        raise RecordError(f"alarm record lacks {sorted(missing)}")
    try:
        kw = {k: v for k, v in d.items() if k in _ALARM_FIELDS}
        kw["state"] = AlarmState(d["state"])
        kw["zones"] = tuple(d.get("zones") or ())
        kw["comments"] = tuple(Comment(int(c["ts"]), str(c["user"]), str(c["text"])) for c in d.get("comments") or ())
        return Alarm(**kw)
    except (TypeError, ValueError, KeyError) as exc:
        raise RecordError(f"bad alarm record {str(d.get('id'))[:40]!r}: {exc}") from None


def event_to_dict(e: AlarmEvent) -> dict[str, Any]:
    return {
        "v": 1,
        "seq": e.seq,
        "ts": e.ts_ms,
        "event": e.kind.value,
        "by": e.by,
        "detail": e.detail,
        "alarm": alarm_to_dict(e.alarm),
    }


def event_from_dict(d: Any) -> AlarmEvent:
    if not isinstance(d, dict):
        raise RecordError("alarm event must be an object")
    try:
        return AlarmEvent(
            seq=int(d["seq"]),
            ts_ms=int(d["ts"]),
            kind=EventKind(d["event"]),
            by=str(d["by"]),
            alarm=alarm_from_dict(d["alarm"]),
            detail=str(d.get("detail", "")),
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise RecordError(f"bad alarm event: {exc}") from None
