"""Retention settings (pure)."""

from __future__ import annotations

import pytest

from twin.historian.retention import Retention, parse_retention
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW

DAY = 86_400_000


def test_defaults_keep_raw_longer_than_the_codec_accepts_late_readings():
    r = Retention()
    assert r.raw_ms == 35 * DAY and r.minute_ms == 400 * DAY and r.hour_ms is None


def test_parse_options():
    r = parse_retention({"keep_raw": ["7d"], "keep_1m": ["90d"], "keep_1h": ["inf"]})
    assert (r.raw_ms, r.minute_ms, r.hour_ms) == (7 * DAY, 90 * DAY, None)
    assert parse_retention({}).describe() == "raw 35d, 1m 400d, 1h forever"


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"keep_raw": ["30m"]}, "at least 1h"),
        ({"keep_raw": ["10d"], "keep_1m": ["5d"]}, "must be at least keep_raw"),
        ({"keep_1m": ["inf"], "keep_1h": ["30d"]}, "must be at least keep_1m"),
        ({"keep_raw": ["soon"]}, "keep_raw"),
    ],
)
def test_invalid_retention_fails_with_the_reason(opts, message):
    with pytest.raises(ValueError, match=message):
        parse_retention(opts)


def test_horizons_are_whole_hours():
    r = Retention(raw_ms=DAY, minute_ms=2 * DAY, hour_ms=None)
    now = 1_800_000_000_000 + 1234
    assert r.horizon(RAW, now) == (now - DAY) // HOUR_MS * HOUR_MS
    assert r.horizon(MINUTE_MS, now) % HOUR_MS == 0
    assert r.horizon(HOUR_MS, now) is None
