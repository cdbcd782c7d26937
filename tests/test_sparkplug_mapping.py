"""The Sparkplug mapping file: strict, checked against the complex, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config import load_complex
from twin.errors import ConfigError
from twin.sparkplug.mapping import load_sparkplug_map

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "sparkplug-map.yaml"


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


def test_the_documented_example_loads(tiny):
    m = load_sparkplug_map(str(EXAMPLE), tiny)
    node = m.node("AlphaPlant", "pcb-gateway")
    assert node is not None and node.target("smt", "Counters/Good").sensor_id == "alpha-smt-good"
    assert node.target(None, "Hall/Smoke").device == "alpha-f1"
    assert node.ignored("Diagnostics/CPU") and node.ignored("bdSeq") and not node.ignored("Power")
    assert m.node("Park", "zone-a-safety").target(None, "Seismic").owner == "park"
    assert m.sensor_count == 9


BASE = """version: 1
groups:
  - group: G
    tenant: alpha-elec
    nodes:
      - node: n
        factory: alpha-f1
        devices:
          - device: smt
            metrics:
              Power: alpha-smt-power
"""


@pytest.mark.parametrize(
    ("text", "path", "reason", "line"),
    [
        (
            BASE.replace("Power: alpha-smt-power", "Power: beta-reactor-power"),
            "groups[0].nodes[0].devices[0].metrics.Power",
            "belongs to 'beta-chem', not to this group's tenant",
            11,
        ),
        (
            BASE.replace("Power: alpha-smt-power", "Power: nope"),
            "groups[0].nodes[0].devices[0].metrics.Power",
            "no sensor 'nope' in the complex config",
            11,
        ),
        (
            BASE + "              Watts: alpha-smt-power\n",
            "groups[0].nodes[0].devices[0].metrics.Watts",
            "already mapped at groups[0].nodes[0].devices[0].metrics.Power",
            12,
        ),
        (
            BASE.replace("tenant: alpha-elec", "tenant: gamma"),
            "groups[0].tenant",
            "no tenant 'gamma'",
            4,
        ),
        (
            BASE.replace("factory: alpha-f1", "factory: beta-f1"),
            "groups[0].nodes[0].factory",
            "tenant 'alpha-elec' has no factory 'beta-f1'",
            7,
        ),
        (
            BASE.replace("factory: alpha-f1", "factory: alpha-f1\n        colour: red"),
            "groups[0].nodes[0].colour",
            "unknown key 'colour'",
            8,
        ),
        (BASE.replace("group: G", "group: G/1"), "groups[0].group", "cannot contain '/'", 3),
        (
            BASE.replace(
                "device: smt", "device: smt\n            metrics: {}\n          - device: smt"
            ),
            "groups[0].nodes[0].devices[1].device",
            "device 'smt' appears twice",
            11,
        ),
        (BASE.replace("version: 1", "version: 2"), "version", "Input should be 1", 1),
        (
            BASE.replace("tenant: alpha-elec", "tenant: park"),
            "groups[0].nodes[0].factory",
            "park assets belong to no factory",
            7,
        ),
    ],
)
def test_bad_mapping_files_name_file_path_reason_and_line(tmp_path, tiny, text, path, reason, line):
    f = tmp_path / "map.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sparkplug_map(str(f), tiny)
    err = info.value
    assert (err.source, err.path, err.line) == (str(f), path, line)
    assert reason in err.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("version: 1\nversion: 1\n", "duplicate key 'version'"),
        ("groups: [\n", "invalid YAML"),
    ],
)
def test_unreadable_mapping_files(tmp_path, tiny, text, reason):
    f = tmp_path / "map.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        load_sparkplug_map(str(f), tiny)


def test_missing_file(tmp_path, tiny):
    with pytest.raises(ConfigError, match="file not found"):
        load_sparkplug_map(str(tmp_path / "none.yaml"), tiny)
