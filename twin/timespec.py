"""Parse durations (``90s``, ``15m``, ``1h``, ``7d``) and points in time for the CLI."""

from __future__ import annotations

import re
import time
from datetime import datetime

__all__ = ["parse_duration_ms", "parse_time_ms", "now_ms"]

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def now_ms() -> int:
    """Wall-clock UTC epoch milliseconds (adapters only; the core takes time as an argument)."""
    return time.time_ns() // 1_000_000


def parse_duration_ms(text: str) -> int:
    """``"15m"`` -> 900000. Raises ValueError with the accepted forms."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"bad duration {text!r}: use a number and a unit, e.g. 500ms, 30s, 15m, 1h, 7d")
    ms = int(float(m.group(1)) * _UNITS_MS[m.group(2)])
    if ms <= 0:
        raise ValueError(f"duration {text!r} must be > 0")
    return ms


def parse_time_ms(text: str, now: int) -> int:
    """``now``, ``-1h`` (relative to now), epoch ms, or RFC 3339 with an offset."""
    t = (text or "").strip()
    if t == "now":
        return now
    if t.startswith("-"):
        return now - parse_duration_ms(t[1:])
    if t.isdigit():
        return int(t)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(
            f"bad time {text!r}: use now, -15m, epoch milliseconds or 2026-11-27T06:00:00+09:00"
        ) from None
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} needs a UTC offset, e.g. {t}Z or {t}+09:00")
    return int(dt.timestamp() * 1000)
