"""ISO 22400-2 OEE maths for the live twin (pure; same definitions as docs/kpis.md).

The elements of each machine (work unit) are summed for every higher level and the
ratios are taken last. The live stream adds one subtlety: only machines with a
``good_count`` sensor have quantities, so performance divides their ideal time by
*their* actual production time (``apt_counted_s``); with counters on every machine
this is exactly the simulation's ``sum(PRI x PQ) / sum(APT)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OeeElements", "ratio", "availability", "performance", "quality", "oee"]


def ratio(a: float, b: float) -> float:
    """``a / b``, or NaN when ``b`` is not positive (an undefined KPI)."""
    return a / b if b > 0 else math.nan


def availability(apt_s: float, pbt_s: float) -> float:
    """Actual production time / planned busy time."""
    return ratio(apt_s, pbt_s)


def performance(ideal_cycle_s: float, produced: float, apt_s: float) -> float:
    """Ideal cycle time x produced quantity / actual production time."""
    return ratio(ideal_cycle_s * produced, apt_s)


def quality(good: float, produced: float) -> float:
    """Good quantity / produced quantity."""
    return ratio(good, produced)


def oee(ideal_cycle_s: float, good: float, pbt_s: float) -> float:
    """A x P x Q of one machine = ideal time of the good units / planned busy time."""
    return ratio(ideal_cycle_s * good, pbt_s)


@dataclass(frozen=True, slots=True)
class OeeElements:
    """ISO 22400-2 elements of one or more machines over one period.

    ``pbt_s`` planned busy time (time not ``off``), ``apt_s`` actual production time
    (``busy``), ``apt_counted_s`` the part of APT of machines that count parts,
    ``ideal_s`` ideal cycle time x produced, ``produced`` and ``good`` quantities,
    ``counted`` whether any machine in the sum counts parts.
    """

    pbt_s: float = 0.0
    apt_s: float = 0.0
    apt_counted_s: float = 0.0
    ideal_s: float = 0.0
    produced: float = 0.0
    good: float = 0.0
    counted: bool = False

    def __add__(self, o: OeeElements) -> OeeElements:
        return OeeElements(
            self.pbt_s + o.pbt_s,
            self.apt_s + o.apt_s,
            self.apt_counted_s + o.apt_counted_s,
            self.ideal_s + o.ideal_s,
            self.produced + o.produced,
            self.good + o.good,
            self.counted or o.counted,
        )

    @classmethod
    def total(cls, items: Iterable[OeeElements]) -> OeeElements:
        out = cls()
        for e in items:
            out = out + e
        return out

    @property
    def availability(self) -> float:
        return ratio(self.apt_s, self.pbt_s)

    @property
    def performance(self) -> float:
        return ratio(self.ideal_s, self.apt_counted_s) if self.counted else math.nan

    @property
    def quality(self) -> float:
        return ratio(self.good, self.produced) if self.counted else math.nan

    @property
    def oee(self) -> float:
        """A x P x Q; 0 when there was planned time but nothing was produced (as docs/kpis.md)."""
        if not self.counted:
            return math.nan
        if self.pbt_s > 0 and self.produced == 0:
            return 0.0
        return self.availability * self.performance * self.quality
