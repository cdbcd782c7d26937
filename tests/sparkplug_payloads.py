"""Build Sparkplug B payloads for tests (with the twin's own schema; real peers use their own)."""

from __future__ import annotations

from typing import Any

from twin.sparkplug.schema import DataType, Payload

_FIELD = {
    DataType.FLOAT: "float_value",
    DataType.DOUBLE: "double_value",
    DataType.BOOLEAN: "boolean_value",
    DataType.STRING: "string_value",
    DataType.TEXT: "string_value",
    DataType.INT64: "long_value",
    DataType.UINT64: "long_value",
    DataType.DATETIME: "long_value",
}


def metric(
    name: str | None = None,
    value: Any = None,
    datatype: DataType = DataType.DOUBLE,
    *,
    alias: int | None = None,
    ts: int | None = None,
    historical: bool = False,
    null: bool = False,
    typed: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "datatype": datatype,
        "alias": alias,
        "ts": ts,
        "historical": historical,
        "null": null,
        "typed": typed,
    }


def payload(metrics: list[dict[str, Any]], ts: int | None = None, seq: int | None = None) -> bytes:
    p = Payload()
    if ts is not None:
        p.timestamp = ts
    if seq is not None:
        p.seq = seq
    for spec in metrics:
        m = p.metrics.add()
        if spec["name"] is not None:
            m.name = spec["name"]
        if spec["alias"] is not None:
            m.alias = spec["alias"]
        if spec["ts"] is not None:
            m.timestamp = spec["ts"]
        if spec["typed"]:
            m.datatype = spec["datatype"]
        if spec["historical"]:
            m.is_historical = True
        if spec["null"]:
            m.is_null = True
            continue
        if spec["value"] is None:
            continue
        dt = spec["datatype"]
        field = _FIELD.get(dt, "int_value")
        value = spec["value"]
        if field in ("int_value", "long_value") and isinstance(value, int) and value < 0:
            value += 1 << (32 if field == "int_value" else 64)  # two's complement, as the spec says
        setattr(m, field, value)
    return bytes(p.SerializeToString())


def birth(metrics: list[dict[str, Any]], ts: int, bd_seq: int | None = None, seq: int = 0) -> bytes:
    if bd_seq is not None:
        metrics = [*metrics, metric("bdSeq", bd_seq, DataType.INT64)]
    return payload(metrics, ts, seq)
