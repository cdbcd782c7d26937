"""Freshness of sensors and assets: pure, time passed in."""

from __future__ import annotations

import pytest

from dashboards.freshness import (
    STALE_PERIODS,
    Freshness,
    asset_freshness,
    freshness_by_asset,
    sensor_freshness,
)
from twin.codec import Reading
from twin.model import Sensor

NOW = 1_764_208_200_000


def _sensor(sid: str, period_s: float) -> Sensor:
    return Sensor(id=sid, kind="power", unit="kW", period_s=period_s, range=(0, 10))


@pytest.mark.parametrize(
    ("age_ms", "expected"),
    [
        (0, Freshness.FRESH),
        (-500, Freshness.FRESH),  # sender's clock slightly ahead
        (STALE_PERIODS * 2000, Freshness.FRESH),  # exactly three periods: still fresh
        (STALE_PERIODS * 2000 + 1, Freshness.LATE),
        (3_600_000, Freshness.LATE),
    ],
)
def test_sensor_freshness_is_three_sample_periods(age_ms: int, expected: Freshness) -> None:
    s = _sensor("p", 2.0)
    assert sensor_freshness(s, Reading("p", NOW - age_ms, 1.0), NOW) is expected


def test_sensor_without_reading_has_no_data() -> None:
    assert sensor_freshness(_sensor("p", 1.0), None, NOW) is Freshness.NO_DATA


def test_period_scales_the_threshold() -> None:
    slow, fast = _sensor("slow", 60.0), _sensor("fast", 1.0)
    ts = NOW - 10_000
    assert sensor_freshness(slow, Reading("slow", ts, 0.0), NOW) is Freshness.FRESH
    assert sensor_freshness(fast, Reading("fast", ts, 0.0), NOW) is Freshness.LATE


def test_asset_is_fresh_only_when_every_sensor_is_fresh() -> None:
    a, b = _sensor("a", 1.0), _sensor("b", 1.0)
    latest = {"a": Reading("a", NOW - 1000, 1.0), "b": Reading("b", NOW - 2000, 1.0)}
    f = asset_freshness([a, b], latest, NOW)
    assert f.state is Freshness.FRESH
    assert (f.fresh, f.late, f.no_data, f.total) == (2, 0, 0, 2)
    assert f.last_ts_ms == NOW - 1000


def test_asset_with_one_late_sensor_is_late() -> None:
    a, b = _sensor("a", 1.0), _sensor("b", 1.0)
    latest = {"a": Reading("a", NOW, 1.0), "b": Reading("b", NOW - 60_000, 1.0)}
    f = asset_freshness([a, b], latest, NOW)
    assert f.state is Freshness.LATE
    assert f.describe() == "1/2 sensors fresh, 1 late"


def test_asset_with_a_silent_sensor_is_late_not_fresh() -> None:
    a, b = _sensor("a", 1.0), _sensor("b", 1.0)
    f = asset_freshness([a, b], {"a": Reading("a", NOW, 1.0)}, NOW)
    assert f.state is Freshness.LATE
    assert f.no_data == 1


def test_asset_without_any_reading_or_sensor_has_no_data() -> None:
    assert asset_freshness([_sensor("a", 1.0)], {}, NOW).state is Freshness.NO_DATA
    empty = asset_freshness([], {}, NOW)
    assert empty.state is Freshness.NO_DATA
    assert empty.describe() == "no sensors"


def test_asset_with_only_late_sensors_is_late() -> None:
    a = _sensor("a", 1.0)
    assert asset_freshness([a], {"a": Reading("a", NOW - 10_000, 1.0)}, NOW).state is Freshness.LATE


def test_freshness_by_asset_maps_each_asset() -> None:
    a, b = _sensor("a", 1.0), _sensor("b", 1.0)
    out = freshness_by_asset([("f1", [a]), ("f2", [b])], {"a": Reading("a", NOW, 1.0)}, NOW)
    assert {k: v.state for k, v in out.items()} == {"f1": Freshness.FRESH, "f2": Freshness.NO_DATA}
