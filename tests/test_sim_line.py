"""Serial lines: bottleneck throughput, blocking with small buffers, parallel stations."""

from __future__ import annotations

import pytest

from simulations.model import build_model
from simulations.settings import ModelSettings
from simulations.stats import compare_paired, summarize
from simulations.toy import machine, toy_complex

H = 3600.0


def _run(c, s, hours, seed=1, replication=0, warmup_h=2.0):
    model = build_model(c, s, seed=seed, replication=replication)
    model.run(warmup_h * H)
    model.reset_statistics()
    model.run((warmup_h + hours) * H)
    return model.kpis()


def test_throughput_equals_bottleneck_rate_with_large_buffers():
    # 10 s, 12 s (bottleneck), 8 s: 300 units/h; variable times, buffers of 50.
    c = toy_complex([[machine("a", 10), machine("b", 12), machine("c", 8)]], buffer_capacity=50)
    s = ModelSettings.model_validate(
        {
            "defaults": {
                "failures": False,
                "release": "saturate",
                "lot_size": 1,
                "processing": {
                    "dist": "triangular",
                    "low": 0.8,
                    "mode": 1.0,
                    "high": 1.2,
                    "unit": "relative",
                },
            }
        }
    )
    th = summarize([_run(c, s, 40, replication=r)["line.l0.throughput_uph"] for r in range(5)])
    assert th.contains(300.0) or th.mean == pytest.approx(300.0, rel=0.002), th
    k = _run(c, s, 40)
    assert k["machine.b.utilisation"] == pytest.approx(1.0, abs=0.002)
    assert k["machine.a.blocked_share"] > 0.1  # upstream of the bottleneck: blocked
    assert k["machine.c.starved_share"] > 0.2  # downstream: starved


def test_small_buffer_blocking_matches_the_two_station_markov_chain():
    # Two exponential stations with equal rate mu and b places between them,
    # blocking after service, first station never starved: a birth-death chain on
    # 0..b+2 with equal rates, uniform stationary distribution, so
    # throughput = mu (b + 2) / (b + 3): 0.75 mu for b = 1.
    mu_per_h = 3600.0 / 10.0
    c = toy_complex([[machine("a", 10), machine("b", 10)]], buffer_capacity=1)
    s = ModelSettings.model_validate(
        {
            "defaults": {
                "failures": False,
                "release": "saturate",
                "lot_size": 1,
                "processing": {"dist": "exponential", "mean": 1.0, "unit": "relative"},
            }
        }
    )
    small = [_run(c, s, 60, replication=r) for r in range(8)]
    th = summarize([k["line.l0.throughput_uph"] for k in small])
    assert th.contains(mu_per_h * 3 / 4), th
    assert th.half_width < 0.02 * mu_per_h
    assert summarize([k["machine.a.blocked_share"] for k in small]).mean > 0.15
    # The same line with large buffers runs near mu: blocking costs throughput.
    big = toy_complex([[machine("a", 10), machine("b", 10)]], buffer_capacity=200)
    large = [_run(big, s, 60, replication=r)["line.l0.throughput_uph"] for r in range(8)]
    drop = compare_paired(large, [k["line.l0.throughput_uph"] for k in small])
    assert drop.significant and drop.diff < -0.15 * mu_per_h


def test_parallel_machine_doubles_the_station_capacity():
    c = toy_complex([[machine("a", 10), machine("b", 20), machine("b2", 20)]], buffer_capacity=20)
    base = {
        "failures": False,
        "release": "saturate",
        "lot_size": 1,
        "processing": {"dist": "constant", "value": 1, "unit": "relative"},
    }
    serial = ModelSettings.model_validate({"defaults": base})
    parallel = ModelSettings.model_validate({"defaults": base, "machines": {"b2": {"parallel_to": "b"}}})
    # In series the two 20 s machines give 180/h; in parallel they give 360/h
    # (machine a, 10 s, then limits to 360/h as well).
    assert _run(c, serial, 10)["line.l0.throughput_uph"] == pytest.approx(180.0, rel=0.01)
    k = _run(c, parallel, 10)
    assert k["line.l0.throughput_uph"] == pytest.approx(360.0, rel=0.01)
    assert k["machine.b.produced"] == pytest.approx(k["machine.b2.produced"], abs=1)
