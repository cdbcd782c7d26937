"""Simulation lab, pure parts: form checks, the job file protocol, figures and tables."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dash import no_update

from dashboards.jobs import JOB_ID, JobError, JobLimits, JobReporter, JobStore, read_json, write_json_atomic
from dashboards.pages.simlab.callbacks import describe, poll
from dashboards.pages.simlab.catalogue import read_scenario, scenario_catalogue
from dashboards.pages.simlab.figures import (
    CHART_KPIS,
    comparison_rows,
    comparison_table,
    forecast_figure,
    forecast_rows,
    kpi_figure,
    progress_text,
)
from dashboards.pages.simlab.form import (
    MAX_REPLICATIONS,
    FormError,
    apply_parameters,
    check_run,
    scenario_parameters,
    validate_experiment,
    validate_forecast,
)
from twin.config import load_complex

TINY_SCENARIO = """\
name: tiny check
description: the tiny complex with one change
config: tiny
run: {days: 1, warmup_h: 2, replications: 2, seed: 4}
scenarios:
  - name: shared
    description: one truck pool, faster repairs
    changes:
      - {target: logistics.dispatch, set: shared}
      - {target: line.alpha-l1.machines.mttr_h, scale: 0.5}
"""


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny-check.yaml"
    p.write_text(TINY_SCENARIO)
    return p


# ---- form -------------------------------------------------------------------------------


def test_good_run_values_are_cleaned():
    assert check_run(3, 1.5, 2, 7.0) == {"replications": 3, "days": 1.5, "warmup_h": 2.0, "seed": 7}


@pytest.mark.parametrize(
    ("reps", "days", "warmup", "seed", "field"),
    [
        (0, 1, 0, 1, "replications"),
        (MAX_REPLICATIONS + 1, 1, 0, 1, "replications"),
        (2.5, 1, 0, 1, "replications"),
        (True, 1, 0, 1, "replications"),
        ("3", 1, 0, 1, "replications"),
        (None, 1, 0, 1, "replications"),
        (2, 0, 0, 1, "horizon"),
        (2, -1, 0, 1, "horizon"),
        (2, float("nan"), 0, 1, "horizon"),
        (2, float("inf"), 0, 1, "horizon"),
        (2, 1e12, 0, 1, "horizon"),
        (2, [1], 0, 1, "horizon"),
        (2, 1, -1, 1, "warm-up"),
        (2, 1, 24, 1, "warm-up"),  # as long as the run
        (2, 1, 0, -1, "seed"),
        (2, 1, 0, 2**63, "seed"),
        (2, 1, 0, {"$gt": 1}, "seed"),
    ],
)
def test_hostile_run_values_are_refused_with_the_field_named(reps, days, warmup, seed, field):
    with pytest.raises(FormError) as info:
        check_run(reps, days, warmup, seed)
    assert field in str(info.value)
    assert len(str(info.value)) < 400  # a huge or nested value is not echoed in full


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(FormError) as info:
        check_run(0, -1, 0, -5)
    assert len(info.value.problems) == 3


def test_scenario_parameters_are_the_changes_numbers(tiny_file):
    params = scenario_parameters(read_scenario(tiny_file))
    assert [(p.key, p.value) for p in params] == [("0.1.scale", 0.5)]
    assert "line.alpha-l1.machines.mttr_h" in params[0].label
    flood = scenario_parameters(read_scenario(scenario_catalogue()["flood-zone-b"]))
    keys = {p.key: p for p in flood}
    assert keys["0.0.disaster.duration_h"].value == 12 and keys["1.0.disaster.duration_h"].value == 6
    assert keys["0.0.disaster.day"].integer
    assert scenario_parameters("not a mapping") == [] and scenario_parameters({"scenarios": [1, {"changes": 3}]}) == []


def test_apply_parameters_changes_a_copy_and_refuses_unknown_keys(tiny_file):
    data = read_scenario(tiny_file)
    patched, changed = apply_parameters(data, {"0.1.scale": 0.4})
    assert patched["scenarios"][0]["changes"][1]["scale"] == 0.4 and changed == {"0.1.scale": 0.4}
    assert data["scenarios"][0]["changes"][1]["scale"] == 0.5  # the original is untouched
    for hostile in ({"0.0.target": 1}, {"../../etc": 1}, {"9.9.scale": 1}, {None: 1}, {"0.1.scale": "0.4"},
                    {"0.1.scale": float("nan")}, {"0.1.scale": 1e300}):
        with pytest.raises(FormError):
            apply_parameters(data, hostile)


def test_validate_experiment_checks_the_edited_scenario_like_twin_simulate(tiny_file):
    data = read_scenario(tiny_file)
    run = {"replications": 2, "days": 1, "warmup_h": 2, "seed": 4}
    req = validate_experiment("tiny-check", tiny_file, data, run, {"0.1.scale": 0.25})
    assert req.scenarios == 2 and req.replications == 2
    assert req.params["data"]["scenarios"][0]["changes"][1]["scale"] == 0.25
    json.dumps(req.params)  # the job spec is JSON
    # a value the scenario parser refuses (negative repair time) -> the parser's message, nothing else
    with pytest.raises(FormError) as info:
        validate_experiment("tiny-check", tiny_file, data, run, {"0.1.scale": -2})
    assert "not valid" in str(info.value) and "mttr_h" in str(info.value)
    # too much work for the lab
    with pytest.raises(FormError) as info:
        validate_experiment("tiny-check", tiny_file, data, {**run, "replications": 50, "days": 365}, {})
    assert "too large" in str(info.value)


def test_validate_forecast():
    tiny = load_complex("tiny")
    good = validate_forecast(4, None, 2, "down:alpha-smt:2h", tiny)
    assert good == {"replications": 4, "seed": 2, "horizon_h": None, "what_ifs": ["down:alpha-smt:2h"]}
    assert validate_forecast(4, 3, 0, "", tiny)["horizon_h"] == 3.0
    for args, word in [
        ((0, None, 0, None), "replications"),
        ((4, 0, 0, None), "horizon"),
        ((4, 49, 0, None), "horizon"),
        ((4, "8", 0, None), "horizon"),
        ((4, None, 0, "down:ghost:2h"), "unknown machine"),
        ((4, None, 0, "rm -rf /"), "what-if"),
        ((4, None, 0, "x" * 5000), "at most 200"),
        ((4, None, 0, ["down:alpha-smt:2h"]), "what-if"),
    ]:
        with pytest.raises(FormError) as info:
            validate_forecast(*args, tiny)
        assert word in str(info.value), args


def test_describe_unknown_or_forged_scenario_names(tiny_file):
    cat = scenario_catalogue(tiny_file.parent)
    assert "tiny-check" in cat and "predictive-maintenance" in cat
    text, params, reps, days, warmup, seed = describe(cat, "tiny-check")
    assert (reps, days, warmup, seed) == (2, 1, 2, 4) and len(params) == 2  # heading + one input
    for forged in ("../../etc/passwd", "/etc/passwd", None, 3, {"a": 1}):
        text, params, *run = describe(cat, forged)
        assert "unknown scenario" in str(text) and params == [] and run == [None] * 4


# ---- job file protocol ----------------------------------------------------------------


def test_atomic_json_and_unreadable_files(tmp_path):
    p = tmp_path / "x.json"
    write_json_atomic(p, {"a": [1, 2]})
    assert read_json(p) == {"a": [1, 2]} and not list(tmp_path.glob(".*tmp"))
    p.write_text("{half")
    assert read_json(p) is None
    assert read_json(tmp_path / "missing.json") is None
    with pytest.raises(ValueError):
        write_json_atomic(p, {"x": math.nan})  # results must be strict JSON


def _fake_job(store: JobStore, owner: str, state: str, pid: int | None = None) -> str:
    import secrets

    jid = secrets.token_hex(16)
    d = store.root / jid
    d.mkdir(parents=True)
    write_json_atomic(d / "spec.json", {"id": jid, "owner": owner, "kind": "experiment", "params": {},
                                        "created_ms": 0})
    status = {"state": state, "done": 1, "total": 4, "message": "m", "updated_ms": 0}
    if pid is not None:
        status["pid"] = pid
    write_json_atomic(d / "status.json", status)
    return jid


def test_status_is_only_for_the_owner_and_ids_cannot_walk_the_disk(tmp_path):
    store = JobStore(tmp_path / "jobs")
    jid = _fake_job(store, "eng", "done")
    assert store.status(jid, "eng")["state"] == "done"
    assert store.status(jid, "other") is None and store.result(jid, "other") is None
    assert not store.cancel(jid, "other")
    for forged in ("../jobs", "..", "/etc", jid.upper(), jid + "/", None, 7, {"id": jid}, "0" * 32):
        assert store.status(forged, "eng") is None
    assert JOB_ID.match(jid)


def test_a_job_whose_process_died_is_failed_and_frees_its_slot(tmp_path):
    store = JobStore(tmp_path / "jobs", JobLimits(per_user=1, total=1))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    jid = _fake_job(store, "eng", "running", pid=dead.pid)
    status = store.status(jid, "eng")
    assert status["state"] == "failed" and "ended without a result" in status["message"]
    assert store.active() == []
    # a live process that is not this job's runner (a recycled pid) does not count either
    jid2 = _fake_job(store, "eng", "running", pid=os.getpid())
    assert store.status(jid2, "eng")["state"] == "failed"


def test_limits_per_user_and_total_with_live_runners(tmp_path):
    store = JobStore(tmp_path / "jobs", JobLimits(per_user=1, total=2))
    procs = []
    try:
        for owner in ("eng", "kim"):
            jid = _fake_job(store, owner, "running")
            d = store.root / jid
            procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(d)]))
            (d / "pid").write_text(str(procs[-1].pid))
        assert sorted(store.active()) == sorted(store.active("eng") + store.active("kim"))
        with pytest.raises(JobError, match="already have 1 job"):
            store.start("eng", "experiment", {}, "dashboards.sim_jobs")
        with pytest.raises(JobError, match="server already runs 2"):
            store.start("lee", "experiment", {}, "dashboards.sim_jobs")
        with pytest.raises(JobError, match="not signed in"):
            store.start("", "experiment", {}, "dashboards.sim_jobs")
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert store.active() == []  # dead runners free their slots


def test_reporter_progress_result_and_cancel_file(tmp_path):
    store = JobStore(tmp_path / "jobs")
    jid = _fake_job(store, "eng", "starting")
    rep = JobReporter(store.root / jid)
    rep.progress(2, 5)
    st = read_json(store.root / jid / "status.json")
    assert (st["state"], st["done"], st["total"], st["pid"]) == ("running", 2, 5, os.getpid())
    rep.finish({"ok": 1})
    assert store.result(jid, "eng") == {"ok": 1}
    assert store.status(jid, "eng")["done"] == 5
    (store.root / jid / "cancel").touch()
    from dashboards.jobs import JobCancelled

    with pytest.raises(JobCancelled):
        rep.progress(3, 5)
    with pytest.raises(JobError):
        JobReporter(tmp_path)  # no spec.json


def test_runner_refuses_an_unknown_kind(tmp_path):
    store = JobStore(tmp_path / "jobs")
    jid = _fake_job(store, "eng", "starting")
    spec = read_json(store.root / jid / "spec.json")
    write_json_atomic(store.root / jid / "spec.json", {**spec, "kind": "rm-rf"})
    from dashboards.sim_jobs import main

    assert main([str(store.root / jid)]) == 0
    st = read_json(store.root / jid / "status.json")
    assert st["state"] == "failed" and "unknown job kind" in st["message"]
    assert main([str(tmp_path / "nope")]) == 2


def test_poll_reports_progress_and_hides_other_users_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs")
    jid = _fake_job(store, "eng", "done")
    write_json_atomic(store.root / jid / "result.json", _EXPERIMENT)
    value, maximum, text, figure, table, shown, disabled = poll(store, "eng", {"id": jid}, None, "experiment")
    assert "done" in text and len(figure.data) == 2 * len(CHART_KPIS) and disabled
    # the same state again: nothing is redrawn (buttons and zoom stay put)
    assert all(x is no_update for x in poll(store, "eng", {"id": jid}, shown, "experiment"))
    other = poll(store, "kim", {"id": jid}, None, "experiment")
    assert other[2] == "no such job of yours" and other[3] is no_update
    assert poll(store, "eng", {"id": jid}, None, "forecast")[2] == "no such job of yours"  # wrong panel
    assert all(x is no_update for x in poll(store, None, {"id": jid}, None, "experiment"))
    assert poll(store, "eng", "junk", None, "experiment")[2] == "no such job of yours"


# ---- figures ----------------------------------------------------------------------------

_EXPERIMENT = {
    "scenarios": {
        "baseline": {"kpis": {"complex.oee": {"mean": 0.5, "half_width": 0.02, "unit": "1"},
                              "complex.throughput_uph": {"mean": 100.0, "half_width": 5.0, "unit": "units/h"}}},
        "better": {"kpis": {"complex.oee": {"mean": 0.55, "half_width": 0.03, "unit": "1"},
                            "complex.throughput_uph": {"mean": None, "half_width": None, "unit": "units/h"}}},
    },
    "comparisons": {
        "better": {"complex.oee": {"diff": 0.05, "ci_low": 0.04, "ci_high": 0.06, "relative": 0.1,
                                   "significant": True, "unit": "1"},
                   "complex.throughput_uph": {"diff": None, "ci_low": None, "ci_high": None, "relative": None,
                                              "significant": False, "unit": "units/h"}},
    },
}


def test_kpi_figure_has_a_bar_per_scenario_and_kpi_with_ci_error_bars():
    fig = kpi_figure(_EXPERIMENT, ("complex.oee", "complex.throughput_uph"))
    bars = {(t.name, t.xaxis): t for t in fig.data}
    assert len(bars) == 4
    oee = [t for t in fig.data if t.xaxis == "x"]
    assert [t.y[0] for t in oee] == [0.5, 0.55]
    assert [t.error_y.array[0] for t in oee] == [0.02, 0.03]
    missing = next(t for t in fig.data if t.name == "better" and t.xaxis == "x2")
    assert missing.y[0] is None and not missing.error_y.visible  # undefined: no bar, no fake CI
    titles = [a.text for a in fig.layout.annotations]
    assert "complex.throughput_uph [units/h]" in titles
    assert kpi_figure({}).layout.annotations[0].text == "no result to show"
    assert kpi_figure({"scenarios": "junk"}).layout.annotations


def test_comparison_rows_and_table():
    rows = comparison_rows(_EXPERIMENT)
    oee = next(r for r in rows if r["kpi"] == "complex.oee")
    assert oee["baseline"] == 0.5 and oee["value"] == 0.55 and oee["significant"]
    assert math.isclose(oee["half_width"], 0.01) and math.isclose(oee["diff"], 0.05)
    text = str(comparison_table(rows))
    assert "+0.05 ± 0.01" in text and "+10.0%" in text and "yes" in text and "n/a" in text
    assert "only the baseline" in str(comparison_table([]))
    assert comparison_rows({"scenarios": {}, "comparisons": None}) == []


def test_forecast_figure_and_rows():
    result = {
        "horizon_h": 3.0,
        "scenarios": {
            "as-is": {"outputs": {"complex.good_units": {"mean": 100, "half_width": 4},
                                  "factory.alpha-f1.good_units": {"mean": 60, "half_width": 3}}},
            "down:alpha-smt:2h": {"outputs": {"complex.good_units": {"mean": 80, "half_width": 5},
                                              "factory.alpha-f1.good_units": {"mean": 40, "half_width": 3}}},
        },
        "comparisons": {"down:alpha-smt:2h": {"complex.good_units": {"diff": -20, "ci_low": -22, "ci_high": -18,
                                                                     "significant": True}}},
    }
    fig = forecast_figure(result)
    assert [t.name for t in fig.data] == ["as-is", "down:alpha-smt:2h"]
    assert list(fig.data[0].x) == ["complex", "alpha-f1"] and list(fig.data[0].error_y.array) == [4, 3]
    rows = forecast_rows(result)
    assert rows[0]["what_ifs"]["down:alpha-smt:2h"]["diff"] == -20
    assert rows[1]["what_ifs"]["down:alpha-smt:2h"]["diff"] is None
    assert forecast_figure({}).layout.annotations[0].text == "no forecast to show"


def test_progress_text_from_any_status():
    assert progress_text({"state": "running", "done": 3, "total": 12, "message": "3/12"}) == (
        3, 12, "running: 3/12 (25%)")
    assert progress_text({"done": "x", "total": True}) == (0, 0, "?: ")
    assert len(progress_text({"message": "m" * 10_000})[2]) < 400


def test_request_guard_refuses_wrong_shapes_for_wildcard_state():
    """Dash answers a dict or a list of junk for an ALL state with a 500; the guard says 400 first."""
    from dashboards.guard import callback_request_problem

    spec_id = '{"key":["ALL"],"type":"simlab-param"}'
    cmap = {"out.children": {"inputs": [{"id": "b", "property": "n_clicks"}],
                             "state": [{"id": spec_id, "property": "value"}]}}

    def body(state: object) -> dict:
        return {"output": "out.children", "inputs": [{"id": "b", "property": "n_clicks", "value": 1}],
                "state": [state]}

    good = [{"id": {"type": "simlab-param", "key": "0.1.scale"}, "property": "value", "value": 1}]
    assert callback_request_problem(cmap, body(good)) is None
    assert callback_request_problem(cmap, body([])) is None
    assert "must be a list" in callback_request_problem(cmap, body({"not": "a list"}))
    assert "object id" in callback_request_problem(cmap, body([1, 2, 3]))
    assert "property" in callback_request_problem(cmap, body([{**good[0], "property": "id"}]))


def test_start_forecast_checks_the_form_before_starting_a_job(tmp_path):
    from dashboards.context import DashboardContext
    from dashboards.data import HistorianSource
    from dashboards.pages.simlab.callbacks import start_forecast

    store = JobStore(tmp_path / "jobs")
    ctx = DashboardContext(load_complex("tiny"), HistorianSource("sqlite://" + str(tmp_path / "h.db")),
                           broker_url="mqtt://127.0.0.1:1")
    for args in [(0, None, 0, None), (4, float("inf"), 0, None), (4, None, -1, None), (4, None, 0, "down:ghost:1h"),
                 (4, None, 0, "down:alpha-smt:99d")]:
        job, message = start_forecast(store, ctx, "eng", *args)
        assert job is no_update and "Nothing started" in str(message), args
    assert not store.root.exists() or store.active() == []
    job, message = start_forecast(store, ctx, None, 4, None, 0, None)
    assert job is no_update and message == "not signed in"


def test_a_runner_just_started_counts_as_alive(tmp_path):
    """Popen returns before the kernel has set up the child's argv (its /proc cmdline reads
    empty for a moment): a job checked right after its start must not look dead."""
    from dashboards.jobs import _process_alive

    for _ in range(20):
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(tmp_path)])
        try:
            assert _process_alive(p.pid, tmp_path)
        finally:
            p.kill()
            p.wait()
        assert not _process_alive(p.pid, tmp_path)
