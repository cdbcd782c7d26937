"""The alarm lifecycle: a pure state machine over open alarms (no I/O, time passed in).

States (ISA-18.2, ThingsBoard)::

    (condition true) --raised--> ACTIVE_UNACK --ack--> ACTIVE_ACK
         ACTIVE_UNACK --cleared--> CLEARED_UNACK --ack--> CLOSED
         ACTIVE_ACK   --cleared--> CLOSED
         CLEARED_UNACK --condition true again--> ACTIVE_UNACK (reactivated, same alarm)

- One open alarm per (source, type): a condition that is already alarmed raises nothing.
- Shelving belongs to the (source, type) for a bounded time: the alarm and any new one
  of that key stay shelved (not announced) until the shelf expires or is removed.
- While a disaster alarm is active, other alarms in its zones are suppressed (recorded,
  not announced); one that clears while suppressed closes on its own, since nobody
  was ever asked to look at it.
- Active critical alarms nobody acknowledged are announced again every ``renotify_s``.

Every change returns :class:`~twin.alarms.records.AlarmEvent` s; applying the same
events to an empty book (:meth:`AlarmBook.replay`) rebuilds the same state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from twin.alarms.records import (
    MAX_COMMENTS,
    SYSTEM_USER,
    Alarm,
    AlarmEvent,
    AlarmKey,
    AlarmState,
    Comment,
    EventKind,
)
from twin.alarms.rules import Transition
from twin.errors import TwinError

__all__ = ["AlarmBook", "CommandRejected", "Shelf", "ALARM_ID_PREFIX"]

ALARM_ID_PREFIX = "alm-"

_replace = dataclasses.replace


class CommandRejected(TwinError):
    """An operator command cannot be applied; ``code`` is machine-readable."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True, slots=True)
class Shelf:
    """A (source, type) shelved by ``by`` at ``at_ms`` until ``until_ms``."""

    until_ms: int
    by: str
    at_ms: int


class AlarmBook:
    """Open alarms, shelves and the event sequence of one live twin."""

    def __init__(self, renotify_s: float = 300.0, max_shelve_s: float = 8 * 3600.0):
        self.renotify_ms = round(renotify_s * 1000)
        self.max_shelve_ms = round(max_shelve_s * 1000)
        self.open: dict[str, Alarm] = {}
        self.by_key: dict[AlarmKey, str] = {}
        self.shelves: dict[AlarmKey, Shelf] = {}
        self.seq = 0
        self._next_id = 1

    # ---- queries -----------------------------------------------------------------

    def get(self, alarm_id: str) -> Alarm | None:
        return self.open.get(alarm_id)

    def for_key(self, key: AlarmKey) -> Alarm | None:
        aid = self.by_key.get(key)
        return self.open.get(aid) if aid else None

    def active_keys(self) -> list[AlarmKey]:
        return [a.key for a in self.open.values() if a.state.active]

    def active_disasters(self) -> list[Alarm]:
        return [a for a in self.open.values() if a.disaster and a.state.active]

    def state(self) -> tuple[dict[str, Alarm], dict[AlarmKey, Shelf], int, int]:
        """Everything that must survive a restart (compare two books with this)."""
        return dict(self.open), dict(self.shelves), self.seq, self._next_id

    # ---- events ------------------------------------------------------------------------

    def _emit(
        self,
        out: list[AlarmEvent],
        ts: int,
        kind: EventKind,
        alarm: Alarm,
        by: str = SYSTEM_USER,
        detail: str = "",
    ) -> Alarm:
        self.seq += 1
        e = AlarmEvent(self.seq, ts, kind, by, alarm, detail)
        self._apply(e)
        out.append(e)
        return alarm

    def _apply(self, e: AlarmEvent) -> None:
        """Bring the book to the state after ``e`` (used live and on replay)."""
        a = e.alarm
        self.seq = max(self.seq, e.seq)
        if a.id.startswith(ALARM_ID_PREFIX):
            try:
                self._next_id = max(self._next_id, int(a.id[len(ALARM_ID_PREFIX) :]) + 1)
            except ValueError:
                pass
        if a.state is AlarmState.CLOSED:
            self.open.pop(a.id, None)
            if self.by_key.get(a.key) == a.id:
                del self.by_key[a.key]
        else:
            self.open[a.id] = a
            self.by_key[a.key] = a.id
        if e.kind is EventKind.SHELVED and a.shelved_until_ms is not None:
            self.shelves[a.key] = Shelf(a.shelved_until_ms, a.shelved_by or e.by, e.ts_ms)
        elif e.kind is EventKind.UNSHELVED:
            self.shelves.pop(a.key, None)

    def replay(self, events: Iterable[AlarmEvent]) -> None:
        """Rebuild from a journal: the state after the last event."""
        for e in events:
            self._apply(e)

    # ---- transitions from the rules -----------------------------------------------------

    def apply(self, transitions: Iterable[Transition], now_ms: int | None = None) -> list[AlarmEvent]:
        """Turn rule transitions into alarm events. Disaster raises go first, so alarms
        they make dependent are born suppressed."""
        out: list[AlarmEvent] = []
        ts_list = list(transitions)
        ordered = [t for t in ts_list if t.spec.disaster and t.active] + [
            t for t in ts_list if not (t.spec.disaster and t.active)
        ]
        for t in ordered:
            if t.active:
                self._raise(t, out)
            else:
                self._clear(t, out)
        return out

    def _suppressor(self, zones: tuple[str, ...], exclude: str | None = None) -> str | None:
        if not zones:
            return None
        for d in self.active_disasters():
            if d.id != exclude and set(d.zones) & set(zones):
                return d.id
        return None

    def _raise(self, t: Transition, out: list[AlarmEvent]) -> None:
        spec = t.spec
        zones = t.zones if t.zones is not None else spec.zones
        existing = self.for_key(spec.key)
        shelf = self.shelves.get(spec.key)
        if existing is not None:
            if existing.state.active:
                return  # one active alarm per source and type: nothing new to say
            # cleared but not yet acknowledged: the same alarm is active again
            sup = None if spec.disaster else self._suppressor(zones)
            a = _replace(
                existing,
                state=AlarmState.ACTIVE_UNACK,
                active_ms=t.ts_ms,
                cleared_ms=None,
                value=t.value,
                message=t.message or existing.message,
                zones=zones,
                suppressed_by=sup,
                occurrences=existing.occurrences + 1,
                notified_ms=t.ts_ms,
                renotifications=0,
            )
            self._emit(out, t.ts_ms, EventKind.REACTIVATED, a)
        else:
            aid = f"{ALARM_ID_PREFIX}{self._next_id}"
            self._next_id += 1
            sup = None if spec.disaster else self._suppressor(zones)
            a = Alarm(
                id=aid,
                type=spec.type,
                source=spec.source,
                source_kind=spec.source_kind,
                severity=spec.severity,
                state=AlarmState.ACTIVE_UNACK,
                owner=spec.owner,
                zones=zones,
                tenant=spec.tenant,
                factory=spec.factory,
                machine=spec.machine,
                disaster=spec.disaster,
                message=t.message,
                value=t.value,
                raised_ms=t.ts_ms,
                active_ms=t.ts_ms,
                shelved_until_ms=shelf.until_ms if shelf else None,
                shelved_by=shelf.by if shelf else None,
                suppressed_by=sup,
                notified_ms=t.ts_ms,
            )
            self._emit(out, t.ts_ms, EventKind.RAISED, a)
        if spec.disaster:
            self._suppress_dependents(a, t.ts_ms, out)

    def _suppress_dependents(self, disaster: Alarm, ts: int, out: list[AlarmEvent]) -> None:
        zones = set(disaster.zones)
        for a in list(self.open.values()):
            if a.disaster or a.suppressed or not a.state.active or not zones & set(a.zones):
                continue
            self._emit(
                out,
                ts,
                EventKind.SUPPRESSED,
                _replace(a, suppressed_by=disaster.id),
                detail=f"{disaster.type} in {', '.join(sorted(zones & set(a.zones)))}",
            )

    def _clear(self, t: Transition, out: list[AlarmEvent]) -> None:
        a = self.for_key(t.key)
        if a is None or not a.state.active:
            return
        msg = t.message or a.message
        if a.state is AlarmState.ACTIVE_ACK or a.suppressed:
            closed = _replace(a, state=AlarmState.CLOSED, cleared_ms=t.ts_ms, closed_ms=t.ts_ms, message=msg)
            detail = "cleared while suppressed" if a.suppressed and a.state is AlarmState.ACTIVE_UNACK else ""
            self._emit(out, t.ts_ms, EventKind.CLEARED, closed, detail=detail)
        else:
            self._emit(
                out,
                t.ts_ms,
                EventKind.CLEARED,
                _replace(a, state=AlarmState.CLEARED_UNACK, cleared_ms=t.ts_ms, message=msg),
            )
        if a.disaster:
            self._release_dependents(a, t.ts_ms, out)

    def _release_dependents(self, disaster: Alarm, ts: int, out: list[AlarmEvent]) -> None:
        for a in list(self.open.values()):
            if a.suppressed_by != disaster.id:
                continue
            other = self._suppressor(a.zones, exclude=disaster.id)
            if other is not None:  # another disaster still covers it: hand over, stay quiet
                self._emit(
                    out,
                    ts,
                    EventKind.SUPPRESSED,
                    _replace(a, suppressed_by=other),
                    detail="still inside an active disaster",
                )
            elif not a.state.active:
                self._emit(
                    out,
                    ts,
                    EventKind.CLOSED,
                    _replace(a, suppressed_by=None, state=AlarmState.CLOSED, closed_ms=ts),
                    detail="cleared while suppressed",
                )
            else:
                self._emit(out, ts, EventKind.UNSUPPRESSED, _replace(a, suppressed_by=None, notified_ms=ts))

    # ---- timers ------------------------------------------------------------------------------

    def tick(self, now_ms: int) -> list[AlarmEvent]:
        """Expire shelves and remind of unacknowledged active critical alarms."""
        out: list[AlarmEvent] = []
        for key, shelf in list(self.shelves.items()):
            if now_ms >= shelf.until_ms:
                a = self.for_key(key)
                if a is None:
                    del self.shelves[key]
                else:
                    self._emit(
                        out,
                        now_ms,
                        EventKind.UNSHELVED,
                        _replace(a, shelved_until_ms=None, shelved_by=None, notified_ms=now_ms),
                        detail="shelf expired",
                    )
        for a in list(self.open.values()):
            if (
                a.severity == "critical"
                and a.state is AlarmState.ACTIVE_UNACK
                and not a.shelved
                and not a.suppressed
                and now_ms - a.notified_ms >= self.renotify_ms
            ):
                self._emit(
                    out,
                    now_ms,
                    EventKind.RENOTIFIED,
                    _replace(a, notified_ms=now_ms, renotifications=a.renotifications + 1),
                )
        return out

    # ---- operator commands ------------------------------------------------------------------

    def _target(self, alarm_id: str, scope: str | None) -> Alarm:
        a = self.open.get(alarm_id)
        # an alarm of another owner looks exactly like one that does not exist
        if a is None or (scope is not None and scope != "park" and scope != a.owner):
            raise CommandRejected("unknown_alarm", f"no open alarm {alarm_id[:64]!r}")
        return a

    def acknowledge(self, alarm_id: str, user: str, now_ms: int, scope: str | None = None) -> list[AlarmEvent]:
        a = self._target(alarm_id, scope)
        out: list[AlarmEvent] = []
        if a.state is AlarmState.ACTIVE_UNACK:
            self._emit(
                out,
                now_ms,
                EventKind.ACKNOWLEDGED,
                _replace(a, state=AlarmState.ACTIVE_ACK, acked_ms=now_ms, acked_by=user),
                by=user,
            )
        elif a.state is AlarmState.CLEARED_UNACK:
            self._emit(
                out,
                now_ms,
                EventKind.CLOSED,
                _replace(a, state=AlarmState.CLOSED, acked_ms=now_ms, acked_by=user, closed_ms=now_ms),
                by=user,
                detail="acknowledged after it cleared",
            )
        else:
            raise CommandRejected("already_acknowledged", f"{a.id} was acknowledged by {a.acked_by} at {a.acked_ms}")
        return out

    def comment(self, alarm_id: str, user: str, text: str, now_ms: int, scope: str | None = None) -> list[AlarmEvent]:
        a = self._target(alarm_id, scope)
        comments = (*a.comments, Comment(now_ms, user, text))[-MAX_COMMENTS:]
        out: list[AlarmEvent] = []
        self._emit(out, now_ms, EventKind.COMMENTED, _replace(a, comments=comments), by=user, detail=text)
        return out

    def shelve(
        self,
        alarm_id: str,
        user: str,
        duration_s: float,
        now_ms: int,
        scope: str | None = None,
        reason: str = "",
    ) -> list[AlarmEvent]:
        a = self._target(alarm_id, scope)
        ms = round(duration_s * 1000)
        if not 0 < ms <= self.max_shelve_ms:
            raise CommandRejected("bad_duration", f"shelve for more than 0 and at most {self.max_shelve_ms // 1000} s")
        until = now_ms + ms
        out: list[AlarmEvent] = []
        self._emit(
            out,
            now_ms,
            EventKind.SHELVED,
            _replace(a, shelved_until_ms=until, shelved_by=user),
            by=user,
            detail=reason,
        )
        return out

    def unshelve(self, alarm_id: str, user: str, now_ms: int, scope: str | None = None) -> list[AlarmEvent]:
        a = self._target(alarm_id, scope)
        if not a.shelved:
            raise CommandRejected("not_shelved", f"{a.id} is not shelved")
        out: list[AlarmEvent] = []
        self._emit(
            out,
            now_ms,
            EventKind.UNSHELVED,
            _replace(a, shelved_until_ms=None, shelved_by=None, notified_ms=now_ms),
            by=user,
        )
        return out
