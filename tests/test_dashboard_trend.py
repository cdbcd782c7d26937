"""Trend figures and window choice: pure, windows given."""

from __future__ import annotations

import pytest

from dashboards.trend import MAX_POINTS, RANGES, empty_figure, trend_figure, window_ms
from twin.historian import Window
from twin.model import Sensor

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
