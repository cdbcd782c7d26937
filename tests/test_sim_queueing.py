"""The model against queueing theory: M/M/1 and Little's law (statistical validity).

Each check runs independent replications with a fixed seed (so the test is
deterministic) and asserts that the theoretical value lies inside the 95%
confidence interval of the replication means, and that the interval is narrow
enough for the check to mean something.
"""

from __future__ import annotations

import pytest

from simulations.model import build_model
from simulations.settings import ModelSettings
from simulations.stats import summarize
from simulations.toy import machine, toy_complex

SERVICE_S = 10.0
RHO = 0.7
WARMUP_S = 5_000.0
HORIZON_S = 105_000.0
REPLICATIONS = 20


def _mm1_settings() -> ModelSettings:
    return ModelSettings.model_validate(
        {
            "defaults": {
                "failures": False,
                "lot_size": 1,
                "processing": {"dist": "exponential", "mean": SERVICE_S},
                "arrivals": {"dist": "exponential", "mean": SERVICE_S / RHO},
            }
        }
    )


@pytest.fixture(scope="module")
def mm1_runs() -> list[dict[str, float]]:
    c = toy_complex([[machine("m", SERVICE_S)]])
    s = _mm1_settings()
    out = []
    for r in range(REPLICATIONS):
        model = build_model(c, s, seed=1, replication=r)
        model.run(WARMUP_S)
        model.reset_statistics()
        model.run(HORIZON_S)
        out.append(model.kpis())
    return out


def test_mm1_mean_time_in_system_within_ci(mm1_runs):
    w = summarize([k["line.l0.lead_time_h"] * 3600.0 for k in mm1_runs])
    theory = SERVICE_S / (1.0 - RHO)  # W = 1 / (mu - lambda)
    assert w.contains(theory), (w, theory)
    assert w.half_width < 0.05 * theory


def test_mm1_mean_queue_length_within_ci(mm1_runs):
    lq = summarize([k["machine.m.mean_queue_units"] for k in mm1_runs])
    theory = RHO**2 / (1.0 - RHO)  # Lq = rho^2 / (1 - rho)
    assert lq.contains(theory), (lq, theory)
    assert lq.half_width < 0.08 * theory


def test_mm1_number_in_system_and_utilisation_within_ci(mm1_runs):
    L = summarize([k["line.l0.wip_units"] for k in mm1_runs])
    assert L.contains(RHO / (1.0 - RHO)), L
    u = summarize([k["machine.m.utilisation"] for k in mm1_runs])
    assert u.contains(RHO), u


def test_littles_law_on_mm1(mm1_runs):
    # L = lambda * W on the model's own statistics, replication by replication.
    for k in mm1_runs:
        L = k["line.l0.wip_units"]
        lam_w = k["line.l0.throughput_uph"] * k["line.l0.lead_time_h"]
        assert lam_w == pytest.approx(L, rel=0.01)


def test_littles_law_on_a_line_with_lots_failures_and_setups():
    # Lots of several units, two products (setups), failures, finite buffers, in
    # units: WIP (time average) = throughput x lead time for the line and the factory.
    # The run is long so that lots straddling the window's ends weigh < 1.5%.
    c = toy_complex(
        [
            [
                machine("a", 20.0, mtbf_h=2, mttr_h=0.3, setup_s=120),
                machine("b", 25.0, mtbf_h=3, mttr_h=0.2, setup_s=60),
            ]
        ],
        buffer_capacity=3,
    )
    s = ModelSettings.model_validate(
        {
            "defaults": {"utilisation": 0.75},
            "factories": {
                "f0": {
                    "products": [
                        {"id": "p", "lot_size": {"dist": "uniform", "low": 2, "high": 8}},
                        {"id": "q", "weight": 2, "lot_size": 4},
                    ]
                }
            },
        }
    )
    for r in range(2):
        model = build_model(c, s, seed=7, replication=r)
        model.run(10 * 3600.0)
        model.reset_statistics()
        model.run(1010 * 3600.0)
        k = model.kpis()
        assert k["line.l0.throughput_uph"] > 0
        for p in ("line.l0", "factory.f0"):
            assert k[f"{p}.throughput_uph"] * k[f"{p}.lead_time_h"] == pytest.approx(k[f"{p}.wip_units"], rel=0.015)
