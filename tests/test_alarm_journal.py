"""twin.alarms.journal: durable append, replay, and a torn last line after a crash."""

from __future__ import annotations

from pathlib import Path

from twin.alarms.journal import JOURNAL_NAME, AlarmJournal, read_events
from twin.alarms.lifecycle import AlarmBook
from twin.alarms.rules import AlarmSpec, Transition

SPEC = AlarmSpec("smoke", "f1-smoke", "sensor", "major", "alpha", ("A",), "alpha", "f1")


def some_events() -> tuple[AlarmBook, list]:
    book = AlarmBook()
    ev = book.apply([Transition(SPEC, True, 1000, 2.5, "smoke 2.5")])
    ev += book.acknowledge("alm-1", "kim", 2000)
    ev += book.comment("alm-1", "kim", 'ünïcode ✓ and "quotes"', 2100)
    return book, ev


def test_append_then_replay_gives_the_same_book(tmp_path: Path) -> None:
    book, ev = some_events()
    j = AlarmJournal(tmp_path)
    j.append(ev[:1])
    j.append(ev[1:])
    j.close()
    again = AlarmBook()
    again.replay(AlarmJournal(tmp_path).events())
    assert again.state() == book.state()
    assert [e.seq for e in read_events(tmp_path / JOURNAL_NAME)] == [1, 2, 3]


def test_a_torn_last_line_is_ignored_and_cut(tmp_path: Path) -> None:
    book, ev = some_events()
    j = AlarmJournal(tmp_path)
    j.append(ev)
    j.close()
    path = tmp_path / JOURNAL_NAME
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"v": 1, "seq": 4, "ts": 30')  # died in the middle of a write
    assert len(list(read_events(path))) == 3
    j = AlarmJournal(tmp_path)  # reopening cuts the torn tail, so the next event starts a clean line
    assert path.read_bytes() == whole
    j.append(book.comment("alm-1", "lee", "later", 4000))
    j.close()
    assert [e.seq for e in read_events(path)] == [1, 2, 3, 4]


def test_missing_journal_is_an_empty_history(tmp_path: Path) -> None:
    assert list(read_events(tmp_path / "nope.jsonl")) == []
    assert list(AlarmJournal(tmp_path / "new").events()) == []
