"""Mapping files of the OPC UA and Modbus TCP bridges: which source value feeds which sensor.

Both are strict (unknown keys refused) and checked against the complex config when
loaded: every sensor exists and is mapped once. Errors are :class:`ConfigError` with
the file, the key path, the reason and the line. Examples: docs/examples/*-map.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from twin.mapfile import ModelReferenceError, load_map, parse_map
from twin.model import Complex

__all__ = [
    "OpcUaNode",
    "OpcUaMap",
    "ModbusPoint",
    "ModbusMap",
    "REGISTER_TYPES",
    "load_opcua_map",
    "load_modbus_map",
    "parse_opcua_map",
    "parse_modbus_map",
]

#: Register types and how many 16-bit registers each spans.
REGISTER_TYPES: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
#: Bit tables (one bit per address) and register tables.
BIT_TABLES = frozenset({"coil", "discrete"})
REGISTER_TABLES = frozenset({"holding", "input"})

SensorId = Annotated[str, Field(min_length=1, max_length=64)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _node_id(text: str) -> str:
    """An OPC UA NodeId string as asyncua parses it (``ns=2;s=Line1.Power``, ``i=2258``...)."""
    # imported here: the Modbus map needs no asyncua
    from asyncua import ua
    from asyncua.ua.uaerrors import UaStringParsingError

    try:
        ua.NodeId.from_string(text)
    except (ValueError, UaStringParsingError) as exc:
        raise ValueError(f"not an OPC UA NodeId ({exc}); write e.g. 'ns=2;s=Line1.Power' or 'i=2258'") from None
    return text


class OpcUaNode(_Strict):
    node: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_node_id)]
    sensor: SensorId
    scale: Finite = 1.0
    offset: Finite = 0.0
    #: How often the server samples the node (ms); left out = 0, as fast as the server can.
    sampling_interval_ms: Annotated[float, Field(ge=0, le=3_600_000)] | None = None


class OpcUaMap(_Strict):
    version: Literal[1] = 1
    #: How often the server sends a subscription's notifications.
    publishing_interval_ms: Annotated[float, Field(gt=0, le=3_600_000)] = 500.0
    #: Value changes a monitored item keeps between two notifications (none lost in bursts).
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    nodes: tuple[OpcUaNode, ...] = Field(min_length=1)


class ModbusPoint(_Strict):
    sensor: SensorId
    table: Literal["holding", "input", "coil", "discrete"]
    address: Annotated[int, Field(ge=0, le=65_535)]
    type: Literal["int16", "uint16", "int32", "uint32", "float32", "bool"] | None = None
    word_order: Literal["big", "little"] | None = None
    byte_order: Literal["big", "little"] | None = None
    scale: Finite = 1.0
    offset: Finite = 0.0
    period_s: Annotated[float, Field(gt=0, le=86_400)] | None = None
    unit: Annotated[int, Field(ge=0, le=255)] | None = None

    @model_validator(mode="after")
    def _check(self) -> ModbusPoint:
        if self.table in BIT_TABLES:
            if self.type not in (None, "bool"):
                raise ValueError(f"a {self.table} holds one bit: type must be 'bool' or left out, got {self.type!r}")
            if self.word_order or self.byte_order:
                raise ValueError(f"word_order and byte_order mean nothing for a {self.table}")
        else:
            if self.type is None or self.type == "bool":
                raise ValueError(f"a {self.table} register needs a type: one of {', '.join(REGISTER_TYPES)}")
            if self.address + REGISTER_TYPES[self.type] - 1 > 65_535:
                raise ValueError(f"{self.type} at {self.address} runs past register 65535")
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) the point spans."""
        return 1 if self.type in (None, "bool") else REGISTER_TYPES[self.type]


class ModbusMap(_Strict):
    version: Literal[1] = 1
    unit: Annotated[int, Field(ge=0, le=255)] = 1
    period_s: Annotated[float, Field(gt=0, le=86_400)] = 1.0
    #: Defaults for 32-bit values: "big" = high word first (ABCD); "little" = low word first (CDAB).
    word_order: Literal["big", "little"] = "big"
    #: Bytes within a register: "big" is the Modbus standard; "little" swaps them (BADC / DCBA).
    byte_order: Literal["big", "little"] = "big"
    #: Unmapped registers a read may span to join two points into one request (0: never).
    max_gap: Annotated[int, Field(ge=0, le=100)] = 0
    points: tuple[ModbusPoint, ...] = Field(min_length=1)


def _sensors_checker(c: Complex, items: str) -> Callable[[OpcUaMap | ModbusMap], None]:
    def check(m: OpcUaMap | ModbusMap) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(m, items)):
            path = (items, i, "sensor")
            if item.sensor not in c.sensors:
                raise ModelReferenceError(path, f"no sensor {item.sensor!r} in the complex config")
            if item.sensor in seen:
                raise ModelReferenceError(
                    path, f"sensor {item.sensor!r} is already mapped at {items}[{seen[item.sensor]}]"
                )
            seen[item.sensor] = i

    return check


def parse_opcua_map(data: object, c: Complex, source: str = "<mapping>") -> OpcUaMap:
    return parse_map(data, OpcUaMap, source, None, _sensors_checker(c, "nodes"))


def load_opcua_map(path: str, c: Complex) -> OpcUaMap:
    return load_map(path, OpcUaMap, _sensors_checker(c, "nodes"))


def parse_modbus_map(data: object, c: Complex, source: str = "<mapping>") -> ModbusMap:
    return parse_map(data, ModbusMap, source, None, _sensors_checker(c, "points"))


def load_modbus_map(path: str, c: Complex) -> ModbusMap:
    return load_map(path, ModbusMap, _sensors_checker(c, "points"))
