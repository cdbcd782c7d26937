"""Distribution specs, samplers and random streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.distributions import Distribution, Sampler, parse_distribution
from simulations.streams import RandomStreams


def _sample(spec, n=20_000, seed=1):
    d = parse_distribution(spec)
    s = d.sampler(np.random.default_rng(seed))
    return d, [s.draw() for _ in range(n)]


@pytest.mark.parametrize(
    "spec, mean, sd",
    [
        ({"dist": "exponential", "mean": 5}, 5, 5),
        ({"dist": "normal", "mean": 10, "sd": 2}, 10, 2),
        ({"dist": "lognormal", "mean": 10, "cv": 0.5}, 10, 5),
        ({"dist": "gamma", "mean": 4, "sd": 2}, 4, 2),
        (
            {"dist": "triangular", "low": 1, "mode": 2, "high": 6},
            3,
            math.sqrt((1 + 4 + 36 - 2 - 6 - 12) / 18),
        ),
        ({"dist": "uniform", "low": 2, "high": 4}, 3, 2 / math.sqrt(12)),
        (
            {"dist": "weibull", "shape": 2, "scale": 3},
            3 * math.gamma(1.5),
            3 * math.sqrt(1 - math.gamma(1.5) ** 2),
        ),
        ({"dist": "empirical", "values": [1, 2, 10], "weights": [1, 1, 2]}, (1 + 2 + 20) / 4, None),
    ],
)
def test_samples_have_the_specified_mean_and_spread(spec, mean, sd):
    d, xs = _sample(spec)
    assert d.mean == pytest.approx(mean)
    m = float(np.mean(xs))
    assert m == pytest.approx(mean, rel=0.03)
    if sd is not None:
        assert float(np.std(xs)) == pytest.approx(sd, rel=0.05)
    assert min(xs) >= 0


def test_constant_units_and_relative_specs():
    assert parse_distribution(12).sampler(np.random.default_rng()).draw() == 12.0
    assert parse_distribution({"dist": "constant", "value": 2, "unit": "h"}).mean == 7200
    assert parse_distribution({"dist": "exponential", "mean": 3, "unit": "min"}).mean == 180
    rel = parse_distribution({"dist": "lognormal", "mean": 1.1, "cv": 0.2, "unit": "relative"})
    assert rel.relative
    with pytest.raises(ValueError, match="resolve"):
        rel.sampler(np.random.default_rng())
    abs_ = rel.resolve(30.0)
    assert not abs_.relative and abs_.mean == pytest.approx(33.0) and abs_.params[1] == pytest.approx(6.6)


def test_normal_is_truncated_at_zero():
    _, xs = _sample({"dist": "normal", "mean": 1, "sd": 2}, n=5000)
    assert min(xs) >= 0


def test_draw_sum_is_the_sum_of_single_draws_from_the_same_stream():
    d = parse_distribution({"dist": "gamma", "mean": 3, "sd": 1})
    a, b = d.sampler(np.random.default_rng(5)), d.sampler(np.random.default_rng(5))
    sums = [a.draw_sum(n) for n in (1, 7, 600, 3, 1000)]  # crosses block boundaries
    singles = [sum(b.draw() for _ in range(n)) for n in (1, 7, 600, 3, 1000)]
    assert sums == [pytest.approx(x, rel=1e-12) for x in singles]
    assert Sampler(parse_distribution(4), np.random.default_rng()).draw_sum(5) == 20.0


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"dist": "exponential", "mean": -1}, '"mean" must be > 0'),
        ({"dist": "exponential"}, "needs key 'mean'"),
        ({"dist": "exponential", "mean": 1, "sd": 2}, "unknown key 'sd'"),
        ({"dist": "pareto", "mean": 1}, "unknown dist 'pareto'"),
        ({"mean": 1}, "missing key 'dist'"),
        ({"dist": "triangular", "low": 3, "mode": 1, "high": 5}, "low <= mode <= high"),
        ({"dist": "uniform", "low": 5, "high": 5}, "low < high"),
        ({"dist": "normal", "mean": 1, "sd": 1, "cv": 1}, "either 'sd' or 'cv'"),
        ({"dist": "empirical", "values": []}, "non-empty"),
        ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "one entry per value"),
        ({"dist": "constant", "value": "ten"}, "must be a number"),
        ({"dist": "constant", "value": 1, "unit": "fortnight"}, "unknown unit"),
        ({"dist": "constant", "value": float("nan")}, "finite"),
        (True, "number or a mapping"),
        ("fast", "number or a mapping"),
    ],
)
def test_bad_specs_fail_fast_naming_the_value(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_distribution(spec)


def test_distribution_constructor_validates():
    with pytest.raises(ValueError, match="takes parameters"):
        Distribution("exponential", (1.0, 2.0))
    with pytest.raises(ValueError, match="factor"):
        parse_distribution(1).scaled(0)


def test_streams_are_reproducible_independent_and_named():
    a = RandomStreams(7, 0).rng("m1.processing").random(3)
    assert np.array_equal(a, RandomStreams(7, 0).rng("m1.processing").random(3))
    assert not np.array_equal(a, RandomStreams(7, 1).rng("m1.processing").random(3))
    assert not np.array_equal(a, RandomStreams(7, 0).rng("m2.processing").random(3))
    assert not np.array_equal(a, RandomStreams(7, 0, salt=1).rng("m1.processing").random(3))
    s = RandomStreams(1)
    s.rng("x")
    with pytest.raises(ValueError, match="already issued"):
        s.rng("x")
    with pytest.raises(ValueError, match="seed"):
        RandomStreams(-1)
