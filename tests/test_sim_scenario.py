"""Scenario files: changes, pinned demand, shipped examples, errors with file, key path, line."""

from __future__ import annotations

import textwrap

import pytest

from simulations.scenario import (
    BASELINE,
    load_scenario_file,
    resolve_scenario_path,
    shipped_scenarios,
)
from twin.errors import ConfigError


def _write(tmp_path, text: str, name: str = "s.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


GOOD = """
    name: changes
    config: tiny
    run: {days: 2, warmup_h: 6, replications: 2, seed: 3}
    settings:
      factories:
        alpha-f1: {products: [{id: a}, {id: b, weight: 2}]}
    scenarios:
      - name: all-kinds
        description: one of each change
        changes:
          - {target: line.alpha-l1.machines.mttr_h, scale: 0.5}
          - {target: machine.beta-reactor.power_kw.busy, add: 5}
          - {target: machine.alpha-aoi.processing, set: {dist: constant, value: 1, unit: relative}}
          - {target: line.alpha-l1.buffer_capacity, set: 2}
          - {target: logistics.dispatch, set: shared}
          - {target: emergency.teams, set: 3}
          - {target: factory.alpha-f1.utilisation, scale: 1.1}
          - {target: truck.truck-1.speed_kmh, scale: 2}
          - {target: dock.hub-dock-1.capacity, set: 3}
          - add_machine: {line: alpha-l1, parallel_to: alpha-smt, id: alpha-smt-2}
          - add_truck: {id: truck-9, copy: truck-1}
          - remove_truck: truck-2
          - disaster: {kind: flood, zone: B, day: 2, duration_h: 6}
"""


def test_changes_apply_to_the_scenario_only(tmp_path):
    f = load_scenario_file(_write(tmp_path, GOOD))
    assert [s.name for s in f.scenarios] == [BASELINE, "all-kinds"]
    base, scen = f.scenarios
    assert base.complex.machines["alpha-smt"].mttr_h == 1.0
    assert scen.complex.machines["alpha-smt"].mttr_h == 0.5
    assert scen.complex.machines["alpha-aoi"].mttr_h == 0.25
    assert scen.complex.machines["beta-reactor"].power_kw.busy == 50
    assert scen.settings.machine("alpha-aoi").processing.describe() == "constant(value=1, relative)"
    line = next(ln for t in scen.complex.tenants for fa in t.factories for ln in fa.lines if ln.id == "alpha-l1")
    assert [m.id for m in line.machines] == [
        "alpha-smt",
        "alpha-smt-2",
        "alpha-aoi",
    ] and line.buffer_capacity == 2
    assert scen.settings.machine("alpha-smt-2").parallel_to == "alpha-smt"
    assert scen.complex.machines["alpha-smt-2"].sensors == ()  # sensor ids are not copied
    assert scen.settings.logistics.dispatch == "shared" and base.settings.logistics.dispatch == "dedicated"
    assert scen.settings.emergency.teams == 3
    assert scen.settings.factories["alpha-f1"].utilisation == pytest.approx(0.88)
    trucks = {t.id: t for t in scen.complex.logistics.trucks}
    assert set(trucks) == {"truck-1", "truck-9"} and trucks["truck-1"].speed_kmh == 40
    assert scen.complex.logistics.centre.docks[0].capacity == 3
    assert [d.kind for d in scen.settings.disasters] == ["flood"] and base.settings.disasters == ()
    assert f.run.days == 2 and f.run.seed == 3


def test_scenarios_keep_the_baseline_demand(tmp_path):
    # A parallel machine doubles capacity; the order rate must not double with it.
    from simulations.model import derived_arrival_means

    f = load_scenario_file(
        _write(
            tmp_path,
            """
        config: tiny
        scenarios:
          - name: more-capacity
            changes:
              - add_machine: {line: alpha-l1, parallel_to: alpha-smt, id: alpha-smt-2}
              - add_machine: {line: alpha-l1, parallel_to: alpha-aoi, id: alpha-aoi-2}
          - name: more-demand
            changes:
              - {target: factory.alpha-f1.utilisation, scale: 1.5}
    """,
        )
    )
    base, more, demand = f.scenarios
    b = derived_arrival_means(base.complex, base.settings)["alpha-f1"]
    assert more.settings.factories["alpha-f1"].arrivals.mean == pytest.approx(b)
    assert demand.settings.factories["alpha-f1"].arrivals.mean == pytest.approx(b / 1.5)
    # Without pinning, the doubled line would derive twice the order rate.
    unpinned = base.settings.model_copy(update={"machines": more.settings.machines})
    assert derived_arrival_means(more.complex, unpinned)["alpha-f1"] == pytest.approx(b / 2)


@pytest.mark.parametrize(
    "text, where, reason",
    [
        ("config: tiny\nbogus: 1\n", "bogus", "unknown key 'bogus'"),
        (
            "config: tiny\nrun: {replications: -2}\n",
            "run.replications",
            "greater than or equal to 1",
        ),
        (
            "config: tiny\nsettings: {defaults: {processing: {dist: normal, mean: -1, sd: 1}}}\n",
            "settings.defaults.processing",
            "must be >= 0",
        ),
        (
            "config: tiny\nsettings: {defaults: {processing: {dist: weird}}}\n",
            "settings.defaults.processing",
            "unknown dist 'weird'",
        ),
        (
            "config: tiny\nsettings: {factories: {nope: {utilisation: 0.5}}}\n",
            "settings.factories.nope",
            "unknown factory 'nope'",
        ),
        (
            "config: tiny\nsettings: {factories: {alpha-f1: {shifts: [brunch]}}}\n",
            "settings.factories.alpha-f1.shifts[0]",
            "unknown shift 'brunch'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: machine.nope.mttr_h, scale: 0.5}]}]\n",
            "scenarios[0].changes[0].target",
            "unknown machine 'nope'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: machine.alpha-smt.colour, set: red}]}]\n",
            "scenarios[0].changes[0].target",
            "unknown machine field 'colour'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: galaxy.far, set: 1}]}]\n",
            "scenarios[0].changes[0].target",
            "unknown target 'galaxy.far'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: machine.alpha-smt.mttr_h, scale: -1}]}]\n",
            "scenarios[0].changes",
            "invalid at tenants[0].factories[0].lines[0].machines[0].mttr_h",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: logistics.dispatch, scale: 2}]}]\n",
            "scenarios[0].changes[0].scale",
            "cannot scale a non-numeric value",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{target: machine.alpha-smt.mttr_h, set: 1, scale: 2}]}]\n",
            "scenarios[0].changes[0]",
            "exactly one of set, scale or add",
        ),
        (
            "config: tiny\nscenarios: [{name: baseline}]\n",
            "scenarios[0].name",
            "duplicate scenario name 'baseline'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{add_machine: {line: nope, id: m2}}]}]\n",
            "scenarios[0].changes[0].add_machine.line",
            "unknown line 'nope'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{disaster: {kind: tsunami, day: 1}}]}]\n",
            "scenarios[0].changes[0].disaster.kind",
            "Input should be",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{disaster: {kind: fire, zone: Q, day: 1}}]}]\n",
            "scenarios[0].changes",
            "unknown zone 'Q'",
        ),
        (
            "config: tiny\nscenarios: [{name: x, changes: [{remove_truck: truck-77}]}]\n",
            "scenarios[0].changes[0].remove_truck",
            "unknown truck 'truck-77'",
        ),
        (
            "config: tiny\nscenarios:\n  - name: x\n    changes:\n      - "
            "{target: factory.alpha-f1.utilisation, set: 9}\n",
            "scenarios[0].changes",
            "less than or equal to 2",
        ),
        # Values that would let the model loop forever at one instant, or explode a lot.
        (
            "config: tiny\nsettings: {defaults: {arrivals: 0}}\n",
            "settings.defaults.arrivals",
            "mean > 0",
        ),
        (
            "config: tiny\nsettings:\n  machines:\n    alpha-smt: {processing: {dist: constant, value: 0}}\n",
            "settings.machines.alpha-smt.processing",
            "mean > 0",
        ),
        (
            "config: tiny\nsettings: {defaults: {lot_size: 1.0e+12}}\n",
            "settings.defaults.lot_size",
            "between 1",
        ),
        ("[1, 2]\n", "", "top level must be a mapping"),
    ],
)
def test_bad_scenario_files_name_file_key_path_and_line(tmp_path, text, where, reason):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_scenario_file(p)
    e = err.value
    assert e.source == str(p)
    assert e.path == where, str(e)
    assert reason in e.reason, str(e)
    if where:
        assert e.line is not None and e.line >= 1


def test_yaml_problems_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_scenario_file(_write(tmp_path, "config: tiny\nscenarios: [\n"))
    with pytest.raises(ConfigError, match="duplicate key"):
        load_scenario_file(_write(tmp_path, "config: tiny\nconfig: demo\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario_file(tmp_path / "missing.yaml")


def test_config_path_is_relative_to_the_scenario_file_and_overridable(tmp_path):
    from twin.config import tiny_config_path

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mine.yaml").write_text(tiny_config_path().read_text())
    p = _write(tmp_path, "config: cfg/mine.yaml\n")
    assert load_scenario_file(p).config == str(tmp_path / "cfg" / "mine.yaml")
    assert load_scenario_file(p, config="tiny").config == "tiny"
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario_file(_write(tmp_path, "config: cfg/none.yaml\n", "t.yaml"))


def test_shipped_examples_load_against_the_demo_complex():
    shipped = shipped_scenarios()
    assert {
        "demo-baseline",
        "predictive-maintenance",
        "add-machine",
        "shared-truck-pool",
        "flood-zone-b",
    } <= set(shipped)
    for name, path in shipped.items():
        f = load_scenario_file(path)
        assert f.scenarios[0].name == BASELINE
        assert f.config == "demo"
        assert resolve_scenario_path(name) == path
    flood = load_scenario_file(shipped["flood-zone-b"]).scenarios[1]
    assert (
        flood.settings.disasters[-1].zones == ("B",)
        and flood.settings.disasters[-1].scheduled_at_s == 2 * 86400 + 9 * 3600
    )
