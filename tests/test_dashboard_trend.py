"""Trend figures and window choice (pure, windows given); point bounds and hostile ranges
through the real overview callback on a real SQLite historian."""

from __future__ import annotations

import math

import pytest

from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.overview.callbacks import refresh_trend
from dashboards.trend import (
    GL_MIN_POINTS,
    MAX_POINTS,
    RANGES,
    bound_windows,
    empty_figure,
    site_zone,
    trend_figure,
    window_ms,
)
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import Window, open_historian
from twin.historian.rollups import RAW, plan
from twin.model import Sensor
from twin.timespec import now_ms

POWER = Sensor(id="p1", kind="power", unit="kW", period_s=1, range=(0, 20))
STATE = Sensor(id="s1", kind="state", unit="state", period_s=5, range=(0, 4))


@pytest.mark.parametrize("key", list(RANGES))
def test_every_range_stays_under_the_point_budget(key: str) -> None:
    _, range_ms = RANGES[key]
    w = window_ms(range_ms)
    assert range_ms / w <= MAX_POINTS
    assert -(-range_ms // w) + 1 <= MAX_POINTS + 1  # windows touched, with a partial first one


@pytest.mark.parametrize(
    "range_ms",
    [1, 999, 60_000, 900_000, 3_600_000, 86_400_000, 30 * 86_400_000, 10 * 365 * 86_400_000],
)
def test_window_bounds_points_for_any_range(range_ms: int) -> None:
    assert range_ms / window_ms(range_ms) <= MAX_POINTS


def test_short_ranges_keep_one_second_resolution() -> None:
    assert window_ms(RANGES["15m"][1]) == 1_000
    assert window_ms(RANGES["24h"][1]) == 60_000


def test_window_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="> 0"):
        window_ms(0)


@pytest.mark.parametrize("bad", [-1, 0, True, 1.5, math.nan, math.inf, "15m", None, [900_000]])
def test_window_rejects_hostile_ranges_with_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="range_ms must be an integer > 0"):
        window_ms(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_points must be an integer > 0"):
        window_ms(60_000, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", list(RANGES))
@pytest.mark.parametrize("offset_ms", [0, 1, 499, 59_999, 1_799_999])
def test_unaligned_ranges_touch_at_most_max_points_windows(key: str, offset_ms: int) -> None:
    _, range_ms = RANGES[key]
    w = window_ms(range_ms)
    since = 1_764_208_200_000 + offset_ms
    until = since + range_ms + 1  # the callback's range: [now - range, now + 1)
    touched = (until - 1) // w - since // w + 1
    assert touched <= MAX_POINTS


def test_selector_offers_fifteen_minutes_to_thirty_days() -> None:
    assert {"15m", "24h", "7d", "30d"} <= set(RANGES)
    assert RANGES["30d"][1] == 30 * 86_400_000


@pytest.mark.parametrize("key", ["24h", "7d", "30d"])
def test_long_ranges_are_answered_from_rollups_not_raw_rows(key: str) -> None:
    _, range_ms = RANGES[key]
    every = window_ms(range_ms)
    assert every % 60_000 == 0  # whole minutes: a rollup level tiles the windows
    now = 1_764_208_234_567
    segments = plan(now - range_ms, now + 1, every)
    raw = sum(s.until_ms - s.since_ms for s in segments if s.level_ms == RAW)
    assert raw < 2 * 60_000  # only the partial minutes at both edges come from raw readings
    assert sum(s.until_ms - s.since_ms for s in segments) == range_ms + 1


# ---- bounding windows -------------------------------------------------------------------


def test_bound_windows_merges_exactly_and_keeps_spikes() -> None:
    ws = _windows(5000, 1000)
    spike = Window("p1", ws[2345].start_ms, 1e6, -7.0, 1e6, 1e6, 1)
    ws[2345] = spike
    out = bound_windows(ws, MAX_POINTS)
    assert len(out) <= MAX_POINTS
    assert sum(w.count for w in out) == sum(w.count for w in ws)
    assert max(w.max for w in out) == 1e6 and min(w.min for w in out) == -7.0
    total = sum(w.mean * w.count for w in ws)
    assert sum(w.mean * w.count for w in out) == pytest.approx(total)
    assert out[0].start_ms == ws[0].start_ms and out[-1].last == ws[-1].last
    assert [w.start_ms for w in out] == sorted(w.start_ms for w in out)


def test_bound_windows_leaves_short_series_alone() -> None:
    ws = _windows(10, 1000)
    assert bound_windows(ws, 10) == ws


@pytest.mark.parametrize("n", [MAX_POINTS + 1, 3 * MAX_POINTS + 7, 20_000])
def test_no_trace_carries_more_than_max_points_whatever_it_is_given(n: int) -> None:
    ws = _windows(n, 1000)
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms + 1000, 1000)
    assert len(fig.data) == 3
    assert all(0 < len(t.x) <= MAX_POINTS for t in fig.data)
    assert max(max(t.y) for t in fig.data) == max(w.max for w in ws)  # the band survives


# ---- WebGL ----------------------------------------------------------------------------


def test_long_traces_are_webgl() -> None:
    ws = _windows(GL_MIN_POINTS, 60_000)
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms + 60_000, 60_000)
    assert {t.type for t in fig.data} == {"scattergl"}
    assert _named(fig, "min").fill == "tonexty"  # the band fills to the max trace, also in WebGL


def test_short_traces_stay_svg() -> None:
    ws = _windows(GL_MIN_POINTS - 1, 60_000)
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms + 60_000, 60_000)
    assert {t.type for t in fig.data} == {"scatter"}


def _named(fig, name):  # type: ignore[no-untyped-def]
    return next(t for t in fig.data if t.name == name)


# ---- through the overview callback, on a real historian ---------------------------------

NOW = now_ms()
TINY = load_complex("tiny")
SENSOR = "alpha-smt-power"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> DashboardContext:
    """31 days of one reading per 30 s, plus the last 20 minutes at 1 Hz."""
    url = "sqlite://" + str(tmp_path_factory.mktemp("trend") / "history.db")
    with open_historian(url) as h:
        start = NOW - 31 * 86_400_000
        h.store([Reading(SENSOR, t, 5.0 + (t // 30_000) % 7) for t in range(start, NOW - 1_200_000, 30_000)])
        h.store([Reading(SENSOR, t, 9.0) for t in range(NOW - 1_200_000, NOW + 1, 1000)])
    return DashboardContext(TINY, HistorianSource(url), clock=lambda: NOW)


@pytest.mark.parametrize("key", list(RANGES))
def test_callback_bounds_points_and_uses_webgl_for_long_series(month: DashboardContext, key: str) -> None:
    fig, status = refresh_trend(month, {"sensor": SENSOR}, key)
    mean = _named(fig, "mean")
    assert 0 < len(mean.x) <= MAX_POINTS
    assert all(len(t.x) == len(mean.x) for t in fig.data)
    assert {t.type for t in fig.data} == {"scattergl" if len(mean.x) >= GL_MIN_POINTS else "scatter"}
    assert f"over {RANGES[key][0]}" in status
    if key in ("24h", "7d", "30d"):
        assert len(mean.x) >= GL_MIN_POINTS  # long ranges are long series: WebGL


@pytest.mark.parametrize(
    "bad",
    [None, 7, 7.0, True, "7D", " 7d", "7d\n", "", "../", "__class__", "x" * 100_000, ["7d"], {"$gt": 1}],
)
def test_hostile_range_values_give_a_message_not_an_error(month: DashboardContext, bad: object) -> None:
    fig, status = refresh_trend(month, {"sensor": SENSOR}, bad)
    assert len(fig.data) == 0 and status == ""
    text = " ".join(a.text for a in fig.layout.annotations)
    assert text.startswith("unknown range") and "30d" in text
    assert len(text) < 200  # a hostile value is echoed truncated


def _windows(n: int, every: int, t0: int = 1_764_208_200_000) -> list[Window]:
    return [Window("p1", t0 + i * every, i + 0.5, i, i + 1.0, i + 0.7, 3) for i in range(n)]


def test_trend_has_mean_and_band_with_units_in_axis_title() -> None:
    ws = _windows(50, 60_000)
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms + 60_000, 60_000, title="t")
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["mean"].y) == [w.mean for w in ws]
    assert list(by_name["min"].y) == [w.min for w in ws]
    assert list(by_name["max"].y) == [w.max for w in ws]
    assert by_name["min"].fill == "tonexty"
    assert fig.layout.yaxis.title.text == "power [kW]"
    assert all(len(t.x) <= MAX_POINTS for t in fig.data)


def test_state_trend_steps_and_names_states() -> None:
    ws = [Window("s1", 1_764_208_200_000 + i * 5000, 2.0, 2.0, 2.0, 2.0, 1) for i in range(5)]
    fig = trend_figure(STATE, ws, ws[0].start_ms, ws[-1].start_ms, 1000)
    mean = next(t for t in fig.data if t.name == "mean")
    assert mean.line.shape == "hv"
    assert "busy" in fig.layout.yaxis.ticktext


def test_trend_without_windows_says_so() -> None:
    fig = trend_figure(POWER, [], 0, 1000, 1000)
    assert len(fig.data) == 0
    assert "no data for p1" in fig.layout.annotations[0].text


def test_empty_figure_carries_message_and_no_data() -> None:
    fig = empty_figure("nothing here")
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text == "nothing here"


# ---- time axis --------------------------------------------------------------------------


def test_x_is_the_sites_wall_clock_on_a_date_axis() -> None:
    ws = _windows(3, 60_000)
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms + 60_000, 60_000, site_zone("Asia/Seoul"))
    assert fig.layout.xaxis.type == "date"
    nine_hours = 9 * 3_600_000
    assert list(_named(fig, "mean").x) == [w.start_ms + 30_000 + nine_hours for w in ws]
    assert fig.layout.xaxis.title.text == "time (Asia/Seoul)"


def test_x_follows_a_daylight_saving_change_inside_the_range() -> None:
    # Europe/Berlin leaves summer time at 2026-10-25 01:00 UTC (UTC+2 -> UTC+1).
    change = 1_792_890_000_000
    ws = [Window("p1", change - 2 * 3_600_000 + i * 3_600_000, 1.0, 1.0, 1.0, 1.0, 1) for i in range(4)]
    fig = trend_figure(POWER, ws, ws[0].start_ms, ws[-1].start_ms, 3_600_000, site_zone("Europe/Berlin"))
    shifts = [x - (w.start_ms + 1_800_000) for x, w in zip(_named(fig, "mean").x, ws, strict=True)]
    assert shifts == [7_200_000, 7_200_000, 3_600_000, 3_600_000]
