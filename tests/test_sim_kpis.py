"""ISO 22400 formulas, aggregation of elements, confidence intervals and paired comparisons."""

from __future__ import annotations

import math

import pytest

from simulations.kpis import (
    KPI_UNITS,
    OeeElements,
    availability,
    kpi_unit,
    oee,
    performance,
    quality,
)
from simulations.model import build_model
from simulations.stats import compare_paired, summarize, t_quantile
from twin.config import load_complex


def test_iso_formulas():
    assert availability(390, 450) == pytest.approx(0.866667, abs=1e-6)
    assert performance(60, 334, 23400) == pytest.approx(0.856410, abs=1e-6)
    assert quality(318, 334) == pytest.approx(0.952096, abs=1e-6)
    assert oee(60, 318, 27000) == pytest.approx(0.706667, abs=1e-6)
    assert math.isnan(availability(0, 0)) and math.isnan(quality(0, 0))


def test_elements_are_summed_before_ratios():
    fast = OeeElements(pbt_s=100, apt_s=80, ideal_s=60, ideal_good_s=54, produced=6, good=6 * 0.9)
    slow = OeeElements(pbt_s=100, apt_s=40, ideal_s=40, ideal_good_s=40, produced=1, good=1)
    both = fast + slow
    assert both.availability == pytest.approx(120 / 200)
    assert both.performance == pytest.approx(100 / 120)
    assert both.quality == pytest.approx(6.4 / 7)
    assert both.oee == pytest.approx(both.availability * both.performance * both.quality)
    assert OeeElements(pbt_s=100).oee == 0.0  # planned but nothing made


def test_every_kpi_of_the_demo_has_a_unit_and_levels_are_consistent():
    model = build_model(load_complex("demo"), seed=1)
    model.run(86400.0 * 2)
    k = model.kpis()
    assert all(kpi_unit(name) for name in k), [n for n in k if not kpi_unit(n)]
    for level in ("machine", "line", "factory", "tenant"):
        assert any(n.startswith(level + ".") for n in k)
    assert set(KPI_UNITS) >= {n.rsplit(".", 1)[1] for n in k}
    total = sum(v for n, v in k.items() if n.startswith("factory.") and n.endswith(".throughput_uph"))
    assert k["complex.throughput_uph"] == pytest.approx(total)
    for name, v in k.items():
        if kpi_unit(name) == "1" and not math.isnan(v):
            assert -1e-9 <= v <= 1 + 1e-9, (name, v)
    # Energy: the complex's is the sum of its machines'.
    machines = sum(v for n, v in k.items() if n.startswith("machine.") and n.endswith(".energy_kwh"))
    assert k["complex.energy_kwh"] == pytest.approx(machines)


def test_summary_ci_uses_student_t():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.half_width == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-6)
    assert t_quantile(1) == pytest.approx(12.7062, rel=1e-4)
    one = summarize([5.0, float("nan")])
    assert one.n == 1 and math.isnan(one.half_width)
    assert summarize([]).n == 0


def test_paired_comparison():
    base = [10.0, 12.0, 11.0, 13.0]
    better = [b + 1.0 + 0.01 * i for i, b in enumerate(base)]
    c = compare_paired(base, better)
    assert c.diff == pytest.approx(1.015) and c.significant and c.relative == pytest.approx(1.015 / 11.5)
    same = compare_paired(base, [13.0, 11.0, 12.0, 10.0])
    assert not same.significant
    nan = compare_paired([1.0, float("nan"), 2.0], [2.0, 3.0, 2.5])
    assert nan.n == 2
    with pytest.raises(ValueError, match="equal length"):
        compare_paired([1.0], [1.0, 2.0])
