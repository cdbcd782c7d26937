"""``twin simulate``: JSON and HTML outputs, progress bar, and clean errors on hostile input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from simulations.cli import simulate

SCENARIO = """
    name: cli check
    config: tiny
    run: {days: 1, warmup_h: 2, replications: 2, seed: 4}
    scenarios:
      - name: shared
        description: one truck pool for everyone
        changes:
          - {target: logistics.dispatch, set: shared}
          - {target: line.alpha-l1.machines.mttr_h, scale: 0.5}
"""


@pytest.fixture()
def scenario(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(SCENARIO))
    return p


def _run(*args):
    return CliRunner().invoke(simulate, [str(a) for a in args])


def test_json_has_every_kpi_with_mean_ci_and_unit_and_the_comparison(scenario, tmp_path):
    out = tmp_path / "r.json"
    res = _run(scenario, "--json", out, "--no-progress", "--replications", 3)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["run"] == {
        "days": 1.0,
        "warmup_h": 2.0,
        "replications": 3,
        "seed": 4,
        "crn": True,
        "confidence": 0.95,
    }
    assert set(data["scenarios"]) == {"baseline", "shared"}
    for scen in data["scenarios"].values():
        for name, k in scen["kpis"].items():
            assert set(k) == {"mean", "ci_low", "ci_high", "half_width", "n", "unit"}, name
            assert k["n"] <= 3
    assert data["scenarios"]["baseline"]["kpis"]["complex.throughput_uph"]["unit"] == "units/h"
    cmp = data["comparisons"]["shared"]["complex.oee"]
    assert set(cmp) == {"diff", "ci_low", "ci_high", "relative", "significant", "n", "unit"}
    assert "complex.oee" in res.output and "shared vs baseline" in res.output


def test_flags_override_the_file_and_the_same_seed_reproduces(scenario, tmp_path):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for out, seed in ((a, 8), (b, 8), (c, 9)):
        res = _run(scenario, "--seed", seed, "--days", 0.5, "--warmup", 1, "--json", out, "--no-progress")
        assert res.exit_code == 0, res.output
    assert a.read_text() == b.read_text()
    assert a.read_text() != c.read_text()
    assert json.loads(a.read_text())["run"]["days"] == 0.5


def test_html_report_has_plotly_charts(scenario, tmp_path):
    out = tmp_path / "r.html"
    res = _run(scenario, "--report", out, "--no-progress")
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("Plotly.newPlot") == 4  # KPI bars, comparison, utilisation, WIP over time
    for title in (
        "Headline KPIs",
        "Difference from the baseline",
        "Utilisation per machine",
        "Work in progress over time",
    ):
        assert title in html
    assert "alpha-smt" in html and "one truck pool for everyone" in html


def test_progress_bar_on_stderr(scenario):
    res = CliRunner().invoke(simulate, [str(scenario)])
    assert res.exit_code == 0, res.output
    assert "replications" in res.stderr and "4/4" in res.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--replications", "-3"], 2, "--replications"),
        (["--replications", "0"], 2, "--replications"),
        (["--days", "0"], 2, "--days"),
        (["--warmup", "-1"], 2, "--warmup"),
        (["--jobs", "0"], 2, "--jobs"),
        (["--seed", "-1"], 2, "--seed"),
        (["--days", "0.5", "--warmup", "24"], 2, "warm-up (24.0 h) must be shorter"),
        (
            ["--json", "/nonexistent-dir/r.json"],
            2,
            "--json /nonexistent-dir/r.json: directory /nonexistent-dir does not exist",
        ),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], 2, "exclude each other"),
        (["--config", "/nope.yaml"], 2, "/nope.yaml: file not found"),
    ],
)
def test_bad_flags_give_a_clear_error_and_no_traceback(scenario, args, code, message):
    res = _run(scenario, *args)
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: machine.ghost.mttr_h, scale: 0.7}]}]\n",
            "s.yaml:2 at scenarios[0].changes[0].target: unknown machine 'ghost'",
        ),
        ("config: tiny\nrun: {replications: -1}\n", "s.yaml:2 at run.replications"),
        (
            "config: tiny\nsettings: {defaults: {processing: {dist: lognormal}}}\n",
            "at settings.defaults.processing: dist 'lognormal' needs key 'mean'",
        ),
        ("config: tiny\nscenarios: [oops\n", "invalid YAML"),
    ],
)
def test_bad_scenario_files_give_file_and_key_path(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    res = _run(p, "--no-progress")
    assert res.exit_code == 2
    assert message in res.output, res.output
    assert "Traceback" not in res.output


def test_missing_file_and_shipped_names(tmp_path):
    res = _run(tmp_path / "none.yaml")
    assert res.exit_code == 2 and "none.yaml: file not found" in res.output
    help_text = _run("--help").output
    assert "predictive-maintenance" in help_text and "flood-zone-b" in help_text


def test_twin_simulate_entry_point(scenario, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin",
            "simulate",
            str(scenario),
            "--replications",
            "1",
            "--json",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["run"]["replications"] == 1
    bad = subprocess.run(
        [sys.executable, "-m", "twin", "simulate", str(scenario), "--config", str(scenario)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "missing required key 'site'" in bad.stderr  # the scenario is not a complex config
