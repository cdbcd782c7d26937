"""Batches as packed per-sensor arrays (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.codec import Reading
from twin.errors import HistorianError
from twin.historian.chunks import group_batch, merge_last_wins, pack, split_hours, unpack
from twin.historian.rollups import HOUR_MS


def test_group_sorts_and_keeps_the_last_duplicate():
    batch, dropped = group_batch(
        [
            Reading("b", 30, 3.0),
            Reading("a", 20, 2.0),
            Reading("b", 10, 1.0),
            Reading("a", 20, 9.0),
            Reading("a", 5, 0.5),
        ]
    )
    assert dropped == 0
    assert batch.names == ["b", "a"]
    assert batch.series(0).ts.tolist() == [10, 30] and batch.series(0).values.tolist() == [1.0, 3.0]
    assert batch.series(1).ts.tolist() == [5, 20] and batch.series(1).values.tolist() == [0.5, 9.0]


def test_group_drops_readings_older_than_the_horizon():
    batch, dropped = group_batch([Reading("a", 5, 1.0), Reading("b", 1, 1.0), Reading("a", 50, 2.0)], min_ts_ms=10)
    assert dropped == 2
    assert batch.names == ["a"] and batch.ts.tolist() == [50]


@pytest.mark.parametrize(
    "bad",
    [
        Reading("a", 1, float("nan")),
        Reading("a", 1.5, 1.0),
        Reading("a", 1, "x"),
        Reading("", 1, 1.0),
        Reading("a", 2**64, 1.0),
    ],
)
def test_group_refuses_bad_readings(bad):
    with pytest.raises(HistorianError):
        group_batch([Reading("ok", 1, 1.0), bad])


def test_hour_chunks_split_at_hour_and_sensor_boundaries():
    readings = [
        Reading("a", HOUR_MS - 1000, 1.0),
        Reading("a", HOUR_MS, 2.0),
        Reading("b", HOUR_MS + 5, 3.0),
    ]
    batch, _ = group_batch(readings)
    rows = batch.hour_chunks()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("a", 0, HOUR_MS - 1000, HOUR_MS - 1000, 1),
        ("a", HOUR_MS, HOUR_MS, HOUR_MS, 1),
        ("b", HOUR_MS, HOUR_MS + 5, HOUR_MS + 5, 1),
    ]
    ts, values = unpack([r[5] for r in rows], [r[6] for r in rows])
    assert ts.tolist() == [HOUR_MS - 1000, HOUR_MS, HOUR_MS + 5] and values.tolist() == [
        1.0,
        2.0,
        3.0,
    ]


def test_merge_last_wins_reports_changes():
    old_ts, old_v = np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0])
    assert merge_last_wins(old_ts, old_v, np.array([2]), np.array([2.0]))[2] is False
    ts, v, changed = merge_last_wins(old_ts, old_v, np.array([2, 4]), np.array([5.0, 4.0]))
    assert changed and ts.tolist() == [1, 2, 3, 4] and v.tolist() == [1.0, 5.0, 3.0, 4.0]


def test_pack_unpack_and_split_hours():
    ts, v = np.array([0, 10, HOUR_MS + 1]), np.array([1.0, 2.0, 3.0])
    assert [h for h, _, _ in split_hours(ts, v)] == [0, HOUR_MS]
    back = unpack(*([b] for b in pack(ts, v)))
    assert back[0].tolist() == ts.tolist() and back[1].tolist() == v.tolist()
