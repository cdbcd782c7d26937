"""Helpers for the live-twin tests: a tiny complex with extra alarm rules, reading builders."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from twin.codec import Reading
from twin.config import parse_complex, tiny_config_path
from twin.model import Complex

#: A fixed reading time: Friday 2026-11-27 10:50 in Seoul (inside the day shift of tiny).
T0 = 1_795_744_200_000

_TINY = yaml.safe_load(tiny_config_path().read_text(encoding="utf-8"))


def tiny_with(alarms: dict[str, Any] | None = None, **top: Any) -> Complex:
    """The tiny complex with an ``alarms:`` section (and other top-level keys replaced)."""
    data = copy.deepcopy(_TINY)
    if alarms is not None:
        data["alarms"] = alarms
    data.update(top)
    return parse_complex(data, "tiny-test")


def r(sensor: str, t_s: float, value: float) -> Reading:
    """A reading ``t_s`` seconds after :data:`T0`."""
    return Reading(sensor, T0 + round(t_s * 1000), float(value))


def ms(t_s: float) -> int:
    return T0 + round(t_s * 1000)


def tiny_data() -> dict[str, Any]:
    return copy.deepcopy(_TINY)


def smt_with_scrap(ideal_cycle_time_s: float = 60.0) -> Complex:
    """Tiny, with alpha-smt counting scrap too and a 60 s ideal cycle (the docs/kpis.md example)."""
    data = tiny_data()
    smt = data["tenants"][0]["factories"][0]["lines"][0]["machines"][0]
    assert smt["id"] == "alpha-smt"
    smt["ideal_cycle_time_s"] = ideal_cycle_time_s
    smt["sensors"].append(
        {
            "id": "alpha-smt-scrap",
            "kind": "scrap_count",
            "unit": "count",
            "period_s": 5,
            "range": [0, 1.0e9],
        }
    )
    return parse_complex(data, "tiny-test")
