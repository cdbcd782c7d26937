"""The Sparkplug B payload schema, built in code on a private protobuf descriptor pool.

Field names and numbers are those of the Sparkplug B specification (Eclipse Sparkplug
3.0, payload ``org.eclipse.tahu.protobuf.Payload``), so any conforming edge node's
bytes parse here. Building the descriptor in code needs no ``protoc`` and no generated
module, and a private pool never clashes with another library that registers its own
``sparkplug_b.proto`` in protobuf's default pool.

Only what the twin reads is typed in full: scalar values, names, aliases, timestamps,
flags. DataSet, Template, MetaData, PropertySet and extension values are declared as
``bytes`` fields with the same numbers: wire-compatible (all are length-delimited), and
the twin stores none of them (such metrics are dead letters of type ``unsupported_type``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # type: ignore[import-untyped]

__all__ = ["DataType", "Payload", "Metric", "NUMERIC_TYPES", "SIGNED_BITS"]

_PACKAGE = "org.eclipse.tahu.protobuf"

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED


class DataType(IntEnum):
    """Sparkplug B metric datatypes (the ``datatype`` field of a metric)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTYSET = 20
    PROPERTYSETLIST = 21


#: Datatypes whose values the twin stores as numbers (booleans as 0 and 1).
NUMERIC_TYPES = frozenset(
    {
        DataType.INT8,
        DataType.INT16,
        DataType.INT32,
        DataType.INT64,
        DataType.UINT8,
        DataType.UINT16,
        DataType.UINT32,
        DataType.UINT64,
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.BOOLEAN,
    }
)
#: Signed integer types and their width: they travel as two's complement in unsigned fields.
SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}


def _field(
    name: str,
    number: int,
    ftype: int,
    label: int = _OPTIONAL,
    type_name: str = "",
    oneof: int | None = None,
) -> Any:
    f = _F(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof
    return f


def _build() -> tuple[Any, Any]:
    T = _F  # noqa: N806 - short alias for the type constants
    metric = descriptor_pb2.DescriptorProto(name="Metric")
    metric.field.extend(
        [
            _field("name", 1, T.TYPE_STRING),
            _field("alias", 2, T.TYPE_UINT64),
            _field("timestamp", 3, T.TYPE_UINT64),
            _field("datatype", 4, T.TYPE_UINT32),
            _field("is_historical", 5, T.TYPE_BOOL),
            _field("is_transient", 6, T.TYPE_BOOL),
            _field("is_null", 7, T.TYPE_BOOL),
            _field("metadata", 8, T.TYPE_BYTES),
            _field("properties", 9, T.TYPE_BYTES),
            _field("int_value", 10, T.TYPE_UINT32, oneof=0),
            _field("long_value", 11, T.TYPE_UINT64, oneof=0),
            _field("float_value", 12, T.TYPE_FLOAT, oneof=0),
            _field("double_value", 13, T.TYPE_DOUBLE, oneof=0),
            _field("boolean_value", 14, T.TYPE_BOOL, oneof=0),
            _field("string_value", 15, T.TYPE_STRING, oneof=0),
            _field("bytes_value", 16, T.TYPE_BYTES, oneof=0),
            _field("dataset_value", 17, T.TYPE_BYTES, oneof=0),
            _field("template_value", 18, T.TYPE_BYTES, oneof=0),
            _field("extension_value", 19, T.TYPE_BYTES, oneof=0),
        ]
    )
    metric.oneof_decl.add(name="value")
    payload = descriptor_pb2.DescriptorProto(name="Payload")
    payload.field.extend(
        [
            _field("timestamp", 1, T.TYPE_UINT64),
            _field("metrics", 2, T.TYPE_MESSAGE, _REPEATED, f".{_PACKAGE}.Payload.Metric"),
            _field("seq", 3, T.TYPE_UINT64),
            _field("uuid", 4, T.TYPE_STRING),
            _field("body", 5, T.TYPE_BYTES),
        ]
    )
    payload.nested_type.append(metric)
    fdp = descriptor_pb2.FileDescriptorProto(
        name="twin_sparkplug_b.proto", package=_PACKAGE, syntax="proto2", message_type=[payload]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    payload_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.Payload"))
    metric_cls = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.Payload.Metric")
    )
    return payload_cls, metric_cls


#: Message classes: ``Payload.FromString(data)``, ``Payload(timestamp=..., metrics=[...])``.
Payload, Metric = _build()
