"""twin.config: the shipped configs load; every broken config fails with file, path and reason."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import twin.config
from twin.cli import cli
from twin.config import (
    MAX_CONFIG_BYTES,
    demo_config_path,
    load_complex,
    load_yaml,
    parse_complex,
    resolve_config_path,
    tiny_config_path,
)
from twin.errors import ConfigError
from twin.model import PARK_OWNER, Complex

TINY_TEXT = tiny_config_path().read_text(encoding="utf-8")
MACHINE0 = "tenants[0].factories[0].lines[0].machines[0]"


def tiny_data() -> dict[str, Any]:
    """A fresh, mutable copy of the tiny config."""
    return copy.deepcopy(yaml.safe_load(TINY_TEXT))


def write(tmp_path: Path, content: str | bytes, name: str = "complex.yaml") -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def fails(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_complex(path)
    err = info.value
    assert err.source == str(path), "the error must name the file"
    assert str(path) in str(err)
    return err


# ---- the shipped configs --------------------------------------------------------------


def test_tiny_config_loads_with_expected_counts() -> None:
    c = load_complex("tiny")
    assert isinstance(c, Complex)
    assert [z.id for z in c.zones] == ["A", "B"]
    assert [t.id for t in c.tenants] == ["alpha-elec", "beta-chem"]
    assert sorted(c.factories) == ["alpha-f1", "beta-f1"]
    assert sorted(c.machines) == ["alpha-aoi", "alpha-smt", "beta-reactor"]
    assert len(c.sensors) == 17
    assert sum(1 for i in c.sensors.values() if i.hazard) == 6
    assert c.logistics is not None
    assert [d.id for d in c.logistics.centre.docks] == ["hub-dock-1", "hub-dock-2"]
    assert [t.id for t in c.logistics.trucks] == ["truck-1", "truck-2"]
    assert c.summary() == (
        "Tiny Park: 2 zones, 2 tenants, 2 factories, 2 lines, 3 machines, 17 sensors (6 hazard)"
    )


def test_demo_config_loads_with_expected_counts() -> None:
    c = load_complex(None)  # None means the shipped demo
    assert len(c.zones) == 4
    assert [z.id for z in c.zones] == ["A", "B", "C", "D"]
    assert all(z.name for z in c.zones)
    assert len(c.tenants) == 12
    assert len(c.factories) == 16
    assert 38 <= len(c.machines) <= 42
    assert 280 <= len(c.sensors) <= 320
    assert {t.industry for t in c.tenants} == {
        "electronics", "machinery", "automotive_parts", "chemicals", "textiles",
    }
    assert c.site.width_m == 3000 and c.site.height_m == 2000
    assert c.logistics is not None
    assert len(c.logistics.centre.docks) == 6
    assert len(c.logistics.trucks) == 10
    assert c.logistics.roads, "the demo has a road network"
    assert c.summary().startswith(
        "Gaon Valley Industrial Complex: 4 zones, 12 tenants, 16 factories"
    )


def test_demo_config_shape_matches_the_product_brief() -> None:
    c = load_complex("demo")
    # every line has 2-4 machines; the last machine of a line counts good and scrap parts
    for f in c.factories.values():
        for ln in f.lines:
            assert 2 <= len(ln.machines) <= 4, ln.id
            kinds = {s.kind for s in ln.machines[-1].sensors}
            assert {"good_count", "scrap_count"} <= kinds, ln.id
        for m in (m for ln in f.lines for m in ln.machines):
            assert {"power", "state"} <= {s.kind for s in m.sensors}, m.id
        hazard_kinds = {s.kind for s in f.hazard_sensors}
        assert {"smoke", "temperature"} <= hazard_kinds, f.id
        if c.factory_tenant[f.id] in {t.id for t in c.tenants if t.industry == "chemicals"}:
            assert "gas" in hazard_kinds, f.id
    for z in c.zones:
        assert "seismic" in {s.kind for s in z.hazard_sensors}, z.id
    assert any(s.kind == "water_level" for z in c.zones for s in z.hazard_sensors)
    # sample periods 1-60 s; hazard sensors 1-5 s
    for sid, info in c.sensors.items():
        assert 1 <= info.sensor.period_s <= 60, sid
        if info.hazard:
            assert info.sensor.period_s <= 5, sid
    # trucks: some dedicated to a tenant, most shared, all with a position
    trucks = c.logistics.trucks if c.logistics else ()
    dedicated = [t for t in trucks if t.tenant is not None]
    assert 1 <= len(dedicated) < len(trucks) / 2
    for t in trucks:
        assert {"position_x", "position_y"} <= {s.kind for s in t.sensors}, t.id
    assert any(s.kind == "occupancy" for s in c.logistics.centre.sensors)  # type: ignore[union-attr]
    # park-owned devices: zones, the centre and trucks
    park_devices = {d for (o, d) in c.devices if o == PARK_OWNER}
    assert park_devices == {z.id for z in c.zones} | {"hub"} | {t.id for t in trucks}


def test_config_paths_resolve() -> None:
    assert resolve_config_path(None) == demo_config_path()
    assert resolve_config_path("demo") == demo_config_path()
    assert resolve_config_path("tiny") == tiny_config_path()
    assert resolve_config_path("x/y.yaml") == Path("x/y.yaml")
    assert demo_config_path().is_file() and tiny_config_path().is_file()


def test_a_copy_of_the_tiny_config_loads_from_any_path(tmp_path: Path) -> None:
    c = load_complex(write(tmp_path, TINY_TEXT))
    assert c == load_complex("tiny")


# ---- broken configs: model and cross-reference errors ------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]

    return mutate


M0 = ("tenants", 0, "factories", 0, "lines", 0, "machines", 0)
S0 = (*M0, "sensors", 0)

BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, mutation of the tiny config, expected path, reason substring)
    ("unknown key", _set(("tenants", 0, "factories", 0, "colour"), "red"),
     "tenants[0].factories[0].colour", "unknown key 'colour'"),
    ("unknown top-level key", _set(("zonez",), []), "zonez", "unknown key 'zonez'"),
    ("missing key", _delete((*M0, "mtbf_h")),
     f"{MACHINE0}.mtbf_h", "missing required key 'mtbf_h'"),
    ("missing site", _delete(("site",)), "site", "missing required key 'site'"),
    ("duplicate id",
     _set(("tenants", 1, "factories", 0, "lines", 0, "machines", 0, "id"), "alpha-smt"),
     "tenants[1].factories[0].lines[0].machines[0].id",
     f"duplicate id 'alpha-smt' (first used at {MACHINE0}.id)"),
    ("sensor id equal to a zone id", _set((*S0, "id"), "B"),
     f"{MACHINE0}.sensors[0].id", "duplicate id 'B' (first used at zones[1].id)"),
    ("dangling zone reference", _set(("tenants", 0, "factories", 0, "zone"), "Z"),
     "tenants[0].factories[0].zone", "unknown zone 'Z'; zones are ['A', 'B']"),
    ("dangling centre zone", _set(("logistics", "centre", "zone"), "C"),
     "logistics.centre.zone", "unknown zone 'C'"),
    ("bad unit for kind", _set((*S0, "unit"), "MW"),
     f"{MACHINE0}.sensors[0]", "unit 'MW' is not valid for kind 'power'; use one of ['W', 'kW']"),
    ("unknown kind", _set((*S0, "kind"), "radiation"),
     f"{MACHINE0}.sensors[0]", "unknown sensor kind 'radiation'"),
    ("non-hazard kind on a hazard sensor",
     _set(("zones", 0, "hazard_sensors", 0), {
         "id": "A-power", "kind": "power", "unit": "kW", "period_s": 1, "range": [0, 5],
         "position": {"x": 10, "y": 10}}),
     "zones[0].hazard_sensors[0]", "hazard sensor kind must be one of"),
    ("range low == high", _set((*S0, "range"), [5, 5]),
     f"{MACHINE0}.sensors[0]", "range must be [low, high] with low < high, got [5.0, 5.0]"),
    ("range low > high", _set((*S0, "range"), [20, 0]),
     f"{MACHINE0}.sensors[0]", "low < high, got [20.0, 0.0]"),
    ("range with three numbers", _set((*S0, "range"), [0, 1, 2]),
     f"{MACHINE0}.sensors[0].range", "at most 2 items"),
    ("zero sample period", _set((*S0, "period_s"), 0),
     f"{MACHINE0}.sensors[0].period_s", "greater than 0"),
    ("negative MTBF", _set((*M0, "mtbf_h"), -40),
     f"{MACHINE0}.mtbf_h", "Input should be greater than 0 (got -40)"),
    ("MTBF as text", _set((*M0, "mtbf_h"), "forty"),
     f"{MACHINE0}.mtbf_h", "valid number"),
    ("scrap_rate == 1", _set((*M0, "scrap_rate"), 1.0),
     f"{MACHINE0}.scrap_rate", "Input should be less than 1"),
    ("scrap_rate > 1", _set((*M0, "scrap_rate"), 1.5),
     f"{MACHINE0}.scrap_rate", "less than 1 (got 1.5)"),
    ("negative power", _set((*M0, "power_kw", "busy"), -8),
     f"{MACHINE0}.power_kw.busy", "greater than or equal to 0"),
    ("line without machines", _set(("tenants", 0, "factories", 0, "lines", 0, "machines"), []),
     "tenants[0].factories[0].lines[0].machines", "at least 1 item"),
    ("unknown industry", _set(("tenants", 0, "industry"), "banking"),
     "tenants[0].industry", "Input should be"),
    ("bad shift start", _set(("site", "shifts", 0, "start"), "6am"),
     "site.shifts[0].start", "String should match pattern"),
    ("unsupported version", _set(("version",), 2), "version", "Input should be 1"),
    ("factory outside its zone",
     _set(("tenants", 0, "factories", 0, "position"), {"x": 900, "y": 200}),
     "tenants[0].factories[0].position", "factory 'alpha-f1' lies outside its zone 'A'"),
    ("zone hazard sensor outside its zone",
     _set(("zones", 1, "hazard_sensors", 0, "position"), {"x": 100, "y": 300}),
     "zones[1].hazard_sensors[0].position", "hazard sensor 'B-seis-1' lies outside zone 'B'"),
    ("zone larger than the site", _set(("zones", 1, "area", "w"), 600),
     "zones[1].area", "zone area exceeds the site (1000.0 x 600.0 m)"),
    ("negative coordinate", _set(("tenants", 0, "factories", 0, "position", "x"), -1),
     "tenants[0].factories[0].position.x", "greater than or equal to 0"),
    ("road point outside the site", _set(("logistics", "roads", 0, 1), {"x": 1200, "y": 100}),
     "logistics.roads[0][1]", "position (1200.0, 100.0) is outside the site (1000.0 x 600.0 m)"),
    ("factory hazard sensor outside the site",
     _set(("tenants", 0, "factories", 0, "hazard_sensors", 0, "position"), {"x": 10, "y": 700}),
     "tenants[0].factories[0].hazard_sensors[0].position", "is outside the site"),
    ("truck home unknown", _set(("logistics", "trucks", 1, "home"), "garage"),
     "logistics.trucks[1].home",
     "unknown home 'garage': must be the logistics centre or a factory"),
    ("truck tenant unknown", _set(("logistics", "trucks", 0, "tenant"), "gamma"),
     "logistics.trucks[0].tenant", "unknown tenant 'gamma'"),
    ("tenant id 'park'", _set(("tenants", 0, "id"), "park"),
     "tenants[0].id", "'park' is reserved for assets of the park itself"),
    ("id with a slash", _set(("tenants", 0, "id"), "a/b"),
     "tenants[0].id", "String should match pattern"),
    ("id with a space", _set(("tenants", 0, "factories", 0, "id"), "a b"),
     "tenants[0].factories[0].id", "(got 'a b')"),
    ("id in Hangul", _set((*S0, "id"), "센서-1"),
     f"{MACHINE0}.sensors[0].id", "String should match pattern"),
    ("id with an emoji", _set(("zones", 0, "id"), "A🔥"),
     "zones[0].id", "String should match pattern"),
    ("id with an MQTT wildcard", _set(("logistics", "trucks", 0, "id"), "truck-#"),
     "logistics.trucks[0].id", "String should match pattern"),
    ("id starting with a dash", _set(("logistics", "centre", "id"), "-hub"),
     "logistics.centre.id", "String should match pattern"),
    ("id longer than 64 characters", _set(("tenants", 1, "id"), "b" * 65),
     "tenants[1].id", "String should match pattern"),
    ("empty id", _set(("zones", 1, "id"), ""), "zones[1].id", "String should match pattern"),
    ("numeric id", _set(("tenants", 0, "id"), 7), "tenants[0].id", "valid string"),
    ("no zones", _set(("zones",), []), "zones", "at least 1 item"),
    ("tenants is a mapping", _set(("tenants",), {"alpha": 1}), "tenants", "valid tuple"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_config_names_path_and_reason(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], path: str, reason: str
) -> None:
    data = tiny_data()
    mutate(data)
    p = write(tmp_path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    err = fails(p)
    assert err.path == path
    assert reason in err.reason
    assert f" at {path}: " in str(err)
    assert err.line is not None, "a key that exists in the file is located by line"


def test_error_line_points_at_the_bad_key(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("mtbf_h: 40", "mtbf_h: -40")
    err = fails(write(tmp_path, text))
    assert err.path == f"{MACHINE0}.mtbf_h"
    assert err.line == line_of(text, "mtbf_h: -40")
    assert str(err).startswith(f"{tmp_path / 'complex.yaml'}:{err.line} at {MACHINE0}.mtbf_h: ")


def test_error_line_of_a_cross_reference(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("home: hub\n      sensors", "home: garage\n      sensors")
    err = fails(write(tmp_path, text))
    assert err.path == "logistics.trucks[0].home"
    assert err.line == line_of(text, "home: garage")


def test_error_line_of_an_unknown_key(tmp_path: Path) -> None:
    text = TINY_TEXT.replace(
        "    buffer_capacity: 5\n", "    buffer_capacity: 5\n            bufer: 3\n"
    )
    err = fails(write(tmp_path, text))
    assert err.path == "tenants[0].factories[0].lines[0].bufer"
    assert err.reason.startswith("unknown key 'bufer'")
    assert err.line == line_of(text, "bufer: 3")


def test_several_problems_are_counted(tmp_path: Path) -> None:
    data = tiny_data()
    data["zones"][0]["colour"] = "red"
    data["zones"][1]["colour"] = "blue"
    err = fails(write(tmp_path, yaml.safe_dump(data, sort_keys=False)))
    assert err.path == "zones[0].colour"
    # pydantic also reports derived errors, so only the presence of the count is asserted
    assert err.reason.startswith("unknown key 'colour' (and ")
    assert err.reason.endswith(" more problem(s))")


# ---- broken files: YAML and I/O level -------------------------------------------------------


def test_duplicate_yaml_key_is_refused_with_line(tmp_path: Path) -> None:
    # the second 'mtbf_h' would silently win with a plain SafeLoader
    text = TINY_TEXT.replace("mtbf_h: 40\n", "mtbf_h: 40\n                mtbf_h: 4000\n")
    err = fails(write(tmp_path, text))
    assert err.path == ""
    assert "duplicate key 'mtbf_h'" in err.reason
    assert err.line == line_of(text, "mtbf_h: 4000")


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    err = fails(write(tmp_path, TINY_TEXT + "version: 1\n"))
    assert "duplicate key 'version'" in err.reason
    assert err.line == len(TINY_TEXT.splitlines()) + 1


def test_invalid_yaml_syntax_reports_the_line(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("  width_m: 1000\n", "  width_m: 1000: 3\n")
    err = fails(write(tmp_path, text))
    assert err.path == ""
    assert err.reason == "invalid YAML: mapping values are not allowed here"
    assert err.line == line_of(text, "width_m: 1000: 3")
    assert f"{tmp_path / 'complex.yaml'}:{err.line}: invalid YAML" in str(err)


def test_unclosed_bracket_reports_where_the_parser_noticed(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("  name: Tiny Park\n", "  name: [Tiny Park\n")
    err = fails(write(tmp_path, text))
    assert err.reason == "invalid YAML: expected ',' or ']', but got ':'"
    assert err.line == line_of(text, "timezone: Asia/Seoul")  # the line after the bad one


def test_tab_indentation_reports_the_line(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "version: 1\nsite:\n\tid: x\n"))
    assert err.line == 3
    assert "invalid YAML" in err.reason and "'\\t'" in err.reason


@pytest.mark.parametrize(
    "content", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank", "comment"]
)
def test_empty_file(tmp_path: Path, content: str) -> None:
    err = fails(write(tmp_path, content))
    assert err.path == ""
    assert err.reason == "the file is empty"


@pytest.mark.parametrize(
    ("content", "type_name"),
    [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int"), ("null\n", "NoneType")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, content: str, type_name: str) -> None:
    err = fails(write(tmp_path, content))
    assert err.path == ""
    assert err.reason == f"the top level must be a mapping, got {type_name}"


def test_parse_complex_refuses_non_mapping_data() -> None:
    with pytest.raises(ConfigError) as info:
        parse_complex(["a"], "inline")
    assert info.value.source == "inline"
    assert "the top level must be a mapping, got list" in str(info.value)


def test_non_utf8_bytes(tmp_path: Path) -> None:
    raw = TINY_TEXT.encode("utf-8").replace(b"Tiny Park", b"Tiny \xff\xfe Park", 1)
    err = fails(write(tmp_path, raw))
    assert err.path == ""
    bad_byte = raw.index(bytes([0xFF]))
    assert err.reason == f"not UTF-8 text (byte {bad_byte})"


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "site: {name: Caf\xe9}\n".encode("latin-1")))
    assert err.reason.startswith("not UTF-8 text")


def test_file_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    with p.open("wb") as f:  # sparse: costs no disk, but stat() reports the size
        f.truncate(MAX_CONFIG_BYTES + 1)
    err = fails(p)
    assert err.path == ""
    assert err.reason == (
        f"file is {MAX_CONFIG_BYTES + 1} bytes, more than the limit of {MAX_CONFIG_BYTES}"
    )


def test_load_yaml_size_limit_is_a_parameter(tmp_path: Path) -> None:
    p = write(tmp_path, TINY_TEXT)
    size = p.stat().st_size
    with pytest.raises(ConfigError) as info:
        load_yaml(p, max_bytes=size - 1)
    assert info.value.reason == f"file is {size} bytes, more than the limit of {size - 1}"
    data, root = load_yaml(p, max_bytes=size)  # exactly at the limit is fine
    assert data["site"]["id"] == "tiny-park" and root is not None


def test_file_too_large_follows_the_module_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twin.config, "MAX_CONFIG_BYTES", 1024)
    err = fails(write(tmp_path, TINY_TEXT))
    assert "more than the limit of 1024" in err.reason


def _billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# A guard, not a measurement: if the alias check regressed, expansion would take hours.
@pytest.mark.timeout(60)
def test_billion_laughs_is_refused_before_expansion(tmp_path: Path) -> None:
    err = fails(write(tmp_path, _billion_laughs()))  # 9**9 = 387 million nodes
    assert err.path == ""
    assert err.reason == f"document expands to more than {twin.config.MAX_EXPANDED_NODES} nodes"


def test_alias_bomb_inside_a_valid_config(tmp_path: Path) -> None:
    text = TINY_TEXT + "\n" + _billion_laughs().replace("l0:", "x-l0:")
    err = fails(write(tmp_path, text))
    assert "document expands to more than" in err.reason


def test_modest_aliases_are_allowed_and_resolved(tmp_path: Path) -> None:
    # anchors are a legitimate way to share a power profile between machines
    text = TINY_TEXT.replace(
        "power_kw: {idle: 2, busy: 8, setup: 3, down: 0.3}",
        "power_kw: &smt_power {idle: 2, busy: 8, setup: 3, down: 0.3}",
    ).replace("power_kw: {idle: 1, busy: 3, setup: 1, down: 0.2}", "power_kw: *smt_power")
    c = load_complex(write(tmp_path, text))
    assert c.machines["alpha-aoi"].power_kw == c.machines["alpha-smt"].power_kw
    assert c.machines["alpha-aoi"].power_kw.busy == 8


def test_recursive_alias_fails_cleanly(tmp_path: Path) -> None:
    text = "version: 1\nsite: &s {id: x, name: y, width_m: 1, height_m: 1, shifts: [*s]}\n"
    err = fails(write(tmp_path, text))
    assert err.path.startswith("site.shifts[0]")


def test_deeply_nested_yaml_fails_cleanly(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "a: " + "[" * 20_000 + "]" * 20_000 + "\n"))
    assert err.reason == "document is nested too deeply"


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "version: !!python/object/apply:os.system [touch pwned]\n"))
    assert "could not determine a constructor" in err.reason
    assert err.line == 1
    assert not (tmp_path / "pwned").exists()


def test_multiple_documents_are_refused(tmp_path: Path) -> None:
    err = fails(write(tmp_path, TINY_TEXT + "---\nversion: 1\n"))
    assert "invalid YAML" in err.reason
    assert err.line == len(TINY_TEXT.splitlines()) + 1


def test_control_character_is_a_config_error(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "version: 1\x00\n"))
    assert err.path == ""
    assert "invalid YAML" in err.reason


def test_missing_file(tmp_path: Path) -> None:
    err = fails(tmp_path / "nope.yaml")
    assert err.reason == "file not found"


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    err = fails(tmp_path)
    assert err.reason == "not a regular file"


# ---- the CLI ---------------------------------------------------------------------------------


def test_cli_check_config_ok_on_the_demo() -> None:
    result = CliRunner().invoke(cli, ["check-config", "demo"])
    assert result.exit_code == 0, result.output
    summary = load_complex("demo").summary()
    assert result.stdout == f"ok: {summary}\n"
    assert "12 tenants, 16 factories" in result.stdout


def test_cli_check_config_ok_on_a_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check-config", str(write(tmp_path, TINY_TEXT))])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "ok: Tiny Park: 2 zones, 2 tenants, 2 factories, 2 lines, 3 machines, 17 sensors (6 hazard)"
    )


def test_cli_check_config_fails_with_exit_2_file_and_path(tmp_path: Path) -> None:
    text = TINY_TEXT.replace("scrap_rate: 0.02", "scrap_rate: 1.5")
    p = write(tmp_path, text)
    result = CliRunner().invoke(cli, ["check-config", str(p)])
    assert result.exit_code == 2
    assert result.stdout == ""
    line = line_of(text, "scrap_rate: 1.5")
    assert result.stderr.startswith(
        f"error: {p}:{line} at {MACHINE0}.scrap_rate: Input should be less than 1 (got 1.5)"
    )


def test_cli_check_config_fails_on_invalid_yaml(tmp_path: Path) -> None:
    p = write(tmp_path, "version: 1\nsite: {id: x\n")
    result = CliRunner().invoke(cli, ["check-config", str(p)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {p}:")
    assert "invalid YAML" in result.stderr


def test_check_config_as_a_real_process(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "twin", "check-config", "tiny"],
        capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: Tiny Park: 2 zones, 2 tenants")
    text = TINY_TEXT.replace("zone: B\n        position", "zone: Q\n        position")
    bad = write(tmp_path, text)
    res = subprocess.run(
        [sys.executable, "-m", "twin", "check-config", str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2
    assert res.stdout == ""
    assert f"{bad}:" in res.stderr
    assert "at tenants[1].factories[0].zone: unknown zone 'Q'" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_check_config_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check-config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: file not found" in result.stderr
