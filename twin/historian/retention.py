"""How long each level is kept: raw readings, 1-minute and 1-hour rollups.

Pure: no I/O. Horizons are aligned down to a whole hour so that no minute or hour
window is ever cut in two by retention: a rollup is always computed from a complete
set of raw readings, and a late reading is either accepted in full or dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW
from twin.timespec import parse_duration_ms

__all__ = ["Retention", "FOREVER", "RETENTION_OPTIONS", "parse_retention"]

#: Sentinel for "keep forever".
FOREVER: int | None = None

#: URL options that set retention (same in every historian URL).
RETENTION_OPTIONS = ("keep_raw", "keep_1m", "keep_1h")

_FOREVER_WORDS = {"inf", "forever", "infinite", "0"}


@dataclass(frozen=True, slots=True)
class Retention:
    """Kept periods in ms (``None`` = forever). Defaults: raw 35 d, 1 m 400 d, 1 h forever.

    Raw defaults to 35 days, longer than the 30 days of the telemetry codec's
    ``max_past_s``, so every reading the ingest accepts is also stored.
    """

    raw_ms: int | None = 35 * 86_400_000
    minute_ms: int | None = 400 * 86_400_000
    hour_ms: int | None = FOREVER

    def __post_init__(self) -> None:
        for name, value in (
            ("keep_raw", self.raw_ms),
            ("keep_1m", self.minute_ms),
            ("keep_1h", self.hour_ms),
        ):
            if value is not None and value < HOUR_MS:
                raise ValueError(f"{name} must be at least 1h (or inf), got {value} ms")
        order = [("keep_raw", self.raw_ms), ("keep_1m", self.minute_ms), ("keep_1h", self.hour_ms)]
        for (fine, fine_v), (coarse, coarse_v) in zip(order, order[1:], strict=False):
            if coarse_v is not None and (fine_v is None or fine_v > coarse_v):
                raise ValueError(
                    f"{coarse} ({_fmt(coarse_v)}) must be at least {fine} ({_fmt(fine_v)}): "
                    "a coarser level must outlive the finer one it is computed from"
                )

    def keep(self, level_ms: int) -> int | None:
        return {RAW: self.raw_ms, MINUTE_MS: self.minute_ms, HOUR_MS: self.hour_ms}[level_ms]

    def horizon(self, level_ms: int, now_ms: int) -> int | None:
        """Oldest kept time of a level at ``now_ms`` (hour-aligned), None when kept forever."""
        keep = self.keep(level_ms)
        if keep is None:
            return None
        cut = now_ms - keep
        return cut - cut % HOUR_MS

    def describe(self) -> str:
        return f"raw {_fmt(self.raw_ms)}, 1m {_fmt(self.minute_ms)}, 1h {_fmt(self.hour_ms)}"


def _fmt(ms: int | None) -> str:
    if ms is None:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", HOUR_MS), ("m", MINUTE_MS), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _duration(name: str, text: str) -> int | None:
    if text.strip().lower() in _FOREVER_WORDS:
        return None
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}, or inf") from None


def parse_retention(options: Mapping[str, list[str]]) -> Retention:
    """Retention from URL options ``keep_raw``, ``keep_1m``, ``keep_1h`` (e.g. ``30d``, ``inf``)."""
    default = Retention()
    values = {
        "keep_raw": default.raw_ms,
        "keep_1m": default.minute_ms,
        "keep_1h": default.hour_ms,
    }
    for name in RETENTION_OPTIONS:
        if name in options:
            values[name] = _duration(name, options[name][-1])
    return Retention(values["keep_raw"], values["keep_1m"], values["keep_1h"])
