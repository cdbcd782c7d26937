"""Confidence intervals over replications and paired comparisons between scenarios.

Each replication gives one value per KPI; replications are independent, so the
mean over ``n`` of them has a Student-t confidence interval with ``n - 1``
degrees of freedom. A scenario is compared with the baseline replication by
replication (the same seed and replication number): the CI of the mean paired
difference. With common random numbers the pairs are positively correlated and
the CI of the difference is narrower than with independent streams.
Replications whose value is undefined (NaN, e.g. a lead time with no output) are
left out, and a pair is left out if either side is undefined.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CONFIDENCE", "Summary", "Comparison", "t_quantile", "summarize", "compare_paired"]

#: Confidence level of every interval.
CONFIDENCE = 0.95


def t_quantile(dof: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t critical value."""
    if dof < 1:
        raise ValueError(f'"dof" must be >= 1 (got {dof!r})')
    return _t_quantile(int(dof), float(confidence))


@functools.lru_cache(maxsize=1024)
def _t_quantile(dof: int, confidence: float) -> float:
    # scipy.special, not scipy.stats: the latter takes seconds to import.
    from scipy.special import stdtrit

    return float(stdtrit(dof, 0.5 + confidence / 2.0))


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = math.fsum(xs) / n
    if n < 2:
        return m, math.nan
    var = math.fsum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var)


@dataclass(frozen=True, slots=True)
class Summary:
    """Mean of ``n`` replications with its confidence interval [low, high]."""

    mean: float
    half_width: float
    n: int
    sd: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def summarize(values: Sequence[float]) -> Summary:
    """Mean and CI of replication values (NaN values left out)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not xs:
        return Summary(math.nan, math.nan, 0, math.nan)
    m, sd = _mean_sd(xs)
    n = len(xs)
    if n < 2:
        return Summary(m, math.nan, n, math.nan)
    return Summary(m, t_quantile(n - 1) * sd / math.sqrt(n), n, sd)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Scenario minus baseline: mean paired difference with its CI."""

    diff: float
    half_width: float
    n: int
    baseline_mean: float

    @property
    def low(self) -> float:
        return self.diff - self.half_width

    @property
    def high(self) -> float:
        return self.diff + self.half_width

    @property
    def significant(self) -> bool:
        """The CI excludes zero (a real difference at the confidence level)."""
        if math.isnan(self.half_width):
            return False
        return self.low > 0 or self.high < 0

    @property
    def relative(self) -> float:
        """Difference as a fraction of the baseline mean."""
        if not self.baseline_mean or math.isnan(self.baseline_mean):
            return math.nan
        return self.diff / abs(self.baseline_mean)


def compare_paired(baseline: Sequence[float], scenario: Sequence[float]) -> Comparison:
    """Paired comparison of two equally long sequences of replication values."""
    if len(baseline) != len(scenario):
        raise ValueError(f"paired samples must have equal length ({len(baseline)} != {len(scenario)})")
    pairs = [
        (float(a), float(b)) for a, b in zip(baseline, scenario, strict=True) if not (math.isnan(a) or math.isnan(b))
    ]
    if not pairs:
        return Comparison(math.nan, math.nan, 0, math.nan)
    d = summarize([b - a for a, b in pairs])
    base = math.fsum(a for a, _ in pairs) / len(pairs)
    return Comparison(d.mean, d.half_width, d.n, base)
