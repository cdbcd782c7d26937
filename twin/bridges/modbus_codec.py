"""Modbus decoding and read planning, pure: registers in, numbers out.

A Modbus register is 16 bits, sent big-endian. 32-bit values span two registers; devices
disagree on their order, hence ``word_order`` (which register holds the high half) and
``byte_order`` (whether each register's two bytes are swapped):

============  ==========  ==========  =====================================
word_order    byte_order  name        bytes of 0x11223344 in registers r0, r1
============  ==========  ==========  =====================================
big           big         ABCD        r0 = 0x1122, r1 = 0x3344 (Modbus default)
little        big         CDAB        r0 = 0x3344, r1 = 0x1122
big           little      BADC        r0 = 0x2211, r1 = 0x4433
little        little      DCBA        r0 = 0x4433, r1 = 0x2211
============  ==========  ==========  =====================================

A point's value is ``raw * scale + offset``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from twin.bridges.maps import BIT_TABLES, ModbusMap, ModbusPoint

__all__ = [
    "Resolved",
    "ReadBlock",
    "resolve_points",
    "plan_reads",
    "decode_registers",
    "point_value",
    "MAX_REGISTERS",
    "MAX_BITS",
]

#: Most registers / bits one Modbus read may return (the protocol's own limits).
MAX_REGISTERS = 125
MAX_BITS = 2000

_FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}


@dataclass(frozen=True, slots=True)
class Resolved:
    """A point with the map's defaults filled in."""

    sensor: str
    table: str
    address: int
    type: str  # "bool" for coils and discrete inputs
    word_order: str
    byte_order: str
    scale: float
    offset: float
    period_s: float
    unit: int

    @property
    def width(self) -> int:
        return 2 if self.type in ("int32", "uint32", "float32") else 1


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One Modbus request: ``count`` registers or bits of ``table`` from ``start``."""

    unit: int
    table: str
    start: int
    count: int
    period_s: float
    points: tuple[Resolved, ...]


def resolve_points(m: ModbusMap) -> list[Resolved]:
    return [_resolve(p, m) for p in m.points]


def _resolve(p: ModbusPoint, m: ModbusMap) -> Resolved:
    return Resolved(
        sensor=p.sensor,
        table=p.table,
        address=p.address,
        type="bool" if p.table in BIT_TABLES else str(p.type),
        word_order=p.word_order or m.word_order,
        byte_order=p.byte_order or m.byte_order,
        scale=p.scale,
        offset=p.offset,
        period_s=p.period_s or m.period_s,
        unit=m.unit if p.unit is None else p.unit,
    )


def plan_reads(points: Sequence[Resolved], max_gap: int = 0) -> list[ReadBlock]:
    """Group points into as few requests as the protocol allows.

    Points join a request only if they share unit, table and period, and the request
    stays within the size limit and spans at most ``max_gap`` unmapped addresses between
    them (devices often refuse reads of addresses they do not have).
    """
    groups: dict[tuple[int, str, float], list[Resolved]] = {}
    for p in points:
        groups.setdefault((p.unit, p.table, p.period_s), []).append(p)
    blocks: list[ReadBlock] = []
    for (unit, table, period), pts in sorted(groups.items()):
        limit = MAX_BITS if table in BIT_TABLES else MAX_REGISTERS
        pts.sort(key=lambda p: (p.address, p.width))
        current: list[Resolved] = []
        start = end = 0  # end is exclusive
        for p in pts:
            p_end = p.address + p.width
            if current and p.address <= end + max_gap and max(end, p_end) - start <= limit:
                current.append(p)
                end = max(end, p_end)
                continue
            if current:
                blocks.append(ReadBlock(unit, table, start, end - start, period, tuple(current)))
            current, start, end = [p], p.address, p_end
        if current:
            blocks.append(ReadBlock(unit, table, start, end - start, period, tuple(current)))
    return blocks


def decode_registers(regs: Sequence[int], type_: str, word_order: str = "big", byte_order: str = "big") -> float:
    """The number ``regs`` (one or two 16-bit registers) hold as ``type_``."""
    words = list(regs)
    if len(words) != (2 if type_ in ("int32", "uint32", "float32") else 1):
        raise ValueError(f"{type_} needs {2 if len(words) == 1 else 1} register(s), got {len(words)}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise ValueError(f"registers are 16-bit, got {words}")
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return float(struct.unpack(_FORMATS[type_], data)[0])


def point_value(p: Resolved, block: ReadBlock, data: Sequence[int] | Sequence[bool]) -> float | None:
    """The scaled value of ``p`` in a block's response, or None if it is not a finite number."""
    i = p.address - block.start
    if p.type == "bool":
        raw = 1.0 if data[i] else 0.0
    else:
        raw = decode_registers([int(x) for x in data[i : i + p.width]], p.type, p.word_order, p.byte_order)
    value = raw * p.scale + p.offset if (p.scale != 1.0 or p.offset != 0.0) else raw
    return value if math.isfinite(value) else None
