"""The simulation lab on a real `twin dashboard --users` server: forged callback calls by role,
hostile form values over HTTP, and a job started, polled to the end and read back by its owner only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.auth.users import User, add_user
from tests.fixtures.servers import free_port, read_log, stop, wait_port
from tests.test_dashboard_login_http import _call, _opener
from tests.test_dashboard_login_http import _logged_in as _login
from tests.test_dashboard_simlab import TINY_SCENARIO

SECRET = "simlab-http-secret-0123456789abcdef"
RUN_OUTPUT = "..simlab-job.data...simlab-message.children.."
POLL_OUTPUT = (
    "..simlab-progress.value...simlab-progress.max...simlab-progress-text.children...simlab-chart.figure"
    "...simlab-table.children...simlab-shown.data...simlab-cancel.disabled.."
)
PARAM = {"type": "simlab-param", "key": ["ALL"]}
WAIT_S = 120  # upper bound for the job, not a timing assertion


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("simlab-http")
    (tmp / "scenarios").mkdir()
    (tmp / "scenarios" / "tiny-check.yaml").write_text(TINY_SCENARIO)
    users = tmp / "users.yaml"
    for user in (User("eng", "engineer"), User("adm", "admin"), User("ops", "operator"),
                 User("alpha", "tenant", "alpha-elec")):
        add_user(users, user, f"{user.username}-pass")
    port = free_port()
    log = tmp / "dashboard.log"
    jobs = tmp / "jobs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "dashboard", "--historian", "sqlite://" + str(tmp / "history.db"),
         "--config", "tiny", "--port", str(port), "--users", str(users)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "TWIN_DASHBOARD_SECRET": SECRET, "TWIN_DASHBOARD_JOBS": str(jobs),
             "TWIN_DASHBOARD_SCENARIOS": str(tmp / "scenarios"), "TWIN_DASHBOARD_STATE_DIR": str(tmp / "state")},
    )
    try:
        wait_port(port, timeout=30, proc=proc)
    except Exception:
        stop(proc)
        raise AssertionError(f"dashboard did not start:\n{read_log(log)}") from None
    yield f"http://127.0.0.1:{port}", jobs
    stop(proc)
    text = read_log(log, limit=200_000)
    assert "Traceback" not in text, text


def _outputs(output: str) -> list[dict]:
    return [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in output.strip(".").split("...")]


def _run_body(scenario: object = "tiny-check", reps: object = 2, days: object = 1, warmup: object = 2,
              seed: object = 4, params: object = None, trigger: str = "simlab-run", job: object = None) -> dict:
    params = [("0.1.scale", 0.5)] if params is None else params
    state = [
        {"id": "simlab-scenario", "property": "value", "value": scenario},
        {"id": "simlab-replications", "property": "value", "value": reps},
        {"id": "simlab-days", "property": "value", "value": days},
        {"id": "simlab-warmup", "property": "value", "value": warmup},
        {"id": "simlab-seed", "property": "value", "value": seed},
    ]
    if isinstance(params, list) and all(isinstance(p, tuple) for p in params):
        ids = [{"id": {"type": "simlab-param", "key": k}, "property": "id", "value": {"type": "simlab-param", "key": k}}
               for k, _ in params]
        values = [{"id": {"type": "simlab-param", "key": k}, "property": "value", "value": v} for k, v in params]
        state += [ids, values]
    else:
        state += [params, params]  # forged shapes
    state.append({"id": "simlab-job", "property": "data", "value": job})
    return {
        "output": RUN_OUTPUT,
        "outputs": _outputs(RUN_OUTPUT),
        "inputs": [{"id": "simlab-run", "property": "n_clicks", "value": 1},
                   {"id": "simlab-cancel", "property": "n_clicks", "value": 1}],
        "state": state,
        "changedPropIds": [f"{trigger}.n_clicks"],
    }


def _poll_body(job: object) -> dict:
    return {
        "output": POLL_OUTPUT,
        "outputs": _outputs(POLL_OUTPUT),
        "inputs": [{"id": "simlab-tick", "property": "n_intervals", "value": 3},
                   {"id": "simlab-job", "property": "data", "value": job}],
        "state": [{"id": "simlab-shown", "property": "data", "value": None}],
        "changedPropIds": ["simlab-tick.n_intervals"],
    }


def _post(opener, base: str, body: dict) -> tuple[int, dict | bytes]:  # type: ignore[no-untyped-def]
    status, raw = _call(opener, base + "/_dash-update-component", body)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def _job_dirs(jobs: Path) -> list[Path]:
    return [d for d in jobs.iterdir() if d.is_dir()] if jobs.is_dir() else []


def test_anonymous_tenant_and_operator_get_nothing(server):
    base, jobs = server
    status, body = _post(_opener(), base, _run_body())
    assert status == 401
    assert _call(_opener(), base + "/simulation")[0] == 302  # to the login page
    for user in ("alpha", "ops"):
        opener = _login(base, user)
        for b in (_run_body(), _poll_body({"id": "0" * 32})):
            status, body = _post(opener, base, b)
            assert status == 403, (user, body)
        _, layout = _call(opener, base + "/_dash-layout")
        assert b"Simulation lab" not in layout  # not in the navigation either
    assert _job_dirs(jobs) == []
    _, layout = _call(_login(base, "eng"), base + "/_dash-layout")
    assert b"Simulation lab" in layout


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"scenario": "../../etc/passwd"}, "unknown scenario"),
        ({"scenario": {"$ne": 1}}, "unknown scenario"),
        ({"reps": "3; rm -rf /"}, "replications"),
        ({"reps": 10**9}, "replications"),
        ({"days": -1}, "horizon"),
        ({"days": None}, "horizon"),
        ({"warmup": 99}, "warm-up"),
        ({"seed": [1, 2]}, "seed"),
        ({"params": [("0.0.target", 1)]}, "unknown parameter"),
        ({"params": [("0.1.scale", "DROP TABLE")]}, "must be a number"),
        ({"params": [("0.1.scale", -3)]}, "not valid"),
        ({"params": {"not": "a list"}}, "malformed parameters"),
        ({"params": [1, 2, 3]}, "malformed parameters"),
        ({"reps": 50, "days": 365}, "too large"),
    ],
)
def test_hostile_form_values_start_nothing(server, overrides, expected):
    base, jobs = server
    before = _job_dirs(jobs)
    status, body = _post(_login(base, "eng"), base, _run_body(**overrides))
    assert status in (200, 400), body  # 400: the request guard refused a malformed body; never a 500
    if status == 200:
        assert expected in json.dumps(body["response"]["simlab-message"]), body
        assert "simlab-job" not in body["response"]  # no job id handed out
    assert _job_dirs(jobs) == before


def test_engineer_runs_a_job_to_the_end_and_only_they_can_read_or_cancel_it(server):
    base, jobs = server
    eng = _login(base, "eng")
    status, body = _post(eng, base, _run_body(params=[("0.1.scale", 0.4)]))
    assert status == 200, body
    job = body["response"]["simlab-job"]["data"]
    assert "started: 2 replications x 2 scenarios" in json.dumps(body)
    # one job per user: a second run is refused while the first runs (or starts again once it is over)
    status, second = _post(eng, base, _run_body())
    text = json.dumps(second)
    assert "already have 1 job" in text or "simlab-job" in second["response"]
    if "simlab-job" in second["response"]:
        job = second["response"]["simlab-job"]["data"]
    # another user polling or cancelling this job id gets nothing
    adm = _login(base, "adm")
    _, other = _post(adm, base, _poll_body(job))
    assert "no such job of yours" in json.dumps(other) and "error_y" not in json.dumps(other)
    _, other = _post(adm, base, _run_body(trigger="simlab-cancel", job=job))
    assert "no running job to cancel" in json.dumps(other)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        _, polled = _post(eng, base, _poll_body(job))
        resp = polled["response"]
        if "done" in json.dumps(resp["simlab-progress-text"]):
            break
        assert "failed" not in json.dumps(resp["simlab-progress-text"]), resp
        time.sleep(0.3)
    else:
        raise AssertionError(f"the job did not finish: {polled}")
    assert resp["simlab-progress"]["value"] == resp["simlab-progress"]["max"] == 4  # 100%
    figure = resp["simlab-chart"]["figure"]
    names = {t["name"] for t in figure["data"]}
    assert names == {"baseline", "shared"} and all("error_y" in t for t in figure["data"])
    assert "complex.oee" in json.dumps(resp["simlab-table"])
    assert len(_job_dirs(jobs)) in (1, 2)


FC_OUTPUT = "..simlab-fc-job.data...simlab-fc-message.children.."


def _forecast_body(reps: object = 4, horizon: object = None, seed: object = 0, what_if: object = None) -> dict:
    return {
        "output": FC_OUTPUT,
        "outputs": _outputs(FC_OUTPUT),
        "inputs": [{"id": "simlab-fc-run", "property": "n_clicks", "value": 1},
                   {"id": "simlab-fc-cancel", "property": "n_clicks", "value": 0}],
        "state": [
            {"id": "simlab-fc-replications", "property": "value", "value": reps},
            {"id": "simlab-fc-horizon", "property": "value", "value": horizon},
            {"id": "simlab-fc-seed", "property": "value", "value": seed},
            {"id": "simlab-fc-what-if", "property": "value", "value": what_if},
            {"id": "simlab-fc-job", "property": "data", "value": None},
        ],
        "changedPropIds": ["simlab-fc-run.n_clicks"],
    }


@pytest.mark.parametrize(
    "overrides",
    [{}, {"reps": -1}, {"horizon": "8h"}, {"what_if": "down:ghost:2h"}, {"what_if": {"$where": 1}}],
)
def test_forecast_without_a_live_twin_starts_nothing(server, overrides):
    """This server has no --broker: the button says so whatever the form holds; never a 500."""
    base, jobs = server
    before = _job_dirs(jobs)
    status, body = _post(_login(base, "eng"), base, _forecast_body(**overrides))
    assert status == 200, body
    assert "No live twin" in json.dumps(body["response"]["simlab-fc-message"])
    assert "simlab-fc-job" not in body["response"]
    assert _job_dirs(jobs) == before
    assert _post(_opener(), base, _forecast_body())[0] == 401
    assert _post(_login(base, "alpha"), base, _forecast_body())[0] == 403
