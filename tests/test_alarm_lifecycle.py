"""twin.alarms.lifecycle: every transition, duplicates, shelving, suppression, reminders, replay."""

from __future__ import annotations

import pytest

from twin.alarms.lifecycle import AlarmBook, CommandRejected
from twin.alarms.records import AlarmEvent, AlarmState, EventKind, event_from_dict, event_to_dict
from twin.alarms.rules import AlarmSpec, Transition

SMOKE = AlarmSpec("smoke", "f1-smoke", "sensor", "major", "alpha", ("A",), "alpha", "f1")
HOT = AlarmSpec("hot", "m1-temp", "sensor", "critical", "alpha", ("A",), "alpha", "f1", "m1")
GAS_B = AlarmSpec("gas", "b-gas", "sensor", "warning", "beta", ("B",), "beta", "fb")
FIRE_A = AlarmSpec("fire", "A", "zone", "critical", "park", ("A",), disaster=True)
FLOOD_A = AlarmSpec("flood", "A", "zone", "critical", "park", ("A",), disaster=True)


def up(spec: AlarmSpec, t: int, value: float = 1.0) -> Transition:
    return Transition(spec, True, t, value, f"{spec.source} up")


def down(spec: AlarmSpec, t: int) -> Transition:
    return Transition(spec, False, t, None, f"{spec.source} down")


def kinds(events: list[AlarmEvent]) -> list[tuple[str, str, str]]:
    return [(e.kind.value, e.alarm.id, e.alarm.state.value) for e in events]


@pytest.fixture
def book() -> AlarmBook:
    return AlarmBook(renotify_s=60, max_shelve_s=3600)


# ---- the four states -------------------------------------------------------------------------


def test_raise_ack_clear_closes(book: AlarmBook) -> None:
    ev = book.apply([up(SMOKE, 1000, 3.0)])
    assert kinds(ev) == [("raised", "alm-1", "active_unack")]
    a = ev[0].alarm
    assert (a.type, a.source, a.severity, a.owner, a.value, a.raised_ms) == (
        "smoke",
        "f1-smoke",
        "major",
        "alpha",
        3.0,
        1000,
    )
    ev = book.acknowledge("alm-1", "kim", 2000)
    assert kinds(ev) == [("acknowledged", "alm-1", "active_ack")]
    assert (ev[0].by, ev[0].alarm.acked_by, ev[0].alarm.acked_ms) == ("kim", "kim", 2000)
    ev = book.apply([down(SMOKE, 3000)])
    assert kinds(ev) == [("cleared", "alm-1", "closed")]
    assert ev[0].alarm.cleared_ms == 3000 and ev[0].alarm.closed_ms == 3000
    assert book.open == {} and book.by_key == {}


def test_clear_first_then_ack_closes(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    ev = book.apply([down(SMOKE, 2000)])
    assert kinds(ev) == [("cleared", "alm-1", "cleared_unack")]
    ev = book.acknowledge("alm-1", "lee", 3000)
    assert kinds(ev) == [("closed", "alm-1", "closed")]
    assert ev[0].alarm.acked_by == "lee" and "alm-1" not in book.open


def test_cleared_unacknowledged_alarm_comes_back_as_the_same_alarm(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    book.apply([down(SMOKE, 2000)])
    ev = book.apply([up(SMOKE, 3000)])
    assert kinds(ev) == [("reactivated", "alm-1", "active_unack")]
    assert ev[0].alarm.occurrences == 2 and ev[0].alarm.cleared_ms is None
    # once closed, the next occurrence is a new alarm
    book.acknowledge("alm-1", "kim", 3500)
    book.apply([down(SMOKE, 4000)])
    assert kinds(book.apply([up(SMOKE, 5000)])) == [("raised", "alm-2", "active_unack")]


def test_one_active_alarm_per_source_and_type(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    assert book.apply([up(SMOKE, 1500), up(SMOKE, 1600)]) == []
    book.acknowledge("alm-1", "kim", 1700)
    assert book.apply([up(SMOKE, 1800)]) == []
    # another type on the same source is another alarm
    other = AlarmSpec("smoke_rate", "f1-smoke", "sensor", "minor", "alpha", ("A",))
    assert kinds(book.apply([up(other, 1900)])) == [("raised", "alm-2", "active_unack")]
    assert len(book.open) == 2


def test_clear_of_an_unknown_or_cleared_alarm_is_ignored(book: AlarmBook) -> None:
    assert book.apply([down(SMOKE, 1000)]) == []
    book.apply([up(SMOKE, 1000)])
    book.apply([down(SMOKE, 2000)])
    assert book.apply([down(SMOKE, 2500)]) == []


# ---- commands ------------------------------------------------------------------------------------


def test_acknowledge_twice_is_rejected_and_changes_nothing(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    book.acknowledge("alm-1", "kim", 2000)
    before = book.state()
    with pytest.raises(CommandRejected) as exc:
        book.acknowledge("alm-1", "lee", 3000)
    assert exc.value.code == "already_acknowledged"
    assert book.state() == before


def test_commands_on_unknown_or_foreign_alarms_look_the_same(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])  # owner alpha
    for alarm_id, scope in (("alm-99", None), ("alm-1", "beta")):
        with pytest.raises(CommandRejected) as exc:
            book.acknowledge(alarm_id, "kim", 2000, scope=scope)
        assert exc.value.code == "unknown_alarm"
    # the owner's own scope and the park's (control centre) may act
    assert book.comment("alm-1", "kim", "on my way", 2000, scope="alpha")
    assert book.acknowledge("alm-1", "op", 2100, scope="park")


def test_comments_record_who_and_when(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    book.comment("alm-1", "kim", "crew sent", 2000)
    ev = book.comment("alm-1", "lee", "false alarm: welding", 3000)
    assert ev[0].kind is EventKind.COMMENTED and ev[0].detail == "false alarm: welding"
    assert [(c.user, c.ts_ms, c.text) for c in ev[0].alarm.comments] == [
        ("kim", 2000, "crew sent"),
        ("lee", 3000, "false alarm: welding"),
    ]
    assert ev[0].alarm.state is AlarmState.ACTIVE_UNACK  # a comment is not an acknowledgement


# ---- shelving ------------------------------------------------------------------------------------


def test_shelve_expires_and_covers_new_alarms_of_the_key(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    ev = book.shelve("alm-1", "kim", 600, 2000, reason="detector replaced")
    assert ev[0].kind is EventKind.SHELVED and ev[0].alarm.shelved_until_ms == 602_000
    assert ev[0].alarm.shelved_by == "kim" and not ev[0].alarm.needs_operator
    # the alarm clears, is acknowledged, and comes back while the shelf holds: born shelved
    book.apply([down(SMOKE, 3000)])
    book.acknowledge("alm-1", "kim", 4000)
    ev = book.apply([up(SMOKE, 5000)])
    assert ev[0].alarm.id == "alm-2" and ev[0].alarm.shelved_until_ms == 602_000
    assert book.tick(601_999) == []
    ev = book.tick(602_000)
    assert kinds(ev) == [("unshelved", "alm-2", "active_unack")]
    assert ev[0].detail == "shelf expired" and ev[0].alarm.needs_operator
    assert book.shelves == {}


def test_shelve_limits_and_unshelve(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000)])
    for bad in (0, -5, 3601):
        with pytest.raises(CommandRejected) as exc:
            book.shelve("alm-1", "kim", bad, 2000)
        assert exc.value.code == "bad_duration"
    with pytest.raises(CommandRejected):
        book.unshelve("alm-1", "kim", 2000)
    book.shelve("alm-1", "kim", 3600, 2000)
    ev = book.unshelve("alm-1", "lee", 3000)
    assert kinds(ev) == [("unshelved", "alm-1", "active_unack")] and ev[0].by == "lee"
    assert book.shelves == {}


# ---- suppression during a zone disaster ----------------------------------------------------------


def test_zone_disaster_suppresses_dependent_alarms_in_its_zone_only(book: AlarmBook) -> None:
    book.apply([up(SMOKE, 1000), up(GAS_B, 1000)])
    ev = book.apply([up(FIRE_A, 2000)])
    assert kinds(ev) == [
        ("raised", "alm-3", "active_unack"),
        ("suppressed", "alm-1", "active_unack"),
    ]
    assert ev[1].alarm.suppressed_by == "alm-3" and not ev[1].alarm.needs_operator
    # a new alarm in zone A during the fire is born suppressed; zone B is untouched
    ev = book.apply([up(HOT, 2500)])
    assert ev[0].alarm.suppressed_by == "alm-3"
    assert book.get("alm-2").suppressed_by is None  # gas in zone B
    # a dependent alarm that clears while suppressed closes by itself: nobody must acknowledge it
    ev = book.apply([down(HOT, 2600)])
    assert kinds(ev) == [("cleared", "alm-4", "closed")] and ev[0].detail == "cleared while suppressed"
    # the fire clears: the smoke alarm, still active, is announced again
    ev = book.apply([down(FIRE_A, 3000)])
    assert kinds(ev) == [
        ("cleared", "alm-3", "cleared_unack"),
        ("unsuppressed", "alm-1", "active_unack"),
    ]
    assert ev[1].alarm.notified_ms == 3000


def test_disaster_raise_and_dependent_raise_in_one_batch(book: AlarmBook) -> None:
    ev = book.apply([up(SMOKE, 1000), up(FIRE_A, 1000)])
    smoke = next(e.alarm for e in ev if e.alarm.type == "smoke")
    assert smoke.suppressed_by is not None
    assert [e.kind for e in ev] == [
        EventKind.RAISED,
        EventKind.RAISED,
    ]  # no raise-then-suppress flash


def test_second_disaster_takes_over_the_suppression(book: AlarmBook) -> None:
    book.apply([up(FIRE_A, 1000), up(FLOOD_A, 1000), up(SMOKE, 1100)])
    fire, flood = book.for_key(FIRE_A.key), book.for_key(FLOOD_A.key)
    assert book.for_key(SMOKE.key).suppressed_by == fire.id
    ev = book.apply([down(FIRE_A, 2000)])
    assert kinds(ev)[-1] == ("suppressed", book.for_key(SMOKE.key).id, "active_unack")
    assert book.for_key(SMOKE.key).suppressed_by == flood.id


# ---- reminders -----------------------------------------------------------------------------------


def test_unacknowledged_critical_alarms_are_renotified(book: AlarmBook) -> None:
    book.apply([up(HOT, 0), up(SMOKE, 0)])  # critical and major
    assert book.tick(59_999) == []
    ev = book.tick(60_000)
    assert kinds(ev) == [("renotified", "alm-1", "active_unack")] and ev[0].alarm.renotifications == 1
    assert book.tick(100_000) == []
    assert [e.alarm.renotifications for e in book.tick(120_000)] == [2]
    book.acknowledge("alm-1", "kim", 130_000)
    assert book.tick(500_000) == []


def test_shelved_critical_alarms_are_not_renotified(book: AlarmBook) -> None:
    book.apply([up(HOT, 0)])
    book.shelve("alm-1", "kim", 3600, 1000)
    assert book.tick(1_000_000) == []


# ---- replay --------------------------------------------------------------------------------------


def test_replaying_the_events_rebuilds_exactly_the_same_state(book: AlarmBook) -> None:
    events: list[AlarmEvent] = []
    events += book.apply([up(SMOKE, 1000), up(GAS_B, 1000), up(HOT, 1000)])
    events += book.acknowledge("alm-1", "kim", 2000)
    events += book.shelve("alm-2", "lee", 600, 2100)
    events += book.comment("alm-3", "op", "checking", 2200)
    events += book.apply([up(FIRE_A, 2300)])
    events += book.apply([down(GAS_B, 2400)])
    events += book.tick(70_000)
    # through the JSON form, as in the journal
    again = AlarmBook(renotify_s=60, max_shelve_s=3600)
    again.replay(event_from_dict(event_to_dict(e)) for e in events)
    assert again.state() == book.state()
    # and the rebuilt book goes on numbering where the old one stopped
    assert again.apply([up(AlarmSpec("x", "y", "sensor", "minor", "alpha", ()), 80_000)])[0].alarm.id == "alm-5"
