"""In-memory newest windows (pure): exact rollups without reading back, loads only when needed."""

from __future__ import annotations

from twin.historian.open_windows import OpenWindows
from twin.historian.rollups import HOUR_MS, MINUTE_MS, Partial

T = 1_800_000_000_000 - 1_800_000_000_000 % HOUR_MS


def test_a_new_sensor_needs_nothing_and_gets_exact_windows():
    w = OpenWindows()
    assert w.unknown(["s"]) == ["s"]
    w.newest["s"] = None
    rows = {("s", T + 1000): 1.0, ("s", T + 2000): 3.0, ("s", T + MINUTE_MS): 10.0}
    assert not w.needs(rows)
    applied = w.apply(rows)
    assert applied.minutes == [
        ("s", Partial(T, 2, 4.0, 1.0, 3.0, 3.0, T + 2000)),
        ("s", Partial(T + MINUTE_MS, 1, 10.0, 10.0, 10.0, 10.0, T + MINUTE_MS)),
    ]
    assert applied.hours == [("s", Partial(T, 3, 14.0, 1.0, 10.0, 10.0, T + MINUTE_MS))]
    assert w.newest["s"] == T + MINUTE_MS


def test_rewrites_are_idempotent_and_changes_win():
    w = OpenWindows()
    w.newest["s"] = None
    w.apply({("s", T): 1.0, ("s", T + 1): 2.0})
    again = w.apply({("s", T): 1.0})
    assert again.minutes == [("s", Partial(T, 2, 3.0, 1.0, 2.0, 2.0, T + 1))]
    changed = w.apply({("s", T + 1): 7.0})
    assert changed.hours == [("s", Partial(T, 2, 8.0, 1.0, 7.0, 7.0, T + 1))]


def test_windows_not_in_memory_but_maybe_stored_must_be_loaded():
    w = OpenWindows()
    w.newest["s"] = T + 30_000  # stored elsewhere / before a restart
    needs = w.needs({("s", T + 40_000): 1.0, ("s", T + 2 * MINUTE_MS): 2.0})
    assert needs.minutes == {"s": {T}} and needs.hours == {"s": {T}}
    w.load_minute("s", T, [(T + 30_000, 5.0)])
    w.load_hour("s", T, [Partial(T, 1, 5.0, 5.0, 5.0, 5.0)])
    applied = w.apply({("s", T + 40_000): 1.0, ("s", T + 2 * MINUTE_MS): 2.0})
    assert applied.minutes[0] == ("s", Partial(T, 2, 6.0, 1.0, 5.0, 1.0, T + 40_000))
    assert applied.hours == [("s", Partial(T, 3, 8.0, 1.0, 5.0, 2.0, T + 2 * MINUTE_MS))]


def test_undo_restores_the_state_before_a_failed_write():
    w = OpenWindows()
    w.newest["s"] = None
    w.apply({("s", T): 1.0})
    before = (dict(w._raw), dict(w._hours), dict(w.newest))
    applied = w.apply({("s", T + 1000): 9.0, ("t", T): 1.0, ("s", T + HOUR_MS): 4.0})
    w.undo(applied)
    assert ({k: dict(v) for k, v in w._raw.items()}, w.newest.get("s")) == ({("s", T): {T: 1.0}}, T)
    assert "t" not in w.newest or w.newest["t"] is None
    assert set(w._hours) == set(before[1])


def test_evict_keeps_only_the_newest_windows_and_forget_forces_a_reload():
    w = OpenWindows(keep_minutes=2, keep_hours=1)
    w.newest["s"] = None
    w.apply({("s", T + i * MINUTE_MS): float(i) for i in range(5)})
    w.evict()
    assert sorted(m for _, m in w._raw) == [T + 3 * MINUTE_MS, T + 4 * MINUTE_MS]
    w.forget({"s": [T + 4 * MINUTE_MS]})
    assert w.needs({("s", T + 4 * MINUTE_MS + 1): 0.0}).minutes == {"s": {T + 4 * MINUTE_MS}}
