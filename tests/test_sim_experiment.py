"""Experiments: reproducibility, common random numbers, warm-up, executors."""

from __future__ import annotations

import json

import pytest

from simulations.experiment import RunSpec, make_executor, run_experiment
from simulations.scenario import Scenario
from simulations.settings import ModelSettings
from simulations.toy import machine, toy_complex


def _scenarios(mttr_scale: float = 0.7) -> list[Scenario]:
    settings = ModelSettings.model_validate({"defaults": {"release": "saturate", "lot_size": 3}})
    base = toy_complex(
        [[machine("a", 30, mtbf_h=4, mttr_h=1.0), machine("b", 25, mtbf_h=6, mttr_h=1.5)]],
        buffer_capacity=4,
    )
    pm = toy_complex(
        [
            [
                machine("a", 30, mtbf_h=4, mttr_h=1.0 * mttr_scale),
                machine("b", 25, mtbf_h=6, mttr_h=1.5 * mttr_scale),
            ]
        ],
        buffer_capacity=4,
    )
    return [Scenario("baseline", "", base, settings), Scenario("pm", "MTTR -30%", pm, settings)]


RUN = RunSpec(days=2, warmup_h=12, replications=6, seed=42)


def _dump(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True)


def test_same_seed_gives_bit_identical_results_and_another_seed_does_not():
    a = run_experiment(_scenarios(), RUN)
    b = run_experiment(_scenarios(), RUN)
    assert _dump(a) == _dump(b)
    c = run_experiment(_scenarios(), RunSpec(days=2, warmup_h=12, replications=6, seed=43))
    assert _dump(a) != _dump(c)
    assert a.baseline.values["line.l0.throughput_uph"] != c.baseline.values["line.l0.throughput_uph"]
    # Replications differ from each other (independent streams per replication).
    assert len(set(a.baseline.values["line.l0.throughput_uph"])) == RUN.replications


def test_common_random_numbers_narrow_the_ci_of_the_difference():
    crn = run_experiment(_scenarios(), RUN)
    ind = run_experiment(_scenarios(), RunSpec(days=2, warmup_h=12, replications=6, seed=42, crn=False))
    k = "line.l0.throughput_uph"
    c_crn, c_ind = crn.comparisons["pm"][k], ind.comparisons["pm"][k]
    assert c_crn.half_width < 0.5 * c_ind.half_width, (c_crn, c_ind)
    assert c_crn.significant and c_crn.diff > 0  # shorter repairs, more output
    # Same baseline streams either way: CRN only changes the scenario's streams.
    assert crn.baseline.values[k] == ind.baseline.values[k]


def test_results_contain_every_kpi_with_ci_and_unit():
    d = run_experiment(_scenarios(), RUN).to_dict()
    kpis = d["scenarios"]["baseline"]["kpis"]
    oee = kpis["complex.oee"]
    assert set(oee) == {"mean", "ci_low", "ci_high", "half_width", "n", "unit"}
    assert oee["ci_low"] <= oee["mean"] <= oee["ci_high"] and oee["unit"] == "1" and oee["n"] == 6
    assert kpis["line.l0.throughput_uph"]["unit"] == "units/h"
    cmp = d["comparisons"]["pm"]["machine.a.availability"]
    assert set(cmp) == {"diff", "ci_low", "ci_high", "relative", "significant", "n", "unit"}
    assert cmp["significant"] is True and cmp["diff"] > 0
    assert len(d["scenarios"]["pm"]["wip_series"]["t_h"]) == len(d["scenarios"]["pm"]["wip_series"]["complex"])


def test_warmup_is_excluded_from_statistics():
    # Throughput over the measured window only: 3.5 measured days, not 4.
    result = run_experiment(_scenarios()[:1], RunSpec(days=4, warmup_h=12, replications=1, seed=1))
    produced_after_warmup = result.baseline.values["machine.b.good"][0]
    assert result.baseline.values["line.l0.throughput_uph"][0] == pytest.approx(produced_after_warmup / 84.0)


def test_process_pool_gives_the_same_results_as_one_process():
    inline = run_experiment(_scenarios(), RUN)
    with make_executor(jobs=2) as pool:
        assert pool is not None
        pooled = run_experiment(_scenarios(), RUN, pool)
    assert _dump(pooled) == _dump(inline)


def test_progress_is_reported_per_replication():
    seen = []
    run_experiment(
        _scenarios(),
        RunSpec(days=1, replications=2, seed=1),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"days": 0}, "days"),
        ({"days": 1, "warmup_h": 24}, "warm-up"),
        ({"days": 1, "replications": 0}, "replications"),
        ({"days": 1, "seed": -1}, "seed"),
    ],
)
def test_run_spec_fails_fast(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunSpec(**kwargs)


def test_make_executor_rejects_bad_jobs():
    with pytest.raises(ValueError, match="jobs"), make_executor(jobs=0):
        pass
