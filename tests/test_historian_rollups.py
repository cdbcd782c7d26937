"""Rollup maths (pure): plans, merging, vectorised and plain aggregation agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.historian.rollups import (
    HOUR_MS,
    MINUTE_MS,
    RAW,
    Partial,
    aggregate,
    aggregate_sorted,
    coarsest_level,
    merge,
    plan,
    rollup,
    window_arrays,
    window_start,
)


def test_coarsest_level():
    assert coarsest_level(1000) == RAW
    assert coarsest_level(90_000) == RAW
    assert coarsest_level(MINUTE_MS) == coarsest_level(2 * MINUTE_MS) == MINUTE_MS
    assert coarsest_level(HOUR_MS) == coarsest_level(86_400_000) == HOUR_MS
    assert coarsest_level(90 * MINUTE_MS) == MINUTE_MS
    with pytest.raises(ValueError):
        coarsest_level(0)


def test_window_start_floors_before_1970():
    assert window_start(-1, MINUTE_MS) == -MINUTE_MS
    assert window_start(MINUTE_MS, MINUTE_MS) == MINUTE_MS


@given(
    since=st.integers(-(10**13), 10**13),
    length=st.integers(0, 10 * 86_400_000),
    every=st.sampled_from([1000, 30_000, MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, 86_400_000]),
)
def test_plan_covers_the_range_exactly_with_aligned_levels(since, length, every):
    until = since + length
    segs = plan(since, until, every)
    if length == 0:
        assert segs == []
        return
    assert segs[0].since_ms == since and segs[-1].until_ms == until
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.until_ms == b.since_ms
    for s in segs:
        assert s.since_ms < s.until_ms
        assert s.level_ms <= coarsest_level(every)
        if s.level_ms:
            assert s.since_ms % s.level_ms == 0 and s.until_ms % s.level_ms == 0
    # the coarsest usable level is used for everything it can cover
    top = coarsest_level(every)
    if top and (until // top * top) - (-(-since // top) * top) >= top:
        assert any(s.level_ms == top for s in segs)


def test_merge_is_count_weighted_and_keeps_the_later_last():
    a = Partial(0, 3, 30.0, 5.0, 15.0, 9.0, 2_000)
    b = Partial(0, 1, 100.0, 100.0, 100.0, 100.0, 3_000)
    m = merge(a, b)
    assert (m.count, m.total, m.min, m.max, m.last) == (4, 130.0, 5.0, 100.0, 100.0)
    assert m.mean == 32.5  # not (10 + 100) / 2
    assert merge(b, a).last == 100.0  # known times decide, not argument order
    assert merge(Partial(0, 1, 1.0, 1.0, 1.0, 1.0), Partial(0, 1, 2.0, 2.0, 2.0, 2.0)).last == 2.0


points = st.lists(
    st.tuples(st.integers(0, 10 * HOUR_MS), st.floats(-1e6, 1e6)),
    min_size=1,
    max_size=300,
    unique_by=lambda p: p[0],
)


@settings(max_examples=60)
@given(points, st.sampled_from([1000, MINUTE_MS, HOUR_MS]))
def test_vectorised_plain_and_rolled_up_aggregation_agree(pts, every):
    plain = aggregate(pts, every)
    pts.sort()
    ts = np.array([p[0] for p in pts], dtype=np.int64)
    vals = np.array([p[1] for p in pts], dtype=np.float64)
    vec = window_arrays(ts, vals, every).partials()
    srt = [p for _, p in aggregate_sorted([(("s", t), v) for t, v in pts], every)]
    assert (
        [(p.start_ms, p.count, p.min, p.max, p.last, p.last_ts) for p in plain]
        == [(p.start_ms, p.count, p.min, p.max, p.last, p.last_ts) for p in vec]
        == [(p.start_ms, p.count, p.min, p.max, p.last, p.last_ts) for p in srt]
    )
    for x, y in zip(plain, vec, strict=True):
        assert math.isclose(x.total, y.total, rel_tol=1e-9, abs_tol=1e-6)
    if every == MINUTE_MS:
        hourly = rollup(plain, HOUR_MS)
        direct = aggregate(pts, HOUR_MS)
        assert [(p.start_ms, p.count, p.min, p.max, p.last) for p in hourly] == [
            (p.start_ms, p.count, p.min, p.max, p.last) for p in direct
        ]


def test_window_arrays_never_join_two_groups():
    ts = np.array([0, 1000, 0, 2000], dtype=np.int64)  # two sensors, same minute
    vals = np.array([1.0, 2.0, 10.0, 20.0])
    agg = window_arrays(ts, vals, MINUTE_MS, [0, 2])
    assert agg.rows(["a", "b"]) == [
        ("a", 0, 2, 3.0, 1.0, 2.0, 2.0, 1000),
        ("b", 0, 2, 30.0, 10.0, 20.0, 20.0, 2000),
    ]
    assert len(window_arrays(np.empty(0, np.int64), np.empty(0), MINUTE_MS)) == 0
