"""Bridge mapping files: strict, checked against the complex, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.bridges.maps import load_modbus_map, load_opcua_map
from twin.config import load_complex
from twin.errors import ConfigError

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


def test_documented_examples_load(tiny):
    assert len(load_modbus_map(str(EXAMPLES / "modbus-map.yaml"), tiny).points) == 6
    assert len(load_opcua_map(str(EXAMPLES / "opcua-map.yaml"), tiny).nodes) == 5


MODBUS = "version: 1\npoints:\n  - {sensor: alpha-smt-power, table: holding, address: 0, type: float32}\n"
OPCUA = 'version: 1\nnodes:\n  - {node: "ns=2;s=P", sensor: alpha-smt-power}\n'


@pytest.mark.parametrize(
    ("loader", "text", "path", "reason", "line"),
    [
        (load_modbus_map, MODBUS.replace("float32", "float64"), "points[0].type", "Input should be", 3),
        (load_modbus_map, MODBUS.replace(", type: float32", ""), "points[0]", "needs a type", 3),
        (
            load_modbus_map,
            MODBUS.replace("table: holding, address: 0, type: float32", "table: coil, address: 0, type: int16"),
            "points[0]",
            "one bit",
            3,
        ),
        (load_modbus_map, MODBUS.replace("address: 0", "address: 65535"), "points[0]", "runs past register 65535", 3),
        (load_modbus_map, MODBUS.replace("alpha-smt-power", "nope"), "points[0].sensor", "no sensor 'nope'", 3),
        (
            load_modbus_map,
            MODBUS + "  - {sensor: alpha-smt-power, table: input, address: 1, type: int16}\n",
            "points[1].sensor",
            "already mapped at points[0]",
            4,
        ),
        (
            load_modbus_map,
            MODBUS.replace("type: float32", "type: float32, scale: .nan"),
            "points[0].scale",
            "finite",
            3,
        ),
        (load_modbus_map, "version: 1\nunit: 300\n" + MODBUS.split("\n", 1)[1], "unit", "less than or equal to 255", 2),
        (load_opcua_map, OPCUA.replace("ns=2;s=P", "nonsense"), "nodes[0].node", "not an OPC UA NodeId", 3),
        (load_opcua_map, OPCUA.replace("sensor:", "sensr:"), "nodes[0].sensor", "missing required key 'sensor'", 3),
        (load_opcua_map, "version: 1\nnodes: []\n", "nodes", "at least 1 item", 2),
    ],
)
def test_bad_maps_name_file_path_reason_and_line(tmp_path, tiny, loader, text, path, reason, line):
    f = tmp_path / "map.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        loader(str(f), tiny)
    assert (info.value.source, info.value.path, info.value.line) == (str(f), path, line)
    assert reason in info.value.reason
