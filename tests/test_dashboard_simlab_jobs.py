"""Simulation lab jobs for real: the child process runs the SimPy model, reports progress,
writes its result; cancel stops it; forecasts read retained snapshots from a real Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from dashboards.jobs import JobLimits, JobStore, _process_alive, read_json
from dashboards.pages.simlab.catalogue import read_scenario, scenario_catalogue
from dashboards.pages.simlab.form import validate_experiment, validate_forecast
from dashboards.sim_jobs import EXPERIMENT, FORECAST, RUNNER_MODULE
from simulations.live_state import observed_snapshots
from simulations.model import build_model
from tests.test_dashboard_simlab import TINY_SCENARIO
from twin.config import load_complex
from twin.snapshot import encode_snapshot, factory_state_topic
from twin.timespec import now_ms

WAIT_S = 120  # upper bound for a job to reach a state, not a timing assertion


def _wait(store: JobStore, jid: str, owner: str, until, what: str) -> tuple[dict, list[dict]]:  # type: ignore[no-untyped-def]
    seen: list[dict] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        st = store.status(jid, owner)
        assert st is not None
        seen.append(st)
        if until(st):
            return st, seen
        time.sleep(0.1)
    log = (store.root / jid / "log.txt").read_text()
    raise AssertionError(f"waiting for {what}; last status {seen[-1]}\n{log}")


def _final(st: dict) -> bool:
    return st["state"] in ("done", "failed", "cancelled")


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny-check.yaml"
    p.write_text(TINY_SCENARIO)
    return p


def test_experiment_job_runs_the_model_reports_progress_and_writes_the_result(tiny_file, tmp_path):
    store = JobStore(tmp_path / "jobs")
    run = {"replications": 3, "days": 1, "warmup_h": 2, "seed": 4}
    req = validate_experiment("tiny-check", tiny_file, read_scenario(tiny_file), run, {"0.1.scale": 0.4})
    jid = store.start("eng", EXPERIMENT, req.params, RUNNER_MODULE)
    st, seen = _wait(store, jid, "eng", _final, "the experiment to end")
    assert st["state"] == "done", st
    assert (st["done"], st["total"]) == (6, 6)  # 3 replications x (baseline + 1 scenario): 100%
    progress = [s["done"] for s in seen if s["state"] == "running"]
    assert progress == sorted(progress)  # never goes backwards
    result = store.result(jid, "eng")
    assert result["run"]["replications"] == 3 and result["run"]["seed"] == 4
    assert set(result["scenarios"]) == {"baseline", "shared"}
    oee = result["scenarios"]["baseline"]["kpis"]["complex.oee"]
    assert 0 < oee["mean"] < 1 and oee["n"] == 3 and oee["ci_low"] <= oee["mean"] <= oee["ci_high"]
    assert "complex.oee" in result["comparisons"]["shared"]
    assert result["meta"]["changed"] == {"0.1.scale": 0.4} and result["meta"]["config"] == "tiny"
    # the same spec run by `twin simulate` logic in this process gives the same numbers
    from simulations.experiment import RunSpec, run_experiment
    from simulations.scenario import parse_scenario_file

    plan = parse_scenario_file(req.params["data"], str(tiny_file))
    here = run_experiment(plan.scenarios, RunSpec(days=1, warmup_h=2, replications=3, seed=4)).to_dict()
    assert here["scenarios"]["shared"]["kpis"] == result["scenarios"]["shared"]["kpis"]
    assert store.active() == []
    assert store.result(jid, "kim") is None


def test_cancel_stops_a_running_job_and_frees_the_slot(tmp_path):
    store = JobStore(tmp_path / "jobs", JobLimits(per_user=1, total=2))
    path = scenario_catalogue()["demo-baseline"]
    run = {"replications": 20, "days": 60, "warmup_h": 24, "seed": 1}  # minutes of work: must be cut short
    req = validate_experiment("demo-baseline", path, read_scenario(path), run, {})
    jid = store.start("eng", EXPERIMENT, req.params, RUNNER_MODULE)
    _wait(store, jid, "eng", lambda s: s["state"] == "running" and s["total"] == 20, "the job to run")
    assert store.active("eng") == [jid]
    pid = int((store.root / jid / "pid").read_text())
    assert store.cancel(jid, "kim") is False  # not kim's job
    assert store.cancel(jid, "eng") is True
    st, _ = _wait(store, jid, "eng", _final, "the job to stop")
    assert st["state"] == "cancelled" and st["done"] < 20
    assert store.result(jid, "eng") is None and not (store.root / jid / "result.json").exists()
    deadline = time.monotonic() + 10
    while _process_alive(pid, store.root / jid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _process_alive(pid, store.root / jid)
    assert store.cancel(jid, "eng") is False  # already over
    assert store.active() == []
    log = (store.root / jid / "log.txt").read_text()
    assert "cancelled" in log and "Traceback" not in log


def test_a_bad_spec_fails_with_a_message_not_a_traceback(tmp_path):
    store = JobStore(tmp_path / "jobs")
    # a spec that skipped the form (the runner must still not crash): an unknown machine
    data = {"config": "tiny", "scenarios": [{"name": "x", "changes": [{"target": "machine.ghost.mttr_h", "scale": 2}]}]}
    params = {"scenario": "x", "source": str(tmp_path / "x.yaml"), "data": data,
              "run": {"replications": 1, "days": 1, "warmup_h": 0, "seed": 1}}
    jid = store.start("eng", EXPERIMENT, params, RUNNER_MODULE)
    st, _ = _wait(store, jid, "eng", _final, "the job to fail")
    assert st["state"] == "failed" and "ghost" in st["message"]


def _publish_tiny_snapshots(broker) -> None:  # type: ignore[no-untyped-def]
    model = build_model(load_complex("tiny"), seed=5)
    model.run(34 * 3600.0)
    msgs = [
        {"topic": factory_state_topic(s.tenant, s.factory), "payload": encode_snapshot(s), "qos": 1, "retain": True}
        for s in observed_snapshots(model, now_ms()).values()
    ]
    msgs.append({"topic": "twin/v1/beta-chem/alpha-f1/state", "payload": b"{not json", "retain": True})
    publish.multiple(msgs, hostname="127.0.0.1", port=broker.port)


@pytest.mark.mosquitto
def test_forecast_job_reads_retained_snapshots_from_the_broker(mosquitto, tmp_path):
    tiny = load_complex("tiny")
    store = JobStore(tmp_path / "jobs")
    form = validate_forecast(4, 3, 2, "down:alpha-smt:2h", tiny)
    params = {**form, "broker_url": mosquitto.url, "complex": tiny.model_dump(mode="json"), "wait_s": 10.0}

    # nothing retained yet: a clear message, no result
    jid = store.start("eng", FORECAST, {**params, "wait_s": 1.0}, RUNNER_MODULE)
    st, _ = _wait(store, jid, "eng", _final, "the empty forecast")
    assert st["state"] == "failed" and "no live state" in st["message"]

    _publish_tiny_snapshots(mosquitto)
    jid = store.start("eng", FORECAST, params, RUNNER_MODULE)
    st, seen = _wait(store, jid, "eng", _final, "the forecast")
    assert st["state"] == "done", st
    assert (st["done"], st["total"]) == (8, 8)  # 4 replications x (as-is + 1 what-if)
    doc = store.result(jid, "eng")
    # the start came from the retained snapshots (the 'running' messages go by too fast to poll reliably)
    assert doc["meta"]["snapshots"] == len(tiny.factories), doc["meta"]
    assert doc["replications"] == 4 and doc["horizon_h"] == 3.0
    assert doc["scenarios"]["as-is"]["outputs"]["complex.good_units"]["mean"] > 0
    assert doc["comparisons"]["down:alpha-smt:2h"]["complex.good_units"]["diff"] < 0
    assert doc["meta"]["machines_observed"] == ["alpha-aoi", "alpha-smt", "beta-reactor"]
    assert doc["meta"]["refused"] >= 1  # the junk beside them was ignored, not fatal


def test_forecast_job_with_no_broker_listening_says_so(tmp_path):
    from tests.fixtures.servers import free_port

    tiny = load_complex("tiny")
    store = JobStore(tmp_path / "jobs")
    params = {**validate_forecast(2, 1, 0, None, tiny), "broker_url": f"mqtt://127.0.0.1:{free_port()}",
              "complex": tiny.model_dump(mode="json"), "wait_s": 1.0}
    jid = store.start("eng", FORECAST, params, RUNNER_MODULE)
    st, _ = _wait(store, jid, "eng", _final, "the forecast to fail")
    assert st["state"] == "failed" and "not reachable" in st["message"]
    assert read_json(store.root / jid / "result.json") is None
