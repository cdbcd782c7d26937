"""Modbus decoding and read planning (pure)."""

from __future__ import annotations

import math
import struct

import pytest

from twin.bridges.backoff import Backoff
from twin.bridges.maps import ModbusMap
from twin.bridges.modbus_codec import MAX_REGISTERS, decode_registers, plan_reads, point_value, resolve_points


def regs(fmt: str, value: float, word_order: str = "big", byte_order: str = "big") -> list[int]:
    data = struct.pack(fmt, value)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words[::-1] if word_order == "little" else words


@pytest.mark.parametrize(
    ("type_", "fmt", "value"),
    [
        ("int16", ">h", -1234),
        ("int16", ">h", 32767),
        ("int16", ">h", -32768),
        ("uint16", ">H", 65535),
        ("int32", ">i", -123456789),
        ("int32", ">i", 2**31 - 1),
        ("uint32", ">I", 4_000_000_000),
        ("float32", ">f", 1234.5),
        ("float32", ">f", -0.15625),
    ],
)
@pytest.mark.parametrize("word_order", ["big", "little"])
@pytest.mark.parametrize("byte_order", ["big", "little"])
def test_every_type_in_every_order(type_, fmt, value, word_order, byte_order):
    words = regs(fmt, value, word_order, byte_order)
    assert decode_registers(words, type_, word_order, byte_order) == value


def test_the_four_32_bit_layouts_of_one_value():
    assert decode_registers([0x1122, 0x3344], "uint32", "big", "big") == 0x11223344  # ABCD
    assert decode_registers([0x3344, 0x1122], "uint32", "little", "big") == 0x11223344  # CDAB
    assert decode_registers([0x2211, 0x4433], "uint32", "big", "little") == 0x11223344  # BADC
    assert decode_registers([0x4433, 0x2211], "uint32", "little", "little") == 0x11223344  # DCBA


@pytest.mark.parametrize(("words", "type_"), [([1], "int32"), ([1, 2], "int16"), ([70000], "uint16"), ([-1], "int16")])
def test_wrong_register_counts_or_values_are_refused(words, type_):
    with pytest.raises(ValueError):
        decode_registers(words, type_)


def mb(points: list[dict], **top) -> ModbusMap:
    return ModbusMap.model_validate({"points": points, **top})


def test_scale_offset_and_bits():
    m = mb(
        [
            {"sensor": "a", "table": "holding", "address": 0, "type": "int16", "scale": 0.5, "offset": 10},
            {"sensor": "b", "table": "holding", "address": 1, "type": "float32"},
            {"sensor": "c", "table": "coil", "address": 3},
        ]
    )
    blocks = plan_reads(resolve_points(m))
    hold = next(b for b in blocks if b.table == "holding")
    assert (hold.start, hold.count) == (0, 3)
    data = [0xFFFE, *regs(">f", 2.75)]
    assert [point_value(p, hold, data) for p in hold.points] == [-2 * 0.5 + 10, 2.75]
    coil = next(b for b in blocks if b.table == "coil")
    assert (coil.start, coil.count) == (3, 1)
    assert point_value(coil.points[0], coil, [True]) == 1.0
    nan = regs(">f", math.nan)
    assert point_value(hold.points[1], hold, [0, *nan]) is None


def test_plan_joins_neighbours_and_splits_on_gaps_tables_units_periods_and_size():
    pts = [
        {"sensor": "a", "table": "holding", "address": 0, "type": "uint16"},
        {"sensor": "b", "table": "holding", "address": 1, "type": "int32"},
        {"sensor": "c", "table": "holding", "address": 5, "type": "uint16"},  # gap of 2
        {"sensor": "d", "table": "holding", "address": 6, "type": "uint16", "period_s": 5},
        {"sensor": "e", "table": "holding", "address": 7, "type": "uint16", "unit": 2},
        {"sensor": "f", "table": "input", "address": 0, "type": "uint16"},
        {"sensor": "g", "table": "holding", "address": 0, "type": "uint16"},  # overlap is fine
    ]
    blocks = plan_reads(resolve_points(mb(pts)))
    shape = sorted((b.unit, b.table, b.period_s, b.start, b.count, sorted(p.sensor for p in b.points)) for b in blocks)
    assert shape == [
        (1, "holding", 1.0, 0, 3, ["a", "b", "g"]),
        (1, "holding", 1.0, 5, 1, ["c"]),
        (1, "holding", 5.0, 6, 1, ["d"]),
        (1, "input", 1.0, 0, 1, ["f"]),
        (2, "holding", 1.0, 7, 1, ["e"]),
    ]
    joined = plan_reads(resolve_points(mb(pts[:3])), max_gap=2)
    assert [(b.start, b.count) for b in joined] == [(0, 6)]
    many = [{"sensor": f"s{i}", "table": "input", "address": i, "type": "uint16"} for i in range(300)]
    sizes = [b.count for b in plan_reads(resolve_points(mb(many)))]
    assert sizes == [MAX_REGISTERS, MAX_REGISTERS, 50]


def test_backoff_doubles_to_a_ceiling_and_resets():
    b = Backoff(initial=0.5, maximum=4, jitter=0)
    assert [b.next() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    b.reset()
    assert b.next() == 0.5
    jittered = Backoff(initial=1, maximum=1, jitter=0.5)
    assert all(0.5 <= jittered.next() <= 1 for _ in range(50))
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=0)
