"""Forecasts from a state: faithful to the model's own continuation, what-ifs, horizons, input."""

from __future__ import annotations

import math

import pytest

from simulations.experiment import make_executor
from simulations.forecast import (
    BASELINE,
    HEADLINE,
    WhatIf,
    forecast,
    parse_what_if,
    shift_end_s,
)
from simulations.live_state import observed_snapshots, state_from_snapshots
from simulations.model import build_model
from simulations.settings import ModelSettings
from simulations.state import ComplexState, MachineSnapshot, WorkItem
from simulations.stats import summarize
from simulations.toy import machine, toy_complex
from twin.config import load_complex
from twin.model import MachineState

H = 3600.0
T_FORK = 30 * H + 1234.0  # day 2, 06:20:34: inside the day shift
HORIZON = 8 * H
#: 10:00 site time (Asia/Seoul) on 2026-11-26, in epoch ms; 06:20:34 is 13166 s earlier.
TEN_AM_MS = 1_795_654_800_000


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


def _output(model) -> float:
    return float(sum(f.good_units for f in model.factories.values()))


@pytest.fixture(scope="module")
def originals(tiny):
    """40 independent runs of the tiny complex: the state at T_FORK, and the output of
    their own continuation over the next 8 h."""
    out = []
    for r in range(40):
        m = build_model(tiny, seed=r)
        m.run(T_FORK)
        snap = m.snapshot()
        snaps = observed_snapshots(m, TEN_AM_MS + round((T_FORK % 86400 - 10 * H) * 1000))
        m.reset_statistics()
        m.run(T_FORK + HORIZON)
        out.append((snap, snaps, _output(m)))
    return out


def test_forecast_from_a_fork_reproduces_the_models_own_continuation(tiny, originals):
    # Paired by original run: own continuation minus the mean of 4 forecast replications
    # from its state. Faithful forks give differences centred on 0; a forecast that lost
    # the state (here: started empty) is biased low, which this test must be able to see.
    diff, diff_empty = [], []
    for r, (snap, _, own) in enumerate(originals):
        fc = forecast(tiny, snap, horizon_s=HORIZON, replications=4, seed=1000 + r)
        assert fc.start_s == T_FORK and fc.horizon_s == HORIZON
        diff.append(own - fc.baseline.summaries[HEADLINE].mean)
        empty = forecast(
            tiny, ComplexState(time_s=T_FORK), horizon_s=HORIZON, replications=4, seed=1000 + r
        )
        diff_empty.append(own - empty.baseline.summaries[HEADLINE].mean)
    d, e = summarize(diff), summarize(diff_empty)
    mean_own = sum(o for _, _, o in originals) / len(originals)
    assert d.low <= 0.0 <= d.high, d
    assert abs(d.mean) < 0.1 * mean_own
    assert e.low > 0.0, e  # the test has the power to see a lost state


def test_forecast_from_the_snapshot_estimate_is_also_unbiased(tiny, originals):
    # The live path: only machine states observed; buffers and WIP from the model's prior.
    diff = []
    for r, (_, snaps, own) in enumerate(originals):
        est = state_from_snapshots(tiny, snaps, seed=500 + r)
        assert est.state.time_s == pytest.approx(T_FORK % 86400, abs=1e-3)
        fc = forecast(tiny, est.state, horizon_s=HORIZON, replications=4, seed=1000 + r)
        diff.append(own - fc.baseline.summaries[HEADLINE].mean)
    d = summarize(diff)
    assert d.low <= 0.0 <= d.high, d


def test_machine_down_what_if_lowers_output_and_leaves_other_factories_alone(tiny, originals):
    snap = originals[0][0]
    w = parse_what_if("down:alpha-smt:2h", tiny)
    fc = forecast(tiny, snap, horizon_s=HORIZON, replications=8, seed=3, what_ifs=[w])
    assert [s.name for s in fc.scenarios] == [BASELINE, "down:alpha-smt:2h"]
    c = fc.comparisons["down:alpha-smt:2h"]
    assert c[HEADLINE].diff < 0 and c[HEADLINE].significant
    assert c["factory.alpha-f1.good_units"].diff < 0
    # common random numbers: the other factory sees exactly the same streams
    assert c["factory.beta-f1.good_units"].diff == 0.0
    assert c["factory.beta-f1.good_units"].half_width == 0.0
    # the held machine was down in every replication: it produced at most 6 h of lots
    smt_base = fc.baseline.summaries["machine.alpha-smt.good"].mean
    smt_down = fc.scenario("down:alpha-smt:2h").summaries["machine.alpha-smt.good"].mean
    assert smt_down < 0.9 * smt_base


def test_longer_outage_costs_more_and_a_factory_stop_costs_that_factory():
    # a saturated line: the bottleneck b never waits for work, so every hour down is lost
    c = toy_complex([[machine("a", 10), machine("b", 12)]], buffer_capacity=3)
    s = ModelSettings.model_validate({"defaults": {"release": "saturate", "lot_size": 4}})
    snap = build_model(c, s, seed=1).snapshot()
    variants = [parse_what_if(t, c) for t in ("down:b:1h", "down:b:3h", "stop:f0:2h")]
    fc = forecast(c, snap, settings=s, horizon_s=6 * H, replications=5, seed=1, what_ifs=variants)
    one, three, stop = (fc.comparisons[v.name][HEADLINE].diff for v in variants)
    assert three < one < 0
    assert stop < 0


def test_what_if_keeps_the_lot_on_the_machine():
    state = ComplexState(
        time_s=0.0,
        machines={"a": MachineSnapshot(MachineState.BUSY, job=WorkItem(5), work_left_s=30)},
    )
    held = WhatIf("hold-a", machines_down={"a": 600}).apply(state)
    m = held.machines["a"]
    assert m.state is MachineState.DOWN and m.repair_left_s == 600
    assert m.job == WorkItem(5) and m.work_left_s == 30
    assert state.machines["a"].state is MachineState.BUSY  # the original is untouched


def test_same_seed_same_forecast_and_an_executor_changes_nothing(tiny, originals):
    snap = originals[1][0]
    w = [parse_what_if("stop:beta-f1:1h", tiny)]
    a = forecast(tiny, snap, horizon_s=2 * H, replications=4, seed=7, what_ifs=w)
    b = forecast(tiny, snap, horizon_s=2 * H, replications=4, seed=7, what_ifs=w)
    assert a.to_dict() == b.to_dict()
    with make_executor(2) as ex:
        c = forecast(tiny, snap, horizon_s=2 * H, replications=4, seed=7, what_ifs=w, executor=ex)
    assert c.to_dict() == a.to_dict()
    d = forecast(tiny, snap, horizon_s=2 * H, replications=4, seed=8, what_ifs=w)
    assert d.baseline.values[HEADLINE] != a.baseline.values[HEADLINE]


def test_default_horizon_is_the_end_of_the_shift(tiny):
    # tiny: 06-14, 14-22, 22-06 in site time
    assert shift_end_s(tiny, 10 * H) == 14 * H
    assert shift_end_s(tiny, 14 * H) == 22 * H
    assert shift_end_s(tiny, 23 * H) == 30 * H
    assert shift_end_s(tiny, 5 * H) == 6 * H  # the night shift that began yesterday
    assert shift_end_s(tiny, 86400 + 7 * H) == 86400 + 14 * H
    no_shifts = toy_complex([[machine("a", 10)]])
    assert shift_end_s(no_shifts, 5 * H) == 13 * H
    day_only = toy_complex([[machine("a", 10)]], shifts=[("day", "06:00", 8)])
    assert shift_end_s(day_only, 20 * H) == 24 * H + 14 * H  # between shifts: the next one's end
    snap = build_model(tiny, seed=2).snapshot()  # t = 0: midnight, in the night shift
    fc = forecast(tiny, snap, replications=2)
    assert fc.horizon_s == 6 * H


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "looks like"),
        ("down:alpha-smt", "bad what-if"),
        ("up:alpha-smt:2h", "bad what-if"),
        ("down::2h", "bad what-if"),
        ("down:alpha-smt:2 hours", "bad duration"),
        ("down:alpha-smt:0h", "> 0"),
        ("down:alpha-smt:30d", "7 days"),
        ("down:alpha-smt:-1h", "bad duration"),
        ("down:nope:1h", "unknown machine"),
        ("stop:nope:1h", "unknown factory"),
        ("stop:alpha-smt:1h", "unknown factory"),
        ("down:alpha-smt:1h+", "bad what-if"),
        ("x" * 2000, "looks like"),
    ],
)
def test_bad_what_ifs_are_refused_with_the_reason(tiny, text, why):
    with pytest.raises(ValueError, match=why):
        parse_what_if(text, tiny)


def test_bad_forecast_arguments_fail_fast(tiny):
    s = ComplexState(time_s=10 * H)
    for kwargs, why in (
        ({"replications": 0}, "replications"),
        ({"replications": True}, "replications"),
        ({"seed": -1}, "seed"),
        ({"horizon_s": 0}, "horizon_s"),
        ({"horizon_s": math.inf}, "horizon_s"),
        ({"what_ifs": [WhatIf("x", {"a": 1.0}), WhatIf("x", {"a": 2.0})]}, "unknown machine"),
        (
            {"what_ifs": [WhatIf("x", {"alpha-smt": 1.0}), WhatIf("x", {"alpha-smt": 2.0})]},
            "twice",
        ),
    ):
        with pytest.raises(ValueError, match=why):
            forecast(tiny, s, **kwargs)
    with pytest.raises(ValueError, match="changes nothing"):
        WhatIf("empty")
    with pytest.raises(ValueError, match="other than"):
        WhatIf(BASELINE, {"alpha-smt": 1.0})


def test_result_is_json_ready(tiny, originals):
    import json

    fc = forecast(tiny, originals[2][0], horizon_s=H, replications=3, seed=1)
    doc = json.loads(json.dumps(fc.to_dict(), allow_nan=False))
    out = doc["scenarios"][BASELINE]["outputs"][HEADLINE]
    assert out["n"] == 3 and out["ci_low"] <= out["mean"] <= out["ci_high"]
    assert doc["horizon_h"] == 1.0 and doc["headline"] == HEADLINE
