"""Sparkplug B ingest: edge nodes' births, data and deaths into the historian.

The pure parts (:mod:`~twin.sparkplug.topic`, :mod:`~twin.sparkplug.schema`,
:mod:`~twin.sparkplug.mapping`, :mod:`~twin.sparkplug.decoder`) do no I/O; the MQTT
service is :mod:`twin.sparkplug.service` (``twin sparkplug``). See docs/devices.md.
"""

from twin.sparkplug.decoder import (
    DecoderSettings,
    RebirthRequest,
    SparkplugDecoded,
    SparkplugDecoder,
    SpReason,
    SpRejection,
    StatusChange,
    encode_rebirth_request,
)
from twin.sparkplug.mapping import MetricMap, load_sparkplug_map, parse_sparkplug_map
from twin.sparkplug.schema import DataType, Payload
from twin.sparkplug.topic import MessageType, parse_topic

__all__ = [
    "DataType",
    "DecoderSettings",
    "MessageType",
    "MetricMap",
    "Payload",
    "RebirthRequest",
    "SparkplugDecoded",
    "SparkplugDecoder",
    "SpReason",
    "SpRejection",
    "StatusChange",
    "encode_rebirth_request",
    "load_sparkplug_map",
    "parse_sparkplug_map",
    "parse_topic",
]
