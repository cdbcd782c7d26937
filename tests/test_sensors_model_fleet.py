"""``twin sensors --source model``: its options, scenario settings and the KPI file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sensors.cli import sensors
from sensors.model_fleet import build_model_source, write_kpis
from twin.config import load_complex

START = 1_795_654_800_000  # 10:00 site time


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sensors, list(args), env={"TWIN_BROKER": None, "TWIN_CONFIG": None})
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(
        result.exception
    )
    assert "Traceback" not in text
    return result.exit_code, text


@pytest.mark.parametrize(
    ("args", "flag", "why"),
    [
        (["--source", "simpy"], "--source", "simpy"),
        (["--scenario", "demo-baseline"], "--scenario", "needs --source model"),
        (["--kpis", "k.json"], "--kpis", "needs --source model"),
        (["--source", "model", "--scenario", "/no/such.yaml"], "--scenario", "such.yaml"),
        (["--source", "model", "--variant", "x"], "--scenario", "--variant needs --scenario"),
        (
            ["--source", "model", "--scenario", "flood-zone-b", "--variant", "nope"],
            "--variant",
            "flood-b-day3",
        ),
    ],
)
def test_bad_model_options_are_refused_before_connecting(args, flag, why):
    code, text = _invoke("--broker", "mqtt://127.0.0.1:1", "--config", "demo", *args)
    assert code == 2, text
    assert flag in text and why in text


def test_a_scenario_variant_brings_its_settings_and_disaster_schedule():
    demo = load_complex("demo")
    src = build_model_source(demo, "demo", START, 1, "flood-zone-b", "flood-b-day3")
    specs = src.model.settings.disasters
    assert any(d.kind == "flood" and d.zones == ("B",) and d.day == 3 for d in specs)
    assert src.model.settings.emergency.teams == 2
    base = build_model_source(demo, "demo", START, 1, "flood-zone-b")
    assert not any(d.kind == "flood" for d in base.model.settings.disasters)


def test_kpi_file_has_the_models_kpis_for_the_published_run(tmp_path):
    tiny = load_complex("tiny")
    src = build_model_source(tiny, "tiny", START, 2)
    src.sample(["alpha-smt-good"], START + 2 * 3600 * 1000)
    out = tmp_path / "k.json"
    write_kpis(src, out)
    doc = json.loads(out.read_text())
    assert doc["start_ms"] == START and doc["end_ms"] == START + 2 * 3600 * 1000
    assert doc["kpis"]["machine.alpha-smt.good"] == src.counters("alpha-smt")[0] > 0
    assert 0 < doc["kpis"]["complex.oee"] <= 1
